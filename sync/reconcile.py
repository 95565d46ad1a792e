"""Reconcile one org: gather the mirror, the platform state and the current mapping, let
the core decide, then act in one transaction.

One reconcile per org runs at a time: on PostgreSQL a transaction-level advisory lock
keyed by the org, on SQLite the database write lock taken up front (``BEGIN IMMEDIATE``).
A second caller waits and then plans from what the first one left, so it never repeats
an invite. A plan that is held (over ``max_removals``) or under ``apply: review`` is
stored and waits for an approval bound to its fingerprint; a plan made after the directory
moved on is applied under that approval while it stays within it (``sync.approvals``).

The loss budget is one per org over the policy's ``removal_window``: ``gather`` counts the
losses already applied in the window (whatever the path: pull, SCIM write, CLI or API)
and the core weighs the plan's own losses against what is left.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import (
    ColumnElement,
    Connection,
    Label,
    bindparam,
    exists,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.orm import Session, sessionmaker

from mappings.directory import Directory
from mappings.fingerprint import fingerprint
from mappings.mapping import Policy, RoleMapping
from mappings.operations import Plan, loss_kind
from mappings.planner import make_plan
from mappings.rolemodel import RoleModel
from mappings.state import PlatformState
from sync.approvals import Approval, approval_of, standing_approval
from sync.bulk import insert_one
from sync.db import write_session
from sync.errors import Forbidden, NotFound
from sync.mirror import load_directory
from sync.mirror.held import HeldSnapshot, held_directory
from sync.models import Base, Organisation, PlanStatus, SavedPlan, SyncRun, utcnow
from sync.scoped import MemberRow, load_scoped, member_count
from sync.store.events import emit, held_event
from sync.store.mappings import CurrentMapping, current_mapping, org_mapping_and
from sync.store.orgs import get_org, org_row, role_model_for
from sync.store.platform import ApplyResult, apply_plan, load_state, losses_since

__all__ = [
    "Inputs",
    "ReconcileResult",
    "gather",
    "lock_org",
    "locked",
    "may_lose",
    "plan_for",
    "reconcile",
    "record_replacement",
    "reconcile_in",
    "reconcile_write",
    "save_plan",
    "try_lock_with",
    "waited_for_lock",
    "waiting_status",
    "with_budget",
]

_LOCK_CLASS = 0x52420001  # "RB" + 1: the advisory lock space of org reconciles
_HELD = "rolebridge.org_locks"  # session.info: (innermost transaction, org ids it locked)
_WAITED = "rolebridge.lock_waited"  # session.info: ``locked`` found the lock taken
_LOCK = text("SELECT pg_advisory_xact_lock(:cls, :org)")
_TRY_LOCK = text("SELECT pg_try_advisory_xact_lock(:cls, :org)")
_RUNS = Base.metadata.tables[SyncRun.__tablename__]
_INSERT_RUN = insert(_RUNS).returning(_RUNS.c.id)  # built once, bound per call


@dataclass(frozen=True, slots=True)
class Inputs:
    """Everything the core needs about one org, read in one transaction."""

    directory: Directory
    state: PlatformState
    mapping: RoleMapping
    mapping_version: int
    role_model: RoleModel
    earlier_losses: int = 0  # losses applied within the policy's removal window
    member_count: int | None = None  # the org's members, when ``state`` holds only some
    scoped: bool = False  # read for some users only (``sync.scoped``)
    waiting: bool = False  # a plan of the org waited when these were read for some users
    # the org's workspaces (name -> row id) as the scoped gather read them, for the apply
    workspace_ids: dict[str, int] | None = None
    # the member rows it read and the emails it found none for, likewise
    members_seen: dict[str, MemberRow | None] | None = None
    # ``earlier_losses`` and ``member_count`` read (``gather(budget=False)`` leaves them out)
    budget_read: bool = True

    @property
    def fingerprint(self) -> str:
        """The fingerprint a plan made from these inputs carries."""
        return fingerprint(self.directory, self.state, self.mapping, self.role_model)


@dataclass(frozen=True, slots=True)
class ReconcileResult:
    """What a reconcile did. ``status``: ``planned`` (dry run), ``empty``, ``applied``,
    ``held`` (waits for approval) or ``pending`` (``apply: review``)."""

    status: Literal["planned", "empty", "applied", "held", "pending"]
    plan: Plan
    plan_id: int | None = None
    run_id: int | None = None
    applied: ApplyResult | None = None


@contextmanager
def locked(
    session_factory: sessionmaker[Session], org_id: int, bind: Connection | None = None
) -> Iterator[Session]:
    """A transaction holding the org's reconcile lock until it commits or rolls back.
    Whether it had to wait for the lock (another transaction held it) is
    ``waited_for_lock``: a SCIM write that waited queues its users (``sync.backlog``).
    ``bind``: the caller's connection, as for ``sync.db.write_session``."""
    with write_session(session_factory, bind) as session:
        _lock(session, org_id, note_wait=True)
        yield session


