"""Versioned mapping documents: each save is checked against the org's role model and
becomes the next version; reconciliation uses the newest."""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import yaml
from sqlalchemy import ColumnElement, bindparam, func, select
from sqlalchemy.orm import Session

from mappings.errors import InputError, MappingError
from mappings.mapping import RoleMapping, parse_mapping, pattern_count
from sync.errors import NotFound
from sync.models import MappingVersion, Organisation
from sync.nesting import load_yaml
from sync.regex_engine import MAX_MEMORY, re2_engine
from sync.store.orgs import get_org, role_model_for

__all__ = [
    "PARSED_BUDGET",
    "CurrentMapping",
    "ParsedMappings",
    "current_mapping",
    "latest_version",
    "VersionInfo",
    "list_versions",
    "org_and_mapping",
    "org_mapping_and",
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
    org, found = org_and_mapping(session, org_id)
    if found is None:
        raise NotFound(
            f"{org.name} has no mapping yet: save one with `rolebridge mapping set --org "
            f"{org.name} FILE`"
        )
    return found


def org_and_mapping(session: Session, org_id: int) -> tuple[Organisation, CurrentMapping | None]:
    """The org's row and its newest mapping (``None`` when none was saved yet), in one
    statement. ``NotFound`` when there is no such org."""
    org, current, _ = org_mapping_and(session, org_id, None)
    return org, current


def org_mapping_and(
    session: Session, org_id: int, also: ColumnElement[Any] | None
) -> tuple[Organisation, CurrentMapping | None, Any]:
    """``org_and_mapping`` and the value of one more column of the caller's (``also``, a
    scalar subquery bound to ``:org``, built once: a SCIM write asks whether a plan of the
    org waits), in one statement."""
    found = session.execute(_org_mapping_statement(also), {"org": org_id}).one_or_none()
    if found is None:
        raise NotFound(f"no organisation {org_id!r}")
    org, row = found[0], found[1]
    extra = found[2] if also is not None else None
    if row is None:
        return org, None, extra
    parsed = _PARSED.get(row.document, org.role_model)
    return org, CurrentMapping(row.version, parsed, row.document), extra


@functools.cache
def _org_mapping_statement(also: ColumnElement[Any] | None) -> Any:
    """The statement of ``org_mapping_and``, built once per ``also`` (building a SELECT
    costs about as much CPU as running it; a column's hash is its identity)."""
    columns: list[Any] = [Organisation, MappingVersion]
    if also is not None:
        columns.append(also)
    return (
        select(*columns)
        .outerjoin(MappingVersion, MappingVersion.org_id == Organisation.id)
        .where(Organisation.id == bindparam("org"))
        .order_by(MappingVersion.version.desc())
        .limit(1)
    )


PARSED_BUDGET = 256 << 20
"""Bytes, worst case, of the parsed mappings a process keeps (``ParsedMappings``)."""


class ParsedMappings:
    """``parse_document`` of stored (so already checked) documents, kept per process:
    every SCIM write reads the current mapping, and a ``RoleMapping`` is immutable.

    Keyed by document and role model, so orgs saving the same document share one. Each
    entry weighs what it may hold at worst: RE2's ``MAX_MEMORY`` per compiled pattern
    plus its document's length (the parsed structure's rough size). Past ``budget`` in
    all, the least recently used are dropped; the one just parsed is kept even when it
    alone weighs more. Thread-safe: a parse runs outside the lock, and two threads
    parsing the same document at once keep the first copy."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.weight = 0
        self._entries: OrderedDict[tuple[str, str], tuple[RoleMapping, int]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: tuple[str, str]) -> bool:
        return key in self._entries

    def get(self, text: str, role_model: str) -> RoleMapping:
        """The parsed ``text`` for ``role_model``: kept, or parsed now and kept."""
        key = (text, role_model)
        with self._lock:
            kept = self._hit(key)
        if kept is not None:
            return kept
        mapping = parse_document(text, role_model)
        weight = pattern_count(mapping) * MAX_MEMORY + len(text)
        with self._lock:
            kept = self._hit(key)  # parsed meanwhile by another thread
            if kept is not None:
                return kept
            self._entries[key] = (mapping, weight)
            self.weight += weight
            while self.weight > self.budget and len(self._entries) > 1:
                _, (_, dropped) = self._entries.popitem(last=False)
                self.weight -= dropped
        return mapping

    def _hit(self, key: tuple[str, str]) -> RoleMapping | None:
        found = self._entries.get(key)
        if found is None:
            return None
        self._entries.move_to_end(key)
        return found[0]


_PARSED = ParsedMappings(PARSED_BUDGET)


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
