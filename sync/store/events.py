"""The org's event feed: one row per change, written in the change's own transaction.

Each event has an id (``evt_...``, the ``webhook-id`` of its deliveries), the org, a
sequence number per org with no gaps, a type, a time, the member's email and IdP id, the
before and after, and the plan and audit entry it came from. Sequence numbers come from
the org's counter row (``event_counters``), raised in the writer's transaction: the row
lock orders the org's writers, so events commit in sequence order and a rollback gives
its numbers back. ``(org_id, seq)`` is unique in the database.

Some types are alerts (``ALERT_TYPES``): writing one also queues an email to the org's
top-role holders (``sync.alerts``).
"""

from __future__ import annotations

import base64
import binascii
import functools
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, get_args

from sqlalchemy import bindparam, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from mappings.errors import InputError
from mappings.operations import Operation, Plan
from mappings.state import format_time
from sync.bulk import insert_rows
from sync.models import Base, Event, EventCounter, Organisation, utcnow

__all__ = [
    "ALERT_TYPES",
    "EVENT_TYPES",
    "EventDraft",
    "EventPage",
    "EventType",
    "decode_cursor",
    "emit",
    "encode_cursor",
    "event_json",
    "held_event",
    "last_seq",
    "list_events",
    "operation_event",
    "plan_events",
    "run_events",
    "parse_types",
]

EventType = Literal[
    "member.invited",
    "member.joined",
    "member.org_role_changed",
    "member.workspace_roles_changed",
    "member.suspended",
    "member.reactivated",
    "member.removed",
    "member.renamed",
    "invite.resent",
    "invite.revoked",
    "invite.expired",
    "workspace.created",
    "plan.held",
    "plan.applied",
    "snapshot.suspicious",
    "pull.failed",
    "source.quarantined",
]
EVENT_TYPES: tuple[EventType, ...] = get_args(EventType)
ALERT_TYPES: frozenset[str] = frozenset(
    {"plan.held", "snapshot.suspicious", "pull.failed", "source.quarantined"}
)
MAX_PAGE = 1000
_EXPIRED = "the invite expired"  # how the planner's detail of an expired invite begins


@dataclass(frozen=True, slots=True)
class EventDraft:
    """An event before it has its id and sequence number."""

    type: EventType
    email: str | None = None
    idp_id: str | None = None
    workspace: str | None = None
    before: Mapping[str, Any] | None = None
    after: Mapping[str, Any] | None = None
    plan_id: int | None = None
    audit_id: int | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)


def _new_ids(count: int) -> list[str]:
    """``count`` fresh ids, ``evt_`` + 32 hex digits: the time in milliseconds (12), a
    random 56-bit value drawn once per batch (14) and the position in the batch (6). Ids
    of one batch sort together and later batches after earlier ones, so the primary key's
    index grows at its end instead of taking a random page per event; the random part
    keeps two processes' batches of the same millisecond apart."""
    stamp = f"{time.time_ns() // 1_000_000:012x}{secrets.randbits(56):014x}"
    return [f"evt_{stamp}{n:06x}" for n in range(count)]


def _allocate(session: Session, org_id: int, count: int) -> int:
    """Take ``count`` sequence numbers of the org; the first one is returned. The counter
    row stays locked until the caller's transaction ends."""
    statement = _raise_counter(session.connection().dialect.name)
    params = {"org": org_id, "count": count, "by": count}
    last = session.execute(statement, params).scalar_one()
    return int(last) - count + 1


@functools.cache
def _raise_counter(dialect: str) -> Any:
    """One round trip: the counter row is made at ``count`` or raised by it (``by``), and
    locked either way; built once per dialect, bound per call."""
    maker = pg_insert if dialect == "postgresql" else sqlite_insert
    counter = Base.metadata.tables[EventCounter.__tablename__]
    raise_by = maker(counter).values(org_id=bindparam("org"), last_seq=bindparam("count"))
    return raise_by.on_conflict_do_update(
        index_elements=[counter.c.org_id],
        set_={"last_seq": counter.c.last_seq + bindparam("by")},
    ).returning(counter.c.last_seq)


_EVENTS = Base.metadata.tables[Event.__tablename__]


