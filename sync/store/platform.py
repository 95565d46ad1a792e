"""The platform store: an org's actual state, and carrying out a plan on it.

``apply_plan`` runs inside the caller's transaction: one bulk statement per kind of
operation (in the plan's order), an audit entry, an event (``sync.store.events``) per operation
and an outbox message per notified invite or resend, so a failure anywhere leaves nothing
behind. An audit entry of an operation that took something from a member carries the kind
of loss (``loss``), which ``losses_since`` counts for the org's rolling removal budget.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, assert_never

from sqlalchemy import (
    String,
    Table,
    and_,
    bindparam,
    delete,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session

from mappings.operations import LOSS_OPS, OP_KINDS, Operation, OpKind, Plan, loss_kind
from mappings.rolemodel import RoleModel
from mappings.state import Member as StateMember
from mappings.state import Organisation as StateOrganisation
from mappings.state import PlatformState
from mappings.state import Workspace as StateWorkspace
from sync.bulk import OneOf, chunks, insert_rows
from sync.errors import PlanError
from sync.models import AuditEntry, Base, Member, Workspace, WorkspaceRole, utcnow
from sync.scoped import MemberRow
from sync.store.events import plan_events
from sync.store.orgs import get_org, role_model_for
from sync.store.outbox import invite_message

__all__ = ["ApplyResult", "apply_plan", "load_state", "losses_since"]

# audit entries inserted with RETURNING; more are counted from the newest id (SQLite) or
# taken from the sequence (PostgreSQL)
_RETURNING_AT_MOST = 20
_NEWEST_AUDIT_ID = select(func.max(AuditEntry.id))
_AUDIT_IDS = text(
    "SELECT nextval(pg_get_serial_sequence('audit_log', 'id')) FROM generate_series(1, :n)"
)


_mc = Member.__table__.c
# built once, bound per call (a list of emails is one parameter: ``OneOf``)
_IDS_OF_EMAILS = select(_mc.id, _mc.email).where(
    _mc.org_id == bindparam("org"), OneOf(_mc.email, "emails")
)
_STANDING_OF_EMAILS = select(_mc.id, _mc.email, _mc.status, _mc.org_role, _mc.idp_id).where(
    _mc.org_id == bindparam("org"), OneOf(_mc.email, "emails")
)


def _table(name: str) -> Table:
    return Base.metadata.tables[name]


def load_state(session: Session, org_id: int) -> PlatformState:
    """The org's actual state: its workspaces and members with their workspace roles."""
    org = get_org(session, org_id)
    workspaces = session.execute(
        select(Workspace.id, Workspace.name, Workspace.credits)
        .where(Workspace.org_id == org_id)
        .order_by(Workspace.name)
    ).all()
    ws_names = {w.id: w.name for w in workspaces}
    roles: dict[int, dict[str, list[str]]] = {}
    for member_id, ws_id, role in session.execute(
        select(WorkspaceRole.member_id, WorkspaceRole.workspace_id, WorkspaceRole.role)
        .join(Member, Member.id == WorkspaceRole.member_id)
        .where(Member.org_id == org_id)
    ):
        roles.setdefault(member_id, {}).setdefault(ws_names[ws_id], []).append(role)
    members = tuple(
        StateMember(
            email=m.email,
            org_role=m.org_role,
            status=m.status,
            origin=m.origin,
            idp_id=m.idp_id,
            invited_at=m.invited_at,
            workspaces={ws: tuple(sorted(r)) for ws, r in sorted(roles.get(m.id, {}).items())},
        )
        for m in session.execute(
            select(
                Member.id,
                Member.email,
                Member.org_role,
                Member.status,
                Member.origin,
                Member.idp_id,
                Member.invited_at,
            )
            .where(Member.org_id == org_id)
            .order_by(Member.email)
        )
    )
    return PlatformState(
        organisation=StateOrganisation(name=org.name, plan=org.plan, credits=org.credits),
        workspaces=tuple(StateWorkspace(name=w.name, credits=w.credits) for w in workspaces),
        members=members,
    )