def waited_for_lock(session: Session) -> bool:
    """Whether this ``locked`` transaction found the org's lock taken and waited for it."""
    return bool(session.info.get(_WAITED))


def gather(
    session: Session,
    org_id: int,
    held: HeldSnapshot | None = None,
    now: datetime | None = None,
    users: Collection[str] | None = None,
    current: CurrentMapping | None = None,
    budget: bool = True,
    waiting: bool | None = None,
) -> Inputs:
    """Read the org's directory (``held`` when the mirror still matches it), state,
    current mapping, role model and the losses applied within the removal window.

    ``users``: read only what a plan of these users needs (``sync.scoped``), unless the
    mapping asks for review or a plan of the org waits (``waiting``): those plans are the
    whole org's. ``current``: the org's current mapping if the caller read it already in
    this transaction, and ``waiting`` whether a plan of the org waits, likewise
    (``_WAITING``). ``budget=False``: a scoped gather leaves out what only weighs losses
    (the losses in the window, the member count: ``Inputs.budget_read`` is then False)
    for the caller to add with ``with_budget`` if its plan has any."""
    org = get_org(session, org_id)
    if current is None:
        current = current_mapping(session, org_id)
    policy = current.mapping.policy
    model = role_model_for(org.role_model)
    if users is None:
        waiting = False
    elif waiting is None:
        waiting = bool(session.scalar(_WAITING_ALONE, {"org": org_id}))
    if users is not None and held is None and policy.apply != "review" and not waiting:
        workspace_ids: dict[str, int] = {}
        members_seen: dict[str, MemberRow | None] = {}
        directory, state = load_scoped(
            session,
            org_id,
            users,
            model.top_org_role,
            workspace_ids=workspace_ids,
            members_seen=members_seen,
        )
        inputs = Inputs(
            directory=directory,
            state=state,
            mapping=current.mapping,
            mapping_version=current.version,
            role_model=model,
            scoped=True,
            workspace_ids=workspace_ids,
            members_seen=members_seen,
            budget_read=False,
        )
        return with_budget(session, org_id, inputs, now) if budget else inputs
    earlier = _earlier_losses(session, org_id, policy, now)
    whole = held_directory(session, org_id, held) if held is not None else None
    return Inputs(
        directory=whole if whole is not None else load_directory(session, org_id),
        state=load_state(session, org_id),
        mapping=current.mapping,
        mapping_version=current.version,
        role_model=model,
        earlier_losses=earlier,
        waiting=waiting,
    )


def with_budget(
    session: Session, org_id: int, inputs: Inputs, now: datetime | None = None
) -> Inputs:
    """Scoped ``inputs`` with what weighs their plan's losses: the losses applied within
    the removal window and, for a percentage budget, the member count."""
    policy = inputs.mapping.policy
    earlier = _earlier_losses(session, org_id, policy, now)
    count = None
    if isinstance(policy.max_removals, str):
        count = _bounded_count(session, org_id, policy, inputs.state, earlier)
    return replace(inputs, earlier_losses=earlier, member_count=count, budget_read=True)


