"""The platform's totals over every organisation, read in one short transaction: what the
web process's ``/metrics`` reports at scrape time (``scim_server.ops.metrics``), so the
scheduler and outbox processes need no metrics endpoint of their own."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, case, func, select
from sqlalchemy.orm import Session, sessionmaker

from sync.models import AuditEntry, OutboxMessage, ReconcileBacklog, SavedPlan, SyncRun

__all__ = ["ERROR_KINDS", "Totals", "platform_totals"]

ERROR_KINDS = ("transient", "configuration", "data")  # and "internal" for the rest


@dataclass(frozen=True, slots=True)
class Totals:
    """Reconcile runs by outcome, operations applied by kind (the audit log), failed or
    held pulls by error kind, plans held for approval, emails waiting, and the users of
    SCIM writes waiting for a reconcile pass (``sync.backlog``)."""

    runs: Mapping[str, int]
    operations: Mapping[str, int]
    source_errors: Mapping[str, int]
    plans_held: int
    outbox_backlog: int
    reconcile_backlog: int


def platform_totals(session_factory: sessionmaker[Session]) -> Totals:
    """The totals as they stand now."""
    with session_factory() as session:
        runs = session.execute(
            select(SyncRun.outcome, func.count())
            .where(SyncRun.source_id.is_(None))
            .group_by(SyncRun.outcome)
        ).all()
        ops = session.execute(select(AuditEntry.op, func.count()).group_by(AuditEntry.op)).all()
        held = session.scalar(
            select(func.count()).select_from(SavedPlan).where(SavedPlan.status == "held")
        )
        errors: list[tuple[str, int]] = [(k, n) for k, n in session.execute(_source_errors())]
        backlog = session.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.sent_at.is_(None))
        )
        queued = session.scalar(select(func.count()).select_from(ReconcileBacklog))
    return Totals(
        {str(k): int(n) for k, n in runs},
        {str(k): int(n) for k, n in ops},
        {str(k): int(n) for k, n in errors},
        int(held or 0),
        int(backlog or 0),
        int(queued or 0),
    )


def _source_errors() -> Select[Any]:
    kind = case(
        (SyncRun.outcome == "suspicious", "data"),
        *((SyncRun.error.like(f"{k}:%"), k) for k in ERROR_KINDS),
        else_="internal",
    )
    return (
        select(kind, func.count())
        .where(SyncRun.source_id.is_not(None), SyncRun.outcome.in_(("failed", "suspicious")))
        .group_by(kind)
    )
