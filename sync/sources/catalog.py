"""The sources an org has configured: list them with their last run, show one, find the
pulled ones, find one to run now (adding and changing one is ``sync.services.sources``).
Secrets are never listed, only the form they are stored in (sealed, or an env:/file:
reference)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mappings.errors import InputError
from sync.errors import NotFound
from sync.models import Organisation, Source
from sync.sources.registry import PULL_KINDS
from sync.store.runs import RunRecord, last_run, run_json

__all__ = [
    "SourceDetail",
    "SourceListing",
    "SourceRef",
    "list_sources",
    "org_sources",
    "pullable_source",
    "pulled_sources",
    "detail_json",
    "detail_of",
    "secret_form",
    "source_detail",
    "source_json",
]


@dataclass(frozen=True, slots=True)
class SourceRef:
    """A source by its id, name and kind."""

    id: int
    org_id: int
    name: str
    kind: str


@dataclass(frozen=True, slots=True)
class SourceListing:
    """A source as listed: never its secret, only the form it is stored in."""

    org: str
    id: int
    name: str
    kind: str
    schedule: str | None
    enabled: bool
    secret_form: str
    last_run: RunRecord | None


def secret_form(secret: str | None) -> str:
    """How a secret is stored, for display: its env:/file: reference, or ``encrypted``."""
    value = secret or ""
    return value if value.startswith(("env:", "file:")) else ("encrypted" if value else "")


def list_sources(session: Session, org_id: int | None = None) -> list[SourceListing]:
    """Every source (or the org's) by id, with its last run."""
    query = select(Source, Organisation.name).join(Organisation)
    if org_id is not None:
        query = query.where(Source.org_id == org_id)
    return [
        SourceListing(
            org_name,
            source.id,
            source.name,
            source.kind,
            source.schedule,
            source.enabled,
            secret_form(source.secret),
            last_run(session, source.org_id, source.id),
        )
        for source, org_name in session.execute(query.order_by(Source.id))
    ]


def org_sources(session: Session, org_id: int) -> list[SourceListing]:
    """The org's sources by name, with their last run."""
    return sorted(list_sources(session, org_id), key=lambda listed: listed.name)


def source_json(listed: SourceListing) -> dict[str, object]:
    """A source as the API shows it."""
    last = listed.last_run
    return {
        "name": listed.name,
        "kind": listed.kind,
        "schedule": listed.schedule,
        "enabled": listed.enabled,
        "last_run": run_json(last) if last else None,
    }


def pulled_sources(session: Session, org_id: int, name: str | None = None) -> list[SourceRef]:
    """The org's sources pulled from an IdP's API (only ``name`` when given), by id."""
    query = select(Source).where(Source.org_id == org_id, Source.kind.in_(PULL_KINDS))
    if name:
        query = query.where(Source.name == name)
    return [
        SourceRef(s.id, s.org_id, s.name, s.kind)
        for s in session.scalars(query.order_by(Source.id))
    ]


def pullable_source(session: Session, org_id: int, name: str) -> SourceRef:
    """The org's source called ``name`` if it can be pulled now: ``NotFound`` when the
    org has none, ``InputError`` for the pushed (SCIM) source."""
    source = session.scalar(select(Source).where(Source.org_id == org_id, Source.name == name))
    if source is None:
        raise NotFound(f"no source named {name!r}", "name")
    if source.kind not in PULL_KINDS:
        detail = "a pushed (SCIM) source has nothing to pull; create a plan instead"
        raise InputError(detail, "name")
    return SourceRef(source.id, org_id, source.name, source.kind)


@dataclass(frozen=True, slots=True)
class SourceDetail:
    """One source as its page shows it: its settings, and only whether a secret is set."""

    listing: SourceListing
    config: dict[str, Any]
    has_secret: bool
    run_requested: bool


def detail_of(session: Session, row: Source) -> SourceDetail:
    """The source ``row`` as a value, read in the caller's transaction (a service hands
    this back after a change, never the row)."""
    org = session.get(Organisation, row.org_id)
    listed = SourceListing(
        org.name if org is not None else "",
        row.id,
        row.name,
        row.kind,
        row.schedule,
        row.enabled,
        secret_form(row.secret),
        last_run(session, row.org_id, row.id),
    )
    return SourceDetail(
        listed, dict(row.config), bool(row.secret), row.run_requested_at is not None
    )


def source_detail(session: Session, org_id: int, name: str) -> SourceDetail:
    """The org's source called ``name`` with its settings; ``NotFound`` when it has none."""
    row = session.scalar(select(Source).where(Source.org_id == org_id, Source.name == name))
    if row is None:
        raise NotFound(f"no source named {name!r}", "name")
    return detail_of(session, row)


def detail_json(detail: SourceDetail) -> dict[str, Any]:
    """A source as the API shows it after a change: ``source_json`` and its settings,
    only whether a secret is set, and whether a run is waiting."""
    return {
        **source_json(detail.listing),
        "config": dict(detail.config),
        "has_secret": detail.has_secret,
        "run_requested": detail.run_requested,
    }