def _earlier_losses(session: Session, org_id: int, policy: Policy, now: datetime | None) -> int:
    """The losses applied to the org within the policy's removal window (0 without one)."""
    window = policy.window()
    return losses_since(session, org_id, (now or utcnow()) - window) if window else 0


def may_lose(plan: Plan, model: RoleModel) -> bool:
    """Whether a plan takes anything from anyone: only then do the budget's inputs weigh
    on it (``make_plan`` reads them for its losses alone). A rename counts as a loss
    whatever the member's status, so the answer errs towards reading them."""
    return any(loss_kind(op, model, "joined") is not None for op in plan.operations)


_WAITING: Label[bool] = (
    exists()
    .where(
        SavedPlan.org_id == bindparam("org"),
        SavedPlan.status.in_(("pending", "held", "approved")),
    )
    .label("waiting")
)
"""Whether a plan of the org (bound: ``org``) waits (pending, held or approved), as a column."""
_WAITING_ALONE = select(_WAITING)


def save_plan(
    session: Session,
    org_id: int,
    plan: Plan,
    *,
    status: PlanStatus,
    trigger: str,
    mapping_version: int | None = None,
    users: Collection[str] | None = None,
    applied_at: datetime | None = None,
) -> SavedPlan:
    """Store a plan; a waiting plan with the same fingerprint is reused, not duplicated.
    ``applied_at``: of a plan stored as applied in the transaction that applies it."""
    body = plan.to_dict()
    if status in ("pending", "held"):
        for existing in session.scalars(
            select(SavedPlan).where(
                SavedPlan.org_id == org_id,
                SavedPlan.fingerprint == plan.fingerprint,
                SavedPlan.status.in_(("pending", "held", "approved")),
            )
        ):
            # the same waiting plan, whatever its hold's words said when it was stored
            if _same_wait(existing.body, body):
                if existing.status == status:
                    existing.body = body  # only the hold's words (the window count) moved
                return existing
    columns = {
        "org_id": org_id,
        "fingerprint": plan.fingerprint,
        "status": status,
        "body": body,
        "trigger": trigger,
        "mapping_version": mapping_version,
        "users": sorted(users) if users is not None else None,
        "applied_at": applied_at,
    }
    if status == "applied":
        # applied in this transaction, never changed after: no ORM unit of work for it
        return insert_one(session, SavedPlan, columns)
    row = SavedPlan(**columns)
    session.add(row)
    session.flush()
    if status in ("pending", "held"):
        emit(session, org_id, [held_event(row.id, status, plan)])
    return row


def reconcile(
    session_factory: sessionmaker[Session],
    org_id: int,
    *,
    dry_run: bool,
    users: Collection[str] | None = None,
    trigger: str,
    now: datetime | None = None,
    complete: bool = True,
    held: HeldSnapshot | None = None,
    run_id: int | None = None,
    allow: Callable[[Session, Plan], None] | None = None,
) -> ReconcileResult:
    """Plan the org (only ``users``, by email or IdP id, when given) and, unless
    ``dry_run``, apply it or store it for approval, all in one transaction.

    ``complete=False`` says a snapshot may be partial: the plan then removes no one.
    ``held``: the directory a pull just mirrored, used instead of reading it back.
    ``run_id``: the caller's run (a pull's), which the reconcile writes into and the
    caller closes, failed or not; without it the reconcile records a run of its own.
    ``allow``: the caller's authority over the plan, asked under the org lock before
    anything is acted on (it raises ``Forbidden``; then nothing is kept, no run either).
    """
    now = now or utcnow()
    if dry_run:
        with session_factory() as session:
            inputs = gather(session, org_id, held, now)
        plan = plan_for(inputs, now, users, complete)
        return ReconcileResult("planned", plan)
    try:
        return _reconcile(
            session_factory, org_id, users, trigger, now, complete, held, run_id, allow
        )
    except Forbidden:
        raise  # refused before acting: nothing was tried
    except Exception as exc:
        if run_id is not None:
            raise  # the caller's run says it failed
        # the work was rolled back; the run history still says it failed, and why
        with session_factory.begin() as session:
            session.add(
                SyncRun(
                    org_id=org_id,
                    trigger=trigger,
                    started_at=now,
                    finished_at=utcnow(),
                    outcome="error",
                    error=f"{type(exc).__name__}: {exc}"[:2000],
                )
            )
        raise


