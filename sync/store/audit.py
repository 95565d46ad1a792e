"""The audit log: an entry appended in the caller's transaction, and the log read back,
newest first."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mappings.directory import identity_key
from mappings.state import format_time
from sync.models import AuditEntry

__all__ = ["AuditRecord", "audit_json", "list_audit", "record_audit"]


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One audit entry as read back."""

    id: int
    at: datetime
    actor: str
    op: str
    user: str
    workspace: str | None
    detail: dict[str, Any]
    plan_id: int | None

    @classmethod
    def of(cls, e: AuditEntry) -> AuditRecord:
        """The value of a row."""
        return cls(e.id, e.at, e.actor, e.op, e.user, e.workspace, dict(e.detail), e.plan_id)


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


def list_audit(
    session: Session,
    org_id: int,
    user: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 200,
) -> Sequence[AuditRecord]:
    """The org's newest ``limit`` audit entries, only ``user``'s (by identity key) and
    only from ``since`` up to ``until`` when given."""
    query = select(AuditEntry).where(AuditEntry.org_id == org_id)
    if user:
        query = query.where(AuditEntry.user == identity_key(user))
    if since is not None:
        query = query.where(AuditEntry.at >= since)
    if until is not None:
        query = query.where(AuditEntry.at < until)
    rows = session.scalars(query.order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit))
    return [AuditRecord.of(e) for e in rows]


def audit_json(e: AuditRecord) -> dict[str, object]:
    """An audit entry as the API shows it."""
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