def emit(
    session: Session, org_id: int, drafts: Sequence[EventDraft], *, now: datetime | None = None
) -> list[str]:
    """Write the events in the caller's transaction, numbered in the order given; returns
    their ids. Alert types also queue their alert emails."""
    if not drafts:
        return []
    now = now or utcnow()
    first = _allocate(session, org_id, len(drafts))
    ids = _new_ids(len(drafts))
    rows = [
        {
            "id": event_id,
            "org_id": org_id,
            "seq": first + n,
            "type": d.type,
            "at": now,
            "email": d.email,
            "idp_id": d.idp_id,
            "workspace": d.workspace,
            "before": dict(d.before) if d.before is not None else None,
            "after": dict(d.after) if d.after is not None else None,
            "plan_id": d.plan_id,
            "audit_id": d.audit_id,
            "detail": dict(d.detail),
        }
        for n, (event_id, d) in enumerate(zip(ids, drafts, strict=True))
    ]
    # one statement whatever the count (an executemany is one INSERT per row on PostgreSQL)
    insert_rows(session, _EVENTS, rows)
    alerts = [d for d in drafts if d.type in ALERT_TYPES]
    if alerts:
        from sync.alerts import queue_alerts

        queue_alerts(session, org_id, alerts, now)
    return ids


def operation_event(
    op: Operation,
    *,
    status: str | None,
    org_role: str | None,
    idp_id: str | None,
    plan_id: int | None,
    audit_id: int | None,
) -> EventDraft:
    """The event of one applied operation; ``status``, ``org_role`` and ``idp_id`` are the
    member's before it."""
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    kind: EventType
    member = {"status": status, "org_role": org_role} if status is not None else None
    match op.op:
        case "create_workspace":
            kind, after = "workspace.created", {"credits": op.credits or 0}
        case "rename_member":
            kind, before, after = "member.renamed", {"email": op.from_}, {"email": op.to}
        case "invite":
            kind, after = "member.invited", {"status": "invited", "org_role": op.org_role}
        case "resend_invite":
            kind = "invite.resent"
            before = {"invited_at": format_time(op.invited_at)}
        case "reactivate":
            kind, before, after = (
                "member.reactivated",
                member,
                {**(member or {}), "status": "joined"},
            )
        case "suspend":
            kind, before, after = (
                "member.suspended",
                member,
                {**(member or {}), "status": "suspended"},
            )
        case "set_org_role":
            kind, before, after = (
                "member.org_role_changed",
                {"org_role": op.from_},
                {"org_role": op.to},
            )
        case "add_to_workspace":
            kind = "member.workspace_roles_changed"
            before, after = {"roles": []}, {"roles": list(_roles(op.roles))}
        case "set_workspace_roles":
            kind = "member.workspace_roles_changed"
            before, after = {"roles": list(_roles(op.from_))}, {"roles": list(_roles(op.to))}
        case "remove_from_workspace":
            kind, before, after = "member.workspace_roles_changed", None, {"roles": []}
        case "revoke_invite":
            expired = (op.detail or "").startswith(_EXPIRED)
            kind = "invite.expired" if expired else "invite.revoked"
            before = member
        case "remove_from_org":
            kind, before = "member.removed", member
        case _:
            raise AssertionError(op.op)
    return EventDraft(
        type=kind,
        email=op.user or None,
        idp_id=op.idp_id or idp_id,
        workspace=op.workspace,
        before=before,
        after=after,
        plan_id=plan_id,
        audit_id=audit_id,
        detail={"op": op.op, **({"detail": op.detail} if op.detail else {})},
    )


def plan_events(
    session: Session,
    org_id: int,
    operations: Sequence[Operation],
    before: Mapping[str, tuple[str, str, str | None]],
    *,
    audit_ids: Sequence[int],
    plan_id: int | None,
    now: datetime,
) -> list[str]:
    """Write the events of an applied plan: one per operation (in the plan's order, each
    naming the audit entry written for it: ``audit_ids`` in the operations' order), then
    ``plan.applied`` when the plan was a saved one. ``before``: email -> (status, org
    role, IdP id)."""
    drafts = []
    for op, audit_id in zip(operations, audit_ids, strict=True):
        who = str(op.from_) if op.op == "rename_member" else op.user
        status, role, idp = before.get(who, (None, None, None))
        drafts.append(
            operation_event(
                op, status=status, org_role=role, idp_id=idp, plan_id=plan_id, audit_id=audit_id
            )
        )
    if plan_id is not None and operations:
        summary: dict[str, int] = {}
        for op in operations:
            summary[op.op] = summary.get(op.op, 0) + 1
        drafts.append(
            EventDraft(
                "plan.applied", plan_id=plan_id, detail={"summary": dict(sorted(summary.items()))}
            )
        )
    return emit(session, org_id, drafts, now=now)