def _reconcile(
    session_factory: sessionmaker[Session],
    org_id: int,
    users: Collection[str] | None,
    trigger: str,
    now: datetime,
    complete: bool,
    held: HeldSnapshot | None,
    run_id: int | None,
    allow: Callable[[Session, Plan], None] | None = None,
) -> ReconcileResult:
    with locked(session_factory, org_id) as session:
        return _reconcile_locked(
            session, org_id, users, trigger, now, complete, held, run_id, allow
        )


def reconcile_in(
    session: Session,
    org_id: int,
    *,
    users: Collection[str] | None,
    trigger: str,
    now: datetime | None = None,
    complete: bool = True,
) -> ReconcileResult:
    """Reconcile inside the caller's transaction, so that the change that caused it (a
    SCIM write) and its plan commit or roll back together. The caller's transaction must
    be a write transaction (``write_session`` on SQLite); the org's lock is taken here."""
    _lock(session, org_id)
    return _reconcile_locked(session, org_id, users, trigger, now or utcnow(), complete)


def reconcile_write(
    session: Session, org_id: int, *, users: Collection[str], trigger: str
) -> ReconcileResult | None:
    """``reconcile_in`` for a write whose transaction took the org's lock at its start
    (``locked``: a SCIM write's, docs/architecture.md section 7.3); ``None`` when the org
    has no mapping yet (it only collects its directory).
    The mapping is read once, for both the check and the plan."""
    _lock(session, org_id)  # held already: no round trip
    # one statement for the org, its mapping and whether a plan of it waits
    org, current, waiting = org_mapping_and(session, org_id, _WAITING)
    if current is None:
        return None
    return _reconcile_locked(
        session,
        org_id,
        users,
        trigger,
        utcnow(),
        True,
        current=current,
        org=org,
        waiting=bool(waiting),
    )


def lock_org(session: Session, org_id: int, *, wait: bool = True) -> bool:
    """Take the org's reconcile lock in the caller's write transaction; with ``wait=False``
    only if it is free at once (whether it holds it is the answer)."""
    return _lock(session, org_id, wait=wait)


def try_lock_with(
    session: Session, org_id: int, also: ColumnElement[Any], **params: Any
) -> tuple[bool, Any]:
    """``lock_org(wait=False)`` and, in the same statement, the value of ``also`` (a
    column bound by ``params`` and ``org``): a write polling for its pass asks both in one
    round trip (PostgreSQL). The value is ``None`` when the transaction held the lock
    already."""
    if _holds(session, org_id):
        return True, None
    statement = _try_with(also)
    # Core statements: on the connection, without the ORM session's execute around them
    conn = session.connection()
    row = conn.execute(statement, {"cls": _LOCK_CLASS, "org": org_id, **params}).one()
    if row[0]:
        _held(session, org_id)
    return bool(row[0]), row[1]


@functools.cache
def _try_with(also: ColumnElement[Any]) -> Any:
    """``try_lock_with``'s statement, built once per ``also`` (a column's hash is its
    identity)."""
    return select(func.pg_try_advisory_xact_lock(bindparam("cls"), bindparam("org")), also)


def _lock(session: Session, org_id: int, note_wait: bool = False, wait: bool = True) -> bool:
    """Take the org's lock in this transaction; whether it holds it (``False`` only with
    ``wait=False``, when another transaction holds it). ``note_wait``: ask without
    waiting first, and mark the session (``waited_for_lock``) when it then has to wait."""
    conn = session.connection()
    if conn.dialect.name != "postgresql":
        return True  # SQLite: the write transaction's database lock serialises writers
    if _holds(session, org_id):
        return True
    params = {"cls": _LOCK_CLASS, "org": org_id}
    if note_wait or not wait:
        # the same one statement when the lock is free; a second one to wait otherwise
        if not conn.execute(_TRY_LOCK, params).scalar():
            if not wait:
                return False
            session.info[_WAITED] = True
            conn.execute(_LOCK, params)
    else:
        conn.execute(_LOCK, params)
    _held(session, org_id)
    return True