@dataclass(frozen=True, slots=True)
class ApplyResult:
    """What an apply did: operations by kind and outbox messages written."""

    applied: int
    messages: int
    summary: Mapping[str, int] = field(default_factory=dict)


@dataclass(slots=True)
class _Context:
    session: Session
    org_id: int
    org_name: str
    now: datetime
    members: dict[str, int]  # email -> member id
    statuses: dict[str, str]
    workspaces: dict[str, int]  # name -> workspace id
    origin: str = "idp"  # of the members invited
    messages: list[dict[str, Any]] = field(default_factory=list)
    unread: list[str] = field(default_factory=list)  # invited, ids not read back yet

    def member(self, op: Operation) -> int:
        if op.user not in self.members and self.unread:
            self._read_ids()
        try:
            return self.members[op.user]
        except KeyError:
            raise PlanError(f"{op.op} {op.user}: no such member") from None

    def _read_ids(self) -> None:
        """The new members' ids, read back only when a later operation needs one."""
        connection = self.session.connection()
        for chunk in chunks(self.unread):
            emails = {"org": self.org_id, "emails": list(chunk)}
            for member_id, email in connection.execute(_IDS_OF_EMAILS, emails):
                self.members[email] = member_id
        self.unread = []

    def workspace(self, op: Operation) -> int:
        try:
            return self.workspaces[op.workspace or ""]
        except KeyError:
            raise PlanError(f"{op.op} {op.user}: no workspace {op.workspace!r}") from None


def apply_plan(
    session: Session,
    org_id: int,
    plan: Plan,
    *,
    actor: str,
    plan_id: int | None = None,
    now: datetime | None = None,
    body: Mapping[str, Any] | None = None,
    origin: str = "idp",
    workspaces: Mapping[str, int] | None = None,
    members_seen: Mapping[str, MemberRow | None] | None = None,
) -> ApplyResult:
    """Carry out ``plan`` on the org in the caller's transaction; ``PlanError`` names the
    first operation that does not fit the current state (and nothing is kept).

    ``body``: the plan's JSON form if the caller has it already (the saved plan's), whose
    operations are then the audit entries' details instead of being made again.
    ``origin``: of the members the plan invites (``manual`` for a change made by hand).
    ``workspaces``: the org's workspaces (name -> row id) if the caller read them in this
    transaction (a scoped gather), instead of reading them again; ``members_seen``
    likewise, the member rows it read and the emails it found no member for
    (``sync.scoped.load_scoped``): only a named email it did not look up is read."""
    # the apply reads and writes with Core statements, which flush nothing: the caller's
    # pending ORM changes go first (nothing to do, and no round trip, when there are none)
    session.flush()
    org = get_org(session, org_id)
    model = role_model_for(org.role_model)
    ctx = _Context(
        session=session,
        org_id=org_id,
        org_name=org.name,
        now=now or utcnow(),
        members={},
        statuses={},
        workspaces={},
        origin=origin,
    )
    # only the members the plan names: a plan of one SCIM write reads one or two rows
    named = sorted({op.user for op in plan.operations if op.user} | _renamed_from(plan))
    standing: dict[str, tuple[str, str, str | None]] = {}  # before: for the events
    if members_seen is not None:
        for email in named:
            seen = members_seen.get(email)
            if seen is not None:
                ctx.members[email] = seen.id
                ctx.statuses[email] = seen.status
                standing[email] = (seen.status, seen.org_role, seen.idp_id)
        named = [email for email in named if email not in members_seen]
    for chunk in chunks(named):
        emails = {"org": org_id, "emails": list(chunk)}
        for member_id, email, status, org_role, idp_id in session.connection().execute(
            _STANDING_OF_EMAILS, emails
        ):
            ctx.members[email] = member_id
            ctx.statuses[email] = status
            standing[email] = (status, org_role, idp_id)
    before = dict(ctx.statuses)
    ctx.workspaces = dict(workspaces) if workspaces is not None else _workspace_ids(session, org_id)
    by_kind: dict[OpKind, list[Operation]] = {}
    for op in plan.operations:
        by_kind.setdefault(op.op, []).append(op)
    for kind in OP_KINDS:
        if kind in by_kind:
            _handler(kind)(ctx, by_kind[kind])
    insert_rows(session, _table("outbox"), ctx.messages)
    details = body["operations"] if body is not None else None
    if details is None or len(details) != len(plan.operations):
        details = [op.to_dict() for op in plan.operations]
    pairs = zip(plan.operations, details, strict=True)
    rows = [_audit(ctx, op, _with_loss(op, d, model, before), actor, plan_id) for op, d in pairs]
    audit_ids = _insert_audit(session, rows)
    plan_events(
        session,
        org_id,
        plan.operations,
        standing,
        audit_ids=audit_ids,
        plan_id=plan_id,
        now=ctx.now,
    )
    summary = Counter(op.op for op in plan.operations)
    return ApplyResult(len(plan.operations), len(ctx.messages), dict(sorted(summary.items())))


