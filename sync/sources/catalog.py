"""The sources an org has configured: add one, list them with their last run, find the
pulled ones. Secrets arrive already sealed (or as env:/file: references)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sync.errors import Conflict
from sync.models import Organisation, Source, SyncRun
from sync.sources.factory import PULL_KINDS

__all__ = ["SourceListing", "add_source", "list_sources", "pulled_sources", "secret_form"]


@dataclass(frozen=True, slots=True)
class SourceListing:
    """A source as listed: never its secret, only the form it is stored in."""

    org: str
    source: Source
    secret_form: str
    last_run: SyncRun | None


def add_source(
    session: Session,
    org_id: int,
    name: str,
    kind: str,
    config: dict[str, Any],
    secret: str,
    schedule: str | None,
) -> Source:
    """Add a source to the org; ``Conflict`` when the org already has one of that name."""
    taken = select(Source.id).where(Source.org_id == org_id, Source.name == name)
    if session.scalar(taken) is not None:
        org = session.get(Organisation, org_id)
        raise Conflict(f"organisation {org.name if org else org_id!r} already has a source "
                       f"named {name!r}")  # fmt: skip
    source = Source(
        org_id=org_id, name=name, kind=kind, config=config, secret=secret, schedule=schedule
    )
    session.add(source)
    session.flush()
    return source


def secret_form(secret: str | None) -> str:
    """How a secret is stored, for display: its env:/file: reference, or ``encrypted``."""
    value = secret or ""
    return value if value.startswith(("env:", "file:")) else ("encrypted" if value else "")


def list_sources(session: Session, org_id: int | None = None) -> list[SourceListing]:
    """Every source (or the org's) by id, with its last run."""
    query = select(Source, Organisation.name).join(Organisation)
    if org_id is not None:
        query = query.where(Source.org_id == org_id)
    listed = []
    for source, org_name in session.execute(query.order_by(Source.id)):
        last = session.scalar(
            select(SyncRun)
            .where(SyncRun.source_id == source.id)
            .order_by(SyncRun.id.desc())
            .limit(1)
        )
        listed.append(SourceListing(org_name, source, secret_form(source.secret), last))
    return listed


def pulled_sources(session: Session, org_id: int, name: str | None = None) -> list[Source]:
    """The org's sources pulled from an IdP's API (only ``name`` when given), by id."""
    query = select(Source).where(Source.org_id == org_id, Source.kind.in_(PULL_KINDS))
    if name:
        query = query.where(Source.name == name)
    return list(session.scalars(query.order_by(Source.id)))