def _holds(session: Session, org_id: int) -> bool:
    """Whether this transaction took the org's lock already: the same innermost one, so
    no savepoint since rolled back took it. It is not asked again: a SCIM write's
    transaction takes it at its start (``locked``) and its reconcile would ask again."""
    current = session.get_nested_transaction() or session.get_transaction()
    held = session.info.get(_HELD)
    return held is not None and held[0] is current and org_id in held[1]


def _held(session: Session, org_id: int) -> None:
    """Note that this transaction holds the org's lock."""
    current = session.get_nested_transaction() or session.get_transaction()
    held = session.info.get(_HELD)
    if held is None or held[0] is not current:
        held = (current, set[int]())
        session.info[_HELD] = held
    held[1].add(org_id)


def _reconcile_locked(
    session: Session,
    org_id: int,
    users: Collection[str] | None,
    trigger: str,
    now: datetime,
    complete: bool,
    held: HeldSnapshot | None = None,
    run_id: int | None = None,
    allow: Callable[[Session, Plan], None] | None = None,
    current: CurrentMapping | None = None,
    org: Organisation | None = None,
    waiting: bool | None = None,
) -> ReconcileResult:
    """Plan and act under the org's lock, already taken. ``org``: the org's row when the
    caller read it already (read here otherwise); ``current``: its mapping, likewise."""
    # ``org`` is held for the whole pass: the session's identity map holds rows weakly, so
    # without a reference each ``get_org`` (gather, its mapping, the scoped state, the
    # apply) would read the row again
    org = org if org is not None else org_row(session, org_id)
    inputs = gather(session, org_id, held, now, users, current, budget=False, waiting=waiting)
    if inputs.waiting:
        # a waiting plan is the whole org's: plan the whole org again, so that the plan
        # of a few users neither retires it nor leaves a change it reverses in it
        users = None
    plan = plan_for(inputs, now, users, complete)
    if not inputs.budget_read and may_lose(plan, inputs.role_model):
        # the budget weighs losses only: a plan of gains alone (an invite, a role given)
        # is the same whatever it says, so the window and the count are read for losses
        inputs = with_budget(session, org_id, inputs, now)
        plan = plan_for(inputs, now, users, complete)
    if users is not None and plan.held is not None and plan.held.why == "max_removals":
        # over the budget, the plan of a few users widens to the whole org, so the losses
        # beyond the budget (one SCIM write each) wait together in one held plan
        users = None
        if inputs.scoped:
            inputs = gather(session, org_id, held, now, current=current)
        plan = plan_for(inputs, now, None, complete)
    if allow is not None:
        allow(session, plan)
    if inputs.scoped:
        # gathered in this locked transaction while no plan of the org waited: no
        # approval stands and none is stale
        approval, retired = approval_of(None, plan), Retired((), None)
    else:
        approval = standing_approval(session, org_id, plan)  # read before it is retired
        retired = _retire_stale_plans(session, org_id, plan.fingerprint)
    # a reconcile's own run is added once it has acted: one INSERT with its outcome, not
    # an INSERT before and an UPDATE after (nothing the acting writes refers to it)
    result = _act(session, org_id, plan, inputs, trigger, users, now, approval)
    summary = dict(plan.summary)
    if run_id is None:
        # a Core INSERT: no object for the unit of work to track, nothing here reads it
        # back (the saved plan it names was flushed by ``save_plan``)
        values = {"org_id": org_id, "trigger": trigger, "started_at": now, "counts": summary}
        done = {"finished_at": utcnow(), "outcome": result.status, "plan_id": result.plan_id}
        run_id = session.execute(_INSERT_RUN, values | done).scalar_one()
    else:
        run = _run(session, org_id, trigger, now, run_id)
        run.finished_at = utcnow()
        run.outcome = result.status
        run.plan_id = result.plan_id
        run.counts = {**run.counts, "plan": summary}
    session.flush()
    if retired.rows:
        whole = users is None or inputs.mapping.policy.apply == "review"
        _replace_stale(session, org_id, retired, result, None if whole else users, now)
    return ReconcileResult(result.status, plan, result.plan_id, run_id, result.applied)


