"""Versioned mapping documents: each save is checked against the org's role model and
becomes the next version; reconciliation uses the newest."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import yaml
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mappings.errors import InputError, MappingError
from mappings.mapping import RoleMapping, parse_mapping
from sync.errors import NotFound
from sync.models import MappingVersion
from sync.nesting import load_yaml
from sync.regex_engine import re2_engine
from sync.store.orgs import get_org, role_model_for

__all__ = [
    "CurrentMapping",
    "current_mapping",
    "latest_version",
    "VersionInfo",
    "list_versions",
    "parse_document",
    "save_mapping",
]


@dataclass(frozen=True, slots=True)
class CurrentMapping:
    """The newest saved mapping of an org, parsed, with its version number."""

    version: int
    mapping: RoleMapping
    document: str


def parse_document(text: str, role_model: str) -> RoleMapping:
    """Parse mapping YAML (or JSON) for an org on ``role_model``; errors name the place."""
    try:
        doc: Any = load_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise InputError(f"not valid YAML: {getattr(exc, 'problem', exc)}", where) from None
    if not isinstance(doc, dict):
        raise MappingError("a mapping must be an object", "$")
    named = doc.get("role_model")
    if isinstance(named, str) and named != role_model:
        raise MappingError(f"the organisation uses {role_model!r}, not {named!r}", "role_model")
    return parse_mapping(doc, role_model_for(role_model), engine=re2_engine)  # tenant input


def latest_version(session: Session, org_id: int) -> int:
    """The org's newest mapping version number; 0 when none was saved yet."""
    latest = session.scalar(
        select(func.max(MappingVersion.version)).where(MappingVersion.org_id == org_id)
    )
    return int(latest or 0)


def save_mapping(
    session: Session, org_id: int, document: str, *, created_by: str = ""
) -> MappingVersion:
    """Check ``document`` and store it as the org's next mapping version."""
    org = get_org(session, org_id)
    parse_document(document, org.role_model)
    latest = session.scalar(
        select(func.max(MappingVersion.version)).where(MappingVersion.org_id == org_id)
    )
    row = MappingVersion(
        org_id=org_id, version=(latest or 0) + 1, document=document, created_by=created_by
    )
    session.add(row)
    session.flush()
    return row


def current_mapping(session: Session, org_id: int) -> CurrentMapping:
    """The newest mapping of the org; ``NotFound`` when none was saved yet."""
    org = get_org(session, org_id)
    found = mapping_or_none(session, org_id)
    if found is None:
        raise NotFound(
            f"{org.name} has no mapping yet: save one with `rolebridge mapping set --org "
            f"{org.name} FILE`"
        )
    return found


def mapping_or_none(session: Session, org_id: int) -> CurrentMapping | None:
    """The newest mapping of the org; ``None`` when none was saved yet."""
    org = get_org(session, org_id)
    row = session.scalar(
        select(MappingVersion)
        .where(MappingVersion.org_id == org_id)
        .order_by(MappingVersion.version.desc())
        .limit(1)
    )
    if row is None:
        return None
    return CurrentMapping(row.version, _parsed(row.document, org.role_model), row.document)


@functools.lru_cache(maxsize=256)
def _parsed(text: str, role_model: str) -> RoleMapping:
    """``parse_document`` of a stored (so already checked) document, once per process:
    every SCIM write reads the current mapping, and a ``RoleMapping`` is immutable."""
    return parse_document(text, role_model)


@dataclass(frozen=True, slots=True)
class VersionInfo:
    """A saved version of a mapping as listed: its number, who saved it and when."""

    version: int
    created_by: str
    created_at: datetime


def list_versions(session: Session, org_id: int) -> list[VersionInfo]:
    """Every saved version of the org's mapping, newest first."""
    rows = session.execute(
        select(MappingVersion.version, MappingVersion.created_by, MappingVersion.created_at)
        .where(MappingVersion.org_id == org_id)
        .order_by(MappingVersion.version.desc())
    )
    return [VersionInfo(v, by, at) for v, by, at in rows]