def held_event(plan_id: int, status: str, plan: Plan) -> EventDraft:
    """``plan.held``: a plan was stored to wait for an approval (held or pending review)."""
    held = plan.held
    detail: dict[str, Any] = {"status": status, "summary": dict(plan.summary)}
    if held is not None:
        detail |= {"why": held.why, "reason": held.detail}
    return EventDraft("plan.held", plan_id=plan_id, detail=detail)


def run_events(session: Session, run: Any, quarantine_after: int) -> list[EventDraft]:
    """The events of a pull run that ended ``failed`` or ``suspicious`` (a ``SyncRun``),
    and ``source.quarantined`` when it is the ``quarantine_after``-th failure in a row."""
    from sync.models import Source, SyncRun

    source = session.get(Source, run.source_id) if run.source_id is not None else None
    detail = {
        "run_id": run.id,
        "source": source.name if source is not None else None,
        "error": run.error,
    }
    kind: EventType = "pull.failed" if run.outcome == "failed" else "snapshot.suspicious"
    drafts = [EventDraft(kind, detail=detail)]
    if run.outcome == "failed" and run.source_id is not None and quarantine_after > 0:
        recent = session.scalars(
            select(SyncRun.outcome)
            .where(SyncRun.source_id == run.source_id, SyncRun.id <= run.id)
            .order_by(SyncRun.id.desc())
            .limit(quarantine_after + 1)
        ).all()
        streak = 0
        for outcome in recent:
            if outcome != "failed":
                break
            streak += 1
        if streak == quarantine_after:  # once per streak, when it reaches the setting
            drafts.append(EventDraft("source.quarantined", detail={**detail, "failures": streak}))
    return drafts


def _roles(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value)  # type: ignore[attr-defined]


def event_json(event: Event, org_name: str) -> dict[str, Any]:
    """The public shape of an event: the API's items and the webhooks' bodies."""
    return {
        "id": event.id,
        "type": event.type,
        "org": org_name,
        "seq": event.seq,
        "time": format_time(event.at),
        "email": event.email,
        "idp_id": event.idp_id,
        "workspace": event.workspace,
        "before": event.before,
        "after": event.after,
        "plan_id": event.plan_id,
        "audit_id": event.audit_id,
        "detail": event.detail,
    }


def encode_cursor(seq: int) -> str:
    """The opaque cursor that follows the event numbered ``seq``."""
    return base64.urlsafe_b64encode(f"seq:{seq}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The sequence number behind a cursor; ``InputError`` for one rolebridge never gave."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, number = text.partition(":")
        seq = int(number)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InputError("not a cursor this feed gave", "after") from None
    if kind != "seq" or seq < 0 or seq > 2**31 - 1:
        raise InputError("not a cursor this feed gave", "after")
    return seq


def parse_types(value: str | Sequence[str] | None) -> tuple[str, ...] | None:
    """Event types from ``a,b`` or a list; ``InputError`` names an unknown one."""
    if value is None:
        return None
    items = value.split(",") if isinstance(value, str) else list(value)
    types = tuple(sorted({t.strip() for t in items if t.strip()}))
    unknown = [t for t in types if t not in EVENT_TYPES]
    if unknown:
        raise InputError(f"unknown event type {unknown[0]!r}", "types")
    return types or None


@dataclass(frozen=True, slots=True)
class EventPage:
    """One page of the feed and the cursor to ask for the next."""

    events: list[dict[str, Any]]
    next_cursor: str
    has_more: bool


def list_events(
    session: Session,
    org_id: int,
    *,
    after: int = 0,
    limit: int = 100,
    types: Sequence[str] | None = None,
) -> EventPage:
    """The org's events after sequence number ``after``, in order, ``limit`` at most."""
    limit = max(1, min(limit, MAX_PAGE))
    org = session.get(Organisation, org_id)
    name = org.name if org is not None else ""
    query = select(Event).where(Event.org_id == org_id, Event.seq > after)
    if types:
        query = query.where(Event.type.in_(list(types)))
    rows = session.scalars(query.order_by(Event.seq).limit(limit + 1)).all()
    page = rows[:limit]
    last = page[-1].seq if page else after
    return EventPage([event_json(e, name) for e in page], encode_cursor(last), len(rows) > limit)


def last_seq(session: Session, org_id: int) -> int:
    """The org's newest sequence number (0 before its first event)."""
    value = session.scalar(select(EventCounter.last_seq).where(EventCounter.org_id == org_id))
    return int(value or 0)