def _bounded_count(
    session: Session, org_id: int, policy: Policy, state: PlatformState, earlier: int
) -> int:
    """The org's member count for a percentage budget, counted only as far as it matters.

    A scoped plan's losers are among the members it read (``state``; a rename counts
    one person under two emails, hence twice as many). Once the org has more members
    than a budget letting all of those through on top of the ``earlier`` losses needs,
    the plan is the same whatever the org's size, so the count stops there: a write in a
    big org reads a few index entries, not the whole org's. The count is never above the
    org's, so a loss is never let through that the whole count would hold."""
    percent = float(str(policy.max_removals).rstrip("%"))
    if percent <= 0:
        return 0  # no loss goes through, whatever the size
    enough = math.ceil((2 * len(state.members) + earlier + 1) * 100 / percent) + 1
    return member_count(session, org_id, at_most=enough)


def _run(session: Session, org_id: int, trigger: str, now: datetime, run_id: int | None) -> SyncRun:
    """The caller's run, or a new one of this reconcile's own."""
    if run_id is not None:
        run = session.get(SyncRun, run_id)
        if run is None:
            raise NotFound(f"no run with id {run_id}")
        return run
    run = SyncRun(org_id=org_id, trigger=trigger, started_at=now)
    session.add(run)
    return run


@dataclass(frozen=True, slots=True)
class Retired:
    """The waiting plans a reconcile marked stale, and which of them had been approved."""

    rows: tuple[SavedPlan, ...]
    approved: SavedPlan | None  # the newest one approved and not yet applied


def _retire_stale_plans(session: Session, org_id: int, current: str) -> Retired:
    """Waiting plans made from other inputs can never apply: mark them stale."""
    rows = tuple(
        session.scalars(
            select(SavedPlan)
            .where(
                SavedPlan.org_id == org_id,
                SavedPlan.status.in_(("pending", "held", "approved")),
                SavedPlan.fingerprint != current,
            )
            .order_by(SavedPlan.id)
        )
    )
    approved = [r for r in rows if r.status == "approved"]
    for row in rows:
        row.status = "stale"
    return Retired(rows, approved[-1] if approved else None)


def _scope(rows: Collection[SavedPlan]) -> set[str] | None:
    """The users the plans were made for together (None: the whole org)."""
    users: set[str] = set()
    for row in rows:
        if row.users is None:
            return None
        users.update(row.users)
    return users


def _replace_stale(
    session: Session,
    org_id: int,
    retired: Retired,
    done: ReconcileResult,
    done_scope: Collection[str] | None,
    now: datetime,
) -> None:
    """A stale plan never strands a decision: what it would have done is planned again at
    once from the current inputs, and the fresh plan waits in its place (held, or pending
    review), or applies when nothing holds it; an approval carries over only to a fresh
    plan it covers (``mappings.approval``). The reconcile's own plan stands in their place
    when it was made for at least their users."""
    scope = _scope(retired.rows)
    if done_scope is None or (scope is not None and scope <= set(done_scope)):
        record_replacement(session, org_id, retired.rows, done.plan_id)
        return
    names = ", ".join(f"#{r.id}" for r in retired.rows)
    trigger = f"re-plan of stale plan {names}"
    inputs = gather(session, org_id, None, now)
    plan = plan_for(inputs, now, scope)
    approval = approval_of(retired.approved, plan)
    run = _run(session, org_id, trigger, now, None)
    fresh = _act(session, org_id, plan, inputs, trigger, scope, now, approval)
    run.finished_at, run.outcome, run.plan_id = utcnow(), fresh.status, fresh.plan_id
    run.counts = dict(plan.summary)
    record_replacement(session, org_id, retired.rows, fresh.plan_id)


