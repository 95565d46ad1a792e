"""Alerts to an org's admins: a held plan, a suspicious snapshot, a failed pull, a
quarantined source. Each alert event (``sync.store.events.ALERT_TYPES``) queues an email to the
org's joined holders of the top org role, through the outbox, in the event's transaction;
at most one email per kind per org in ``QUIET``. The admin overview lists recent ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sync.bulk import insert_rows
from sync.models import Base, Event, Member, Organisation, OutboxMessage
from sync.store.orgs import role_model_for

if TYPE_CHECKING:
    from sync.store.events import EventDraft

__all__ = ["ALERT_PREFIX", "QUIET", "queue_alerts", "recent_alerts"]

ALERT_PREFIX = "alert:"  # outbox kind of an alert email: alert:<event type>
QUIET = timedelta(hours=1)

_SUBJECTS = {
    "plan.held": "a plan waits for approval",
    "snapshot.suspicious": "a pulled snapshot looked suspicious and was not applied",
    "pull.failed": "a pull failed",
    "source.quarantined": "a source keeps failing",
}


def queue_alerts(session: Session, org_id: int, drafts: Sequence[EventDraft], now: datetime) -> int:
    """Queue one email per alert kind among ``drafts`` to each top-role holder, unless
    one of that kind went out for the org within ``QUIET``; returns the emails queued."""
    org = session.get(Organisation, org_id)
    if org is None:
        return 0
    top = role_model_for(org.role_model).top_org_role
    recipients = session.scalars(
        select(Member.email).where(
            Member.org_id == org_id, Member.org_role == top, Member.status == "joined"
        )
    ).all()
    rows: list[dict[str, Any]] = []
    for kind in sorted({d.type for d in drafts}):
        first = next(d for d in drafts if d.type == kind)
        outbox_kind = f"{ALERT_PREFIX}{kind}"
        recent = session.scalar(
            select(OutboxMessage.id).where(
                OutboxMessage.org_id == org_id,
                OutboxMessage.kind == outbox_kind,
                OutboxMessage.created_at > now - QUIET,
            )
        )
        if recent is not None:
            continue
        subject = f"[{org.name}] {_SUBJECTS.get(kind, kind)}"
        body = _body(org.name, kind, dict(first.detail), first.plan_id)
        rows.extend(
            {
                "org_id": org_id,
                "kind": outbox_kind,
                "recipient": email,
                "subject": subject,
                "body": body,
                "created_at": now,
                "attempts": 0,
                "next_attempt_at": now,
            }
            for email in recipients
        )
    insert_rows(session, Base.metadata.tables["outbox"], rows)
    return len(rows)


def _body(org: str, kind: str, detail: dict[str, Any], plan_id: int | None) -> str:
    lines = [f"Hello,\n\nrolebridge has an alert for {org}: {_SUBJECTS.get(kind, kind)}."]
    if plan_id is not None:
        lines.append(f"Plan: {plan_id} (`rolebridge plans --org {org}`).")
    for key in ("why", "reason", "source", "error", "failures"):
        if detail.get(key) is not None:
            lines.append(f"{key}: {detail[key]}")
    lines.append("\nAt most one email of this kind per hour is sent.\n\n-- rolebridge\n")
    return "\n".join(lines)


def recent_alerts(session: Session, org_id: int, limit: int = 5) -> list[dict[str, Any]]:
    """The org's newest alert events, newest first, for the admin overview."""
    from sync.store.events import ALERT_TYPES

    rows = session.scalars(
        select(Event)
        .where(Event.org_id == org_id, Event.type.in_(sorted(ALERT_TYPES)))
        .order_by(Event.seq.desc())
        .limit(limit)
    ).all()
    return [
        {
            "type": e.type,
            "at": e.at,
            "what": _SUBJECTS.get(e.type, e.type),
            "plan_id": e.plan_id,
            "source": e.detail.get("source"),
            "error": e.detail.get("error") or e.detail.get("reason"),
        }
        for e in rows
    ]
