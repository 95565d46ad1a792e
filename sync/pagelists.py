"""The admin pages' lists, one page at a time with the total that matches: audit entries
(by operation, actor, user, time), runs (by trigger and outcome, empty runs left out
unless asked), and the last run of each source (a SCIM source's runs are the SCIM
writes' reconciles)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from mappings.state import format_time
from sync.models import AuditEntry, Source, SyncRun
from sync.store.runs import RunRecord, run_json

__all__ = [
    "AuditFilter",
    "Page",
    "RunFilter",
    "audit_page",
    "audit_rows",
    "last_runs",
    "run_outcomes",
    "runs_page",
]

SCIM_TRIGGER = "scim"  # the trigger of a SCIM write's reconcile


@dataclass(frozen=True, slots=True)
class Page:
    """Rows ``offset+1 .. offset+len(rows)`` of ``total``."""

    rows: list[dict[str, Any]]
    total: int
    offset: int
    limit: int


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """What the audit page narrows to; empty fields match everything."""

    op: str = ""
    actor: str = ""
    user: str = ""  # contained in the user's email
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True, slots=True)
class RunFilter:
    """What the runs page narrows to."""

    trigger: str = ""  # contained in the trigger
    outcome: str = ""
    with_empty: bool = False  # runs that found nothing to do


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped.casefold()}%"


def _audit_query(org_id: int, f: AuditFilter) -> Select[Any]:
    query = select(AuditEntry).where(AuditEntry.org_id == org_id)
    if f.op:
        query = query.where(AuditEntry.op == f.op)
    if f.actor:
        query = query.where(func.lower(AuditEntry.actor).like(_like(f.actor), escape="\\"))
    if f.user:
        query = query.where(func.lower(AuditEntry.user).like(_like(f.user), escape="\\"))
    if f.since is not None:
        query = query.where(AuditEntry.at >= f.since)
    if f.until is not None:
        query = query.where(AuditEntry.at < f.until)
    return query


def _audit_json(e: AuditEntry) -> dict[str, Any]:
    return {
        "id": e.id,
        "at": format_time(e.at),
        "actor": e.actor,
        "op": e.op,
        "user": e.user,
        "workspace": e.workspace,
        "detail": e.detail,
        "plan_id": e.plan_id,
    }


def _count(session: Session, query: Select[Any]) -> int:
    return int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)


def audit_page(
    session: Session, org_id: int, f: AuditFilter, *, offset: int, limit: int
) -> tuple[Page, list[str]]:
    """One page of matching entries, newest first, and the operations the org has."""
    query = _audit_query(org_id, f)
    rows = session.scalars(
        query.order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).offset(offset).limit(limit)
    )
    ops = session.scalars(
        select(AuditEntry.op).where(AuditEntry.org_id == org_id).distinct().order_by(AuditEntry.op)
    ).all()
    page = Page([_audit_json(e) for e in rows], _count(session, query), offset, limit)
    return page, list(ops)


def audit_rows(session: Session, org_id: int, f: AuditFilter) -> Iterator[dict[str, Any]]:
    """Every matching entry, newest first (for the CSV export), read in batches."""
    query = _audit_query(org_id, f).order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
    for e in session.scalars(query.execution_options(yield_per=1000)):
        yield _audit_json(e)


def runs_page(session: Session, org_id: int, f: RunFilter, *, offset: int, limit: int) -> Page:
    """One page of matching runs, newest first."""
    query = select(SyncRun).where(SyncRun.org_id == org_id)
    if f.trigger:
        query = query.where(func.lower(SyncRun.trigger).like(_like(f.trigger), escape="\\"))
    if f.outcome:
        query = query.where(SyncRun.outcome == f.outcome)
    elif not f.with_empty:
        query = query.where(SyncRun.outcome != "empty")
    rows = session.scalars(
        query.order_by(SyncRun.started_at.desc(), SyncRun.id.desc()).offset(offset).limit(limit)
    )
    return Page([run_json(RunRecord.of(r)) for r in rows], _count(session, query), offset, limit)


def run_outcomes(session: Session, org_id: int) -> list[str]:
    """The outcomes the org's runs have had."""
    query = select(SyncRun.outcome).where(SyncRun.org_id == org_id).distinct()
    return list(session.scalars(query.order_by(SyncRun.outcome)))


def last_runs(session: Session, org_id: int) -> list[dict[str, object]]:
    """The org's sources with their last run; a SCIM source's is the last SCIM write's."""
    out: list[dict[str, object]] = []
    for src in session.scalars(select(Source).where(Source.org_id == org_id).order_by(Source.name)):
        of_source = SyncRun.source_id == src.id
        if src.kind == "scim":
            of_source = SyncRun.trigger == SCIM_TRIGGER
        last = session.scalars(
            select(SyncRun)
            .where(SyncRun.org_id == org_id, of_source)
            .order_by(SyncRun.started_at.desc(), SyncRun.id.desc())
            .limit(1)
        ).first()
        out.append(
            {
                "name": src.name,
                "kind": src.kind,
                "schedule": src.schedule,
                "enabled": src.enabled,
                "last_run": run_json(RunRecord.of(last)) if last else None,
            }
        )
    return out
