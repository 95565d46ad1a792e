"""Drift: members whose platform state differs from what the saved mapping says, and what
a draft mapping changes compared with the saved one. Reads only; the core decides.

Both use the plan of the saved mapping against the live mirror and platform state, made
like a preview (no fingerprint, no loss budget): its operations are the differences.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from mappings.directory import Directory
from mappings.mapping import RoleMapping
from mappings.operations import Operation, Plan
from mappings.planner import plan_changes
from mappings.resolve import resolve
from mappings.rolemodel import RoleModel
from mappings.state import PlatformState
from sync.errors import NotFound
from sync.mirror import load_directory
from sync.store.mappings import current_mapping, parse_document
from sync.store.orgs import get_org, role_model_for
from sync.store.platform import load_state

__all__ = ["DraftChanges", "Drift", "draft_changes", "org_drift"]


@dataclass(frozen=True, slots=True)
class Drift:
    """The saved mapping's plan (None: no mapping saved) and its operations per user."""

    plan: Plan | None
    by_user: Mapping[str, tuple[Operation, ...]] = field(default_factory=dict)

    @property
    def count(self) -> int:
        """How many members (or people to invite) differ from the mapping's answer."""
        return len(self.by_user)


@dataclass(frozen=True, slots=True)
class DraftChanges:
    """A draft's plan split against the saved mapping's: what the edit causes, what it
    undoes (planned under the saved mapping, not under the draft), and what is pending
    either way."""

    draft: Plan
    caused: tuple[Operation, ...]
    undone: tuple[Operation, ...]
    pending: tuple[Operation, ...]
    saved_version: int | None


def _plan(
    directory: Directory,
    state: PlatformState,
    mapping: RoleMapping,
    model: RoleModel,
    now: datetime,
) -> Plan:
    desired = resolve(directory, mapping, model)
    return plan_changes(desired, state, mapping.policy, model, now=now)


def _by_user(plan: Plan) -> dict[str, tuple[Operation, ...]]:
    out: dict[str, list[Operation]] = {}
    for op in plan.operations:
        if op.user:
            out.setdefault(op.user, []).append(op)
    return {user: tuple(ops) for user, ops in out.items()}


def org_drift(session: Session, org_id: int, *, now: datetime) -> Drift:
    """Who differs from the saved mapping's answer, and how."""
    try:
        current = current_mapping(session, org_id)
    except NotFound:
        return Drift(None)
    model = role_model_for(get_org(session, org_id).role_model)
    state = load_state(session, org_id)
    plan = _plan(load_directory(session, org_id), state, current.mapping, model, now)
    return Drift(plan, _by_user(plan))


def _key(op: Operation) -> tuple[object, ...]:
    """What an operation does, without the why."""
    return (op.op, op.user, op.workspace, op.org_role, op.from_, op.to, op.roles)


def draft_changes(session: Session, org_id: int, document: str, *, now: datetime) -> DraftChanges:
    """The draft's plan, split against the saved mapping's (``InputError`` if invalid)."""
    org = get_org(session, org_id)
    model = role_model_for(org.role_model)
    draft = parse_document(document, org.role_model)
    directory, state = load_directory(session, org_id), load_state(session, org_id)
    plan = _plan(directory, state, draft, model, now)
    try:
        current = current_mapping(session, org_id)
    except NotFound:
        return DraftChanges(plan, plan.operations, (), (), None)
    saved_ops = _plan(directory, state, current.mapping, model, now).operations
    saved = {_key(op) for op in saved_ops}
    drafted = {_key(op) for op in plan.operations}
    return DraftChanges(
        plan,
        caused=tuple(op for op in plan.operations if _key(op) not in saved),
        undone=tuple(op for op in saved_ops if _key(op) not in drafted),
        pending=tuple(op for op in plan.operations if _key(op) in saved),
        saved_version=current.version,
    )