def _insert_audit(session: Session, rows: list[dict[str, Any]]) -> list[int]:
    """Insert the audit entries of an apply; their ids, in the rows' order."""
    if not rows:
        return []
    table = _table("audit_log")
    connection = session.connection()
    if len(rows) <= _RETURNING_AT_MOST:
        # a write's few entries: their ids come back from the insert itself; ascending,
        # they follow the rows' order (the ids of one insert are given in row order)
        return sorted(session.scalars(insert(table).returning(table.c.id), rows))
    if connection.dialect.name == "sqlite":
        # this transaction is the only writer (``BEGIN IMMEDIATE``) and an ``INTEGER
        # PRIMARY KEY`` takes the largest rowid plus one, so the entries of one insert take
        # the ids after the largest there is, in row order: one read of it and the driver's
        # executemany, not an insert binding 8 values a row through SQLAlchemy (a
        # 100-grant write: 0.4 ms of CPU less; for a few rows one statement is cheaper)
        after = connection.execute(_NEWEST_AUDIT_ID).scalar() or 0
        insert_rows(session, table, rows)
        return list(range(after + 1, after + 1 + len(rows)))
    # PostgreSQL: the ids drawn from the column's sequence in one statement, then the
    # rows with them through COPY. An insert returning them is one statement of 8
    # parameters a row, too long for the driver to keep its parsed form: a 100-grant
    # write parsed 800 placeholders again each time (several ms of CPU)
    ids = sorted(connection.execute(_AUDIT_IDS, {"n": len(rows)}).scalars())
    insert_rows(session, table, [{"id": i, **row} for i, row in zip(ids, rows, strict=True)])
    return ids


def _renamed_from(plan: Plan) -> set[str]:
    """The emails renamed members had before the plan."""
    return {str(op.from_) for op in plan.operations if op.op == "rename_member" and op.from_}


def _audit(
    ctx: _Context, op: Operation, detail: Mapping[str, Any], actor: str, plan_id: int | None
) -> dict[str, Any]:
    return {
        "org_id": ctx.org_id,
        "at": ctx.now,
        "actor": actor,
        "op": op.op,
        "user": op.user,
        "workspace": op.workspace,
        "detail": detail,
        "plan_id": plan_id,
    }


def _with_loss(
    op: Operation, detail: Mapping[str, Any], model: RoleModel, status: Mapping[str, str]
) -> Mapping[str, Any]:
    """The audit detail, with the kind of loss when the operation took something away."""
    who = str(op.from_) if op.op == "rename_member" else op.user
    kind = loss_kind(op, model, status.get(who)) if op.op in LOSS_OPS else None
    return detail if kind is None else {**detail, "loss": kind}


_a = _table("audit_log").c
_LOSSES_SINCE = select(_a.plan_id, _a.at, _a.user, _a.detail).where(
    _a.org_id == bindparam("org"),
    _a.at > bindparam("since"),
    _a.op.in_(LOSS_OPS),
)  # built once on the table's columns, bound per call


