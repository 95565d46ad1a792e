"""The run history (``sync_runs``) read back: an org's recent runs, one run, a source's
last run. Runs are written by the reconcile and the pull (docs/architecture.md
section 3.2)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mappings.state import format_time
from sync.errors import NotFound
from sync.models import SyncRun

__all__ = ["RunRecord", "get_run", "last_run", "list_runs", "run_json"]


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One run as read back."""

    id: int
    trigger: str
    started_at: datetime
    finished_at: datetime | None
    outcome: str
    error: str | None
    counts: dict[str, Any]
    plan_id: int | None

    @classmethod
    def of(cls, run: SyncRun) -> RunRecord:
        """The value of a row."""
        return cls(
            run.id,
            run.trigger,
            run.started_at,
            run.finished_at,
            run.outcome,
            run.error,
            dict(run.counts or {}),
            run.plan_id,
        )


def run_json(run: RunRecord) -> dict[str, object]:
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


def get_run(session: Session, org_id: int, run_id: int) -> RunRecord:
    """One run of the org; ``NotFound`` otherwise."""
    run = session.get(SyncRun, run_id)
    if run is None or run.org_id != org_id:
        raise NotFound(f"no run {run_id} in this organisation")
    return RunRecord.of(run)


def last_run(session: Session, org_id: int, source_id: int) -> RunRecord | None:
    """The newest run of a source, if it ever ran."""
    run = session.scalars(
        select(SyncRun)
        .where(SyncRun.org_id == org_id, SyncRun.source_id == source_id)
        .order_by(SyncRun.started_at.desc(), SyncRun.id.desc())
        .limit(1)
    ).first()
    return RunRecord.of(run) if run is not None else None


def list_runs(session: Session, org_id: int, limit: int = 100) -> list[RunRecord]:
    """The org's most recent runs, newest first."""
    rows = session.scalars(
        select(SyncRun)
        .where(SyncRun.org_id == org_id)
        .order_by(SyncRun.started_at.desc(), SyncRun.id.desc())
        .limit(limit)
    )
    return [RunRecord.of(r) for r in rows]
