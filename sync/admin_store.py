"""Small reads and writes of the admin API that no other store module offers.

Plain functions taking a Session (the caller's unit of work).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mappings.directory import identity_key
from mappings.state import format_time
from sync.models import (
    AuditEntry,
    Member,
    PlanStatus,
    SavedPlan,
    Source,
    SyncRun,
)

__all__ = [
    "count_members_by_role",
    "list_audit",
    "list_plans",
    "plan_json",
    "list_runs",
    "list_sources",
    "record_audit",
    "run_json",
]


def record_audit(
    session: Session,
    org_id: int,
    actor: str,
    op: str,
    user: str,
    detail: dict[str, object],
    plan_id: int | None = None,
) -> None:
    """Append one audit entry in the caller's transaction."""
    session.add(
        AuditEntry(org_id=org_id, actor=actor, op=op, user=user, detail=detail, plan_id=plan_id)
    )


def count_members_by_role(session: Session, org_id: int) -> dict[str, int]:
    """How many members hold each org role."""
    rows = session.execute(
        select(Member.org_role, func.count())
        .where(Member.org_id == org_id)
        .group_by(Member.org_role)
    )
    return {role: int(n) for role, n in rows}


def list_sources(session: Session, org_id: int) -> list[dict[str, object]]:
    """The org's sources with their last run (outcome, when, counts)."""
    out: list[dict[str, object]] = []
    for src in session.scalars(select(Source).where(Source.org_id == org_id).order_by(Source.name)):
        last = session.scalars(
            select(SyncRun)
            .where(SyncRun.org_id == org_id, SyncRun.source_id == src.id)
            .order_by(SyncRun.started_at.desc(), SyncRun.id.desc())
            .limit(1)
        ).first()
        out.append(
            {
                "name": src.name,
                "kind": src.kind,
                "schedule": src.schedule,
                "enabled": src.enabled,
                "last_run": run_json(last) if last else None,
            }
        )
    return out


def run_json(run: SyncRun) -> dict[str, object]:
    """A run as the API shows it."""
    return {
        "id": run.id,
        "trigger": run.trigger,
        "started_at": format_time(run.started_at),
        "finished_at": format_time(run.finished_at),
        "outcome": run.outcome,
        "error": run.error,
        "counts": run.counts,
        "plan_id": run.plan_id,
    }


def list_runs(session: Session, org_id: int, limit: int = 100) -> list[dict[str, object]]:
    """The org's most recent runs, newest first."""
    rows = session.scalars(
        select(SyncRun)
        .where(SyncRun.org_id == org_id)
        .order_by(SyncRun.started_at.desc(), SyncRun.id.desc())
        .limit(limit)
    )
    return [run_json(r) for r in rows]


def list_audit(
    session: Session,
    org_id: int,
    user: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 200,
) -> list[dict[str, object]]:
    """Audit entries of the org, newest first, filtered by user and time range."""
    query = select(AuditEntry).where(AuditEntry.org_id == org_id)
    if user:
        query = query.where(AuditEntry.user == identity_key(user))
    if since is not None:
        query = query.where(AuditEntry.at >= since)
    if until is not None:
        query = query.where(AuditEntry.at < until)
    rows = session.scalars(query.order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit))
    return [
        {
            "id": e.id,
            "at": format_time(e.at),
            "actor": e.actor,
            "op": e.op,
            "user": e.user,
            "workspace": e.workspace,
            "detail": e.detail,
            "plan_id": e.plan_id,
        }
        for e in rows
    ]


def list_plans(
    session: Session, org_id: int, statuses: Sequence[PlanStatus] = (), limit: int = 100
) -> list[dict[str, object]]:
    """Saved plans of the org (optionally only some statuses), newest first."""
    query = select(SavedPlan).where(SavedPlan.org_id == org_id)
    if statuses:
        query = query.where(SavedPlan.status.in_(statuses))
    rows = session.scalars(
        query.order_by(SavedPlan.created_at.desc(), SavedPlan.id.desc()).limit(limit)
    )
    return [plan_json(p, with_body=False) for p in rows]


def plan_json(p: SavedPlan, with_body: bool = True) -> dict[str, object]:
    """A saved plan as the API shows it."""
    body = p.body or {}
    out: dict[str, object] = {
        "id": p.id,
        "status": p.status,
        "fingerprint": p.fingerprint,
        "trigger": p.trigger,
        "created_at": format_time(p.created_at),
        "approved_by": p.approved_by,
        "approved_at": format_time(p.approved_at),
        "applied_at": format_time(p.applied_at),
        "summary": body.get("summary", {}),
        "held": body.get("held"),
    }
    if with_body:
        out["plan"] = body
    return out