def losses_since(session: Session, org_id: int, since: datetime) -> int:
    """Losses applied to the org since ``since``, counted as plans count them: one per
    person per applied plan."""
    rows = session.execute(_LOSSES_SINCE, {"org": org_id, "since": since})
    return len({(plan, at, user) for plan, at, user, detail in rows if detail.get("loss")})


def _workspace_ids(session: Session, org_id: int) -> dict[str, int]:
    rows = session.execute(select(Workspace.name, Workspace.id).where(Workspace.org_id == org_id))
    return {name: ws_id for name, ws_id in rows}


def _create_workspaces(ctx: _Context, ops: list[Operation]) -> None:
    for op in ops:
        if op.workspace in ctx.workspaces or not op.workspace:
            raise PlanError(f"create_workspace {op.workspace!r}: it already exists")
    rows = [
        {
            "org_id": ctx.org_id,
            "name": op.workspace,
            "credits": op.credits or 0,
            "created_at": ctx.now,
        }
        for op in ops
    ]
    ctx.session.execute(insert(Workspace), rows)
    ctx.workspaces = _workspace_ids(ctx.session, ctx.org_id)


def _rename(ctx: _Context, ops: list[Operation]) -> None:
    params = []
    for op in ops:
        old, new = str(op.from_), str(op.to)
        member_id = ctx.members.get(old)
        if member_id is None:
            raise PlanError(f"rename_member {old}: no such member")
        if new in ctx.members:
            raise PlanError(f"rename_member {old} -> {new}: {new} is already a member")
        del ctx.members[old]
        ctx.members[new] = member_id
        ctx.statuses[new] = ctx.statuses.pop(old)
        params.append({"mid": member_id, "email": new, "idp": op.idp_id, "now": ctx.now})
    members = _table("members")
    ctx.session.execute(
        update(members)
        .where(members.c.id == bindparam("mid"))
        .values(
            email=bindparam("email"),
            idp_id=func.coalesce(bindparam("idp", type_=String(255)), members.c.idp_id),
            updated_at=bindparam("now"),
        ),
        params,
    )
    outbox = _table("outbox")  # an email not sent yet follows the member to the new address
    ctx.session.execute(
        update(outbox)
        .where(
            outbox.c.org_id == ctx.org_id,
            outbox.c.recipient == bindparam("old"),
            outbox.c.sent_at.is_(None),
        )
        .values(recipient=bindparam("new")),
        [{"old": str(op.from_), "new": str(op.to)} for op in ops],
    )


def _invite(ctx: _Context, ops: list[Operation]) -> None:
    rows = []
    for op in ops:
        if op.user in ctx.members:
            raise PlanError(f"invite {op.user}: already a member")
        if not op.org_role:
            raise PlanError(f"invite {op.user}: no org role")
        rows.append(
            {
                "org_id": ctx.org_id,
                "email": op.user,
                "org_role": op.org_role,
                "status": "invited",
                "origin": ctx.origin,
                "idp_id": op.idp_id,
                "invited_at": ctx.now,
                "updated_at": ctx.now,
            }
        )
        ctx.statuses[op.user] = "invited"
        if op.notify:
            ctx.messages.append(
                invite_message(ctx.org_id, ctx.org_name, op.user, "welcome", ctx.now)
            )
    insert_rows(ctx.session, _table("members"), rows)
    ctx.unread.extend(op.user for op in ops)


def _resend(ctx: _Context, ops: list[Operation]) -> None:
    ids = []
    for op in ops:
        if ctx.statuses.get(op.user) != "invited":
            raise PlanError(f"resend_invite {op.user}: not a pending invite")
        ids.append(ctx.member(op))
        ctx.messages.append(
            invite_message(ctx.org_id, ctx.org_name, op.user, "invite_resend", ctx.now)
        )
    # a reminder renews the invite: its age (for the next reminder and expiry) starts again
    _update_members(ctx, ids, invited_at=ctx.now, invite_sent_at=ctx.now)


