"""Draft mappings on the live directory: preview a plan, explain a user, diff versions.

Nothing here writes: a preview reads the mirror and the platform state in the caller's
transaction, lets the core decide, and returns the plan. Saving is ``mappingstore``'s.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mappings.directory import Directory
from mappings.explain import Explanation, explain
from mappings.mapping import RoleMapping
from mappings.operations import Plan
from mappings.planner import plan_changes
from mappings.resolve import resolve
from mappings.rolemodel import RoleModel
from mappings.state import PlatformState
from sync.errors import NotFound
from sync.mirror import load_directory
from sync.models import MappingVersion, utcnow
from sync.reconcile import gather
from sync.store.mappings import current_mapping, parse_document
from sync.store.orgs import get_org, role_model_for, role_model_of
from sync.store.platform import load_state

__all__ = [
    "VersionDiff",
    "diff_versions",
    "explain_user",
    "explanation_json",
    "org_inputs",
    "preview_draft",
    "version_document",
]


@dataclass(frozen=True, slots=True)
class VersionDiff:
    """A unified diff between two saved mapping versions."""

    base: int
    other: int
    diff: str


def _mapping(session: Session, org_id: int, document: str | None) -> tuple[RoleMapping, RoleModel]:
    org = get_org(session, org_id)
    model = role_model_for(org.role_model)
    if document is None:
        return current_mapping(session, org_id).mapping, model
    return parse_document(document, org.role_model), model


def org_inputs(
    session: Session, org_id: int, draft: RoleMapping | None = None
) -> tuple[RoleMapping, RoleModel, Directory, PlatformState]:
    """(mapping, role model, directory, state) of an org; ``draft`` replaces its saved mapping."""
    model = role_model_of(session, org_id)
    if draft is None:
        inputs = gather(session, org_id)
        return inputs.mapping, model, inputs.directory, inputs.state
    return draft, model, load_directory(session, org_id), load_state(session, org_id)


def preview_draft(
    session: Session, org_id: int, document: str, *, now: datetime | None = None
) -> Plan:
    """The plan a draft mapping would make against the live mirror and platform state.

    A preview is never applied, so it carries no fingerprint (saving the mapping and
    making a plan does); that spares hashing every input on each keystroke.
    """
    mapping, model = _mapping(session, org_id, document)
    desired = resolve(load_directory(session, org_id), mapping, model)
    state = load_state(session, org_id)
    return plan_changes(desired, state, mapping.policy, model, now=now or utcnow())


def explain_user(
    session: Session, org_id: int, user: str, document: str | None = None
) -> Explanation:
    """Why ``user`` gets each role under the saved mapping (or a draft), and what lost."""
    mapping, model = _mapping(session, org_id, document)
    return explain(load_directory(session, org_id), mapping, model, user)


def explanation_json(explanation: Explanation) -> dict[str, Any]:
    """The explanation's JSON, each winning grant also listing the grants it won over."""
    out = explanation.to_dict()
    for grant, raw in zip(explanation.grants, out["grants"], strict=True):
        raw["won_over"] = [
            {"role": g.role, "rule": g.rule, "rule_text": g.rule_text, "groups": list(g.groups)}
            for g in explanation.grants
            if grant.won
            and not g.won
            and g.workspace == grant.workspace
            and g.beaten_by == grant.role
        ]
    return out


def version_document(session: Session, org_id: int, version: int) -> str:
    """The text of one saved mapping version; ``NotFound`` otherwise."""
    text = session.scalar(
        select(MappingVersion.document).where(
            MappingVersion.org_id == org_id, MappingVersion.version == version
        )
    )
    if text is None:
        raise NotFound(f"no mapping version {version}")
    return text


def diff_versions(session: Session, org_id: int, base: int, other: int) -> VersionDiff:
    """The unified diff from version ``base`` to version ``other``."""
    a = version_document(session, org_id, base).splitlines(keepends=True)
    b = version_document(session, org_id, other).splitlines(keepends=True)
    lines = difflib.unified_diff(a, b, f"version {base}", f"version {other}")
    return VersionDiff(base, other, "".join(lines))
