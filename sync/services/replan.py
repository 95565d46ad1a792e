"""Re-planning after a change that is not a directory write: a new mapping version, an
accepted invite. The org is reconciled at once, as a SCIM write would, so the platform
follows the change without waiting for the next write, pull or housekeeping round."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from sync.db import write_session
from sync.errors import NotFound
from sync.reconcile import ReconcileResult, reconcile
from sync.store.invites import accept_invite

__all__ = ["Accepted", "accept_and_replan", "replan"]


def replan(
    session_factory: sessionmaker[Session],
    org_id: int,
    *,
    trigger: str,
    users: Collection[str] | None = None,
) -> ReconcileResult | None:
    """Reconcile the org (only ``users`` when given); None when it has no mapping yet."""
    try:
        return reconcile(session_factory, org_id, dry_run=False, users=users, trigger=trigger)
    except NotFound:
        return None


@dataclass(frozen=True, slots=True)
class Accepted:
    """An accepted invite and the reconcile that followed it."""

    email: str
    org_id: int
    result: ReconcileResult | None


def accept_and_replan(session_factory: sessionmaker[Session], token: str) -> Accepted:
    """Accept the invite behind ``token`` (``NotFound``, ``InviteExpired``), then re-plan
    the member who joined: what waited for them to join (a role the last-owner rule
    held, a workspace) follows at once."""
    with write_session(session_factory) as session:
        member = accept_invite(session, token)
        email, org_id = member.email, member.org_id
    result = replan(session_factory, org_id, trigger="invite accept", users=[email])
    return Accepted(email, org_id, result)