def _update_members(ctx: _Context, ids: Sequence[int], **values: Any) -> None:
    members = _table("members")
    for chunk in chunks(ids):
        ctx.session.execute(
            update(members).where(members.c.id.in_(chunk)).values(updated_at=ctx.now, **values)
        )


def _reactivate(ctx: _Context, ops: list[Operation]) -> None:
    _update_members(ctx, [ctx.member(op) for op in ops], status="joined")


def _suspend(ctx: _Context, ops: list[Operation]) -> None:
    _update_members(ctx, [ctx.member(op) for op in ops], status="suspended")


def _set_org_role(ctx: _Context, ops: list[Operation]) -> None:
    params = [{"mid": ctx.member(op), "role": str(op.to), "now": ctx.now} for op in ops]
    members = _table("members")
    ctx.session.execute(
        update(members)
        .where(members.c.id == bindparam("mid"))
        .values(org_role=bindparam("role"), updated_at=bindparam("now")),
        params,
    )


def _delete_workspace_roles(ctx: _Context, pairs: list[dict[str, int]]) -> None:
    if not pairs:
        return
    roles = _table("workspace_roles")
    ctx.session.execute(
        delete(roles).where(
            and_(roles.c.member_id == bindparam("mid"), roles.c.workspace_id == bindparam("wid"))
        ),
        pairs,
    )


def _insert_workspace_roles(ctx: _Context, ops: list[Operation], field_name: str) -> None:
    rows = [
        {"member_id": ctx.member(op), "workspace_id": ctx.workspace(op), "role": role}
        for op in ops
        for role in sorted(set(_roles(getattr(op, field_name))))
    ]
    insert_rows(ctx.session, _table("workspace_roles"), rows)


def _roles(value: str | tuple[str, ...] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else value


def _add_to_workspace(ctx: _Context, ops: list[Operation]) -> None:
    _insert_workspace_roles(ctx, ops, "roles")


def _set_workspace_roles(ctx: _Context, ops: list[Operation]) -> None:
    _delete_workspace_roles(ctx, [{"mid": ctx.member(op), "wid": ctx.workspace(op)} for op in ops])
    _insert_workspace_roles(ctx, ops, "to")


def _remove_from_workspace(ctx: _Context, ops: list[Operation]) -> None:
    _delete_workspace_roles(ctx, [{"mid": ctx.member(op), "wid": ctx.workspace(op)} for op in ops])


def _remove_members(ctx: _Context, ops: list[Operation]) -> None:
    ids = [ctx.member(op) for op in ops]
    for op in ops:
        ctx.members.pop(op.user, None)
    for chunk in chunks(ids):  # workspace roles go with the member (ON DELETE CASCADE)
        ctx.session.execute(
            delete(Member).where(Member.id.in_(chunk)).execution_options(synchronize_session=False)
        )


def _revoke(ctx: _Context, ops: list[Operation]) -> None:
    for op in ops:
        if ctx.statuses.get(op.user) != "invited":
            raise PlanError(f"revoke_invite {op.user}: not a pending invite")
    _remove_members(ctx, ops)


_Handler = Callable[[_Context, list[Operation]], None]


def _handler(kind: OpKind) -> _Handler:
    """The bulk statement(s) that carry out every operation of ``kind``."""
    match kind:
        case "create_workspace":
            return _create_workspaces
        case "rename_member":
            return _rename
        case "invite":
            return _invite
        case "resend_invite":
            return _resend
        case "reactivate":
            return _reactivate
        case "set_org_role":
            return _set_org_role
        case "add_to_workspace":
            return _add_to_workspace
        case "set_workspace_roles":
            return _set_workspace_roles
        case "remove_from_workspace":
            return _remove_from_workspace
        case "suspend":
            return _suspend
        case "revoke_invite":
            return _revoke
        case "remove_from_org":
            return _remove_members
        case _:
            assert_never(kind)