def record_replacement(
    session: Session, org_id: int, stale: Collection[SavedPlan], fresh_id: int | None
) -> None:
    """Link the stale plans to the plan made in their place (None: nothing was left to do).
    The one place where every re-plan of a stale plan is recorded (a reconcile's and
    ``sync.store.plans.replan_stale``'s): its event and alert belong here."""
    for row in stale:
        if row.id != fresh_id:
            row.replaced_by = fresh_id
    session.flush()


def plan_for(
    inputs: Inputs,
    now: datetime,
    users: Collection[str] | None = None,
    complete: bool = True,
) -> Plan:
    """The plan of gathered inputs, its losses weighed with those already applied."""
    if inputs.mapping.policy.apply == "review":
        # A plan waiting for review must carry every pending change of the org: a plan
        # of only the users one write touched would retire the earlier waiting plan and
        # hide its changes from the reviewer.
        users = None
    return make_plan(
        inputs.directory,
        inputs.state,
        inputs.mapping,
        inputs.role_model,
        now=now,
        users=users,
        complete=complete,
        earlier_losses=inputs.earlier_losses,
        member_count=inputs.member_count,
    )


def _same_wait(a: dict[str, Any], b: dict[str, Any]) -> bool:
    why = [(d.get("held") or {}).get("why") for d in (a, b)]
    return bool(a["operations"] == b["operations"] and why[0] == why[1])


def _same_plan(row: SavedPlan, plan: Plan) -> bool:
    return row.fingerprint == plan.fingerprint and row.body["operations"] == [
        op.to_dict() for op in plan.operations
    ]


def _reapproved(
    session: Session,
    org_id: int,
    plan: Plan,
    approved: SavedPlan,
    inputs: Inputs,
    trigger: str,
    users: Collection[str] | None,
) -> SavedPlan:
    """The fresh plan (the waiting one, if a pull already stored it), approved by the
    approval of the plan it replaces."""
    status = waiting_status(plan)
    saved = save_plan(
        session,
        org_id,
        plan,
        status=status,
        trigger=f"{trigger} (re-planned from plan {approved.id})",
        mapping_version=inputs.mapping_version,
        users=users,
    )
    saved.approved_by, saved.approved_at = approved.approved_by, approved.approved_at
    approved.status = "stale"  # superseded by the fresh plan
    return saved


def waiting_status(plan: Plan) -> Literal["pending", "held"]:
    """How a saved plan waits: ``held`` for a hold, ``pending`` when only review is asked."""
    return "held" if plan.held is not None and plan.held.why != "review" else "pending"


def _act(
    session: Session,
    org_id: int,
    plan: Plan,
    inputs: Inputs,
    trigger: str,
    users: Collection[str] | None,
    now: datetime,
    approval: Approval,
) -> ReconcileResult:
    if plan.is_empty:
        return ReconcileResult("empty", plan)
    if plan.held is not None:
        approved = approval.row
        if approved is None:
            plan = approval.explain(plan)
            status = waiting_status(plan)
            saved = save_plan(
                session,
                org_id,
                plan,
                status=status,
                trigger=trigger,
                mapping_version=inputs.mapping_version,
                users=users,
            )
            if approval.lapsed is not None:  # the waiting plan now says why it still waits
                saved.body = plan.to_dict()
            return ReconcileResult(status, plan, saved.id)
        saved = (
            approved
            if _same_plan(approved, plan)
            else _reapproved(session, org_id, plan, approved, inputs, trigger, users)
        )
    else:
        saved = save_plan(
            session,
            org_id,
            plan,
            status="applied",
            trigger=trigger,
            mapping_version=inputs.mapping_version,
            users=users,
            applied_at=now,  # stored with it (a failed apply rolls the row back too)
        )
    applied = apply_plan(
        session,
        org_id,
        plan,
        actor=trigger,
        plan_id=saved.id,
        now=now,
        body=saved.body,
        workspaces=inputs.workspace_ids,
        members_seen=inputs.members_seen,
    )
    if saved.status != "applied" or saved.applied_at != now:
        saved.status, saved.applied_at = "applied", now
    return ReconcileResult("applied", plan, saved.id, applied=applied)
