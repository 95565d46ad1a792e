"""The audit log read back: what was applied to an org, newest first."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from sync.models import AuditEntry

__all__ = ["list_audit"]


def list_audit(
    session: Session, org_id: int, user: str | None = None, limit: int = 100
) -> Sequence[AuditEntry]:
    """The org's newest ``limit`` audit entries, only ``user``'s when given."""
    query = select(AuditEntry).where(AuditEntry.org_id == org_id)
    if user:
        query = query.where(AuditEntry.user == user.strip().casefold())
    return session.scalars(query.order_by(AuditEntry.id.desc()).limit(limit)).all()
