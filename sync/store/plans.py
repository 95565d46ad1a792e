"""Saved plans: make and store one, approve it (bound to its fingerprint), and apply
exactly that plan, by id or from a file, only while its fingerprint still matches the
current inputs ("stale plan" otherwise).

Approving a held plan applies it in the same step. If the directory moved on since it was
made, the org is re-planned: the fresh plan is applied under the approval while it stays
within it, and otherwise waits, held, with the reason the approval lapsed."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, assert_never

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from mappings.approval import beyond_approval
from mappings.operations import Plan
from mappings.state import format_time
from sync.db import write_session
from sync.errors import NotFound, PlanError, StalePlan
from sync.models import PLAN_STATUSES, PlanStatus, SavedPlan, is_plan_status, utcnow
from sync.reconcile import (
    Inputs,
    gather,
    lock_org,
    locked,
    plan_for,
    reconcile_in,
    record_replacement,
    save_plan,
    waiting_status,
)
from sync.store.platform import ApplyResult, apply_plan

__all__ = [
    "PLAN_STATUSES",
    "PlanRecord",
    "PlanStatus",
    "apply_saved",
    "apply_saved_in",
    "approve",
    "approve_plan",
    "create_plan",
    "create_plan_in",
    "discard_plan",
    "get_plan",
    "is_plan_status",
    "list_plans",
    "mark_stale",
    "plan_json",
    "read_plan",
    "replan_stale",
]


@dataclass(frozen=True, slots=True)
class PlanRecord:
    """A saved plan as read back: its status, who approved it, and its body
    (``Plan.to_dict()``)."""

    id: int
    status: PlanStatus
    fingerprint: str
    trigger: str
    created_at: datetime
    approved_by: str | None
    approved_at: datetime | None
    applied_at: datetime | None
    body: dict[str, Any]
    replaced_by: int | None = None

    @classmethod
    def of(cls, row: SavedPlan) -> PlanRecord:
        """The value of a row."""
        return cls(
            row.id,
            row.status,
            row.fingerprint,
            row.trigger,
            row.created_at,
            row.approved_by,
            row.approved_at,
            row.applied_at,
            dict(row.body or {}),
            row.replaced_by,
        )

    @property
    def plan(self) -> Plan:
        """The plan itself."""
        return Plan.from_dict(self.body)


def plan_json(p: PlanRecord, with_body: bool = True) -> dict[str, object]:
    """A saved plan as the API shows it."""
    out: dict[str, object] = {
        "id": p.id,
        "status": p.status,
        "fingerprint": p.fingerprint,
        "trigger": p.trigger,
        "created_at": format_time(p.created_at),
        "approved_by": p.approved_by,
        "approved_at": format_time(p.approved_at),
        "applied_at": format_time(p.applied_at),
        "summary": p.body.get("summary", {}),
        "held": p.body.get("held"),
        "replaced_by": p.replaced_by,
    }
    if with_body:
        out["plan"] = p.body
    return out


def create_plan(
    session_factory: sessionmaker[Session],
    org_id: int,
    *,
    trigger: str,
    users: Collection[str] | None = None,
    now: datetime | None = None,
) -> SavedPlan:
    """``create_plan_in`` in its own locked transaction."""
    with locked(session_factory, org_id) as session:
        return create_plan_in(session, org_id, trigger=trigger, users=users, now=now)


def create_plan_in(
    session: Session,
    org_id: int,
    *,
    trigger: str,
    users: Collection[str] | None = None,
    now: datetime | None = None,
) -> SavedPlan:
    """Plan the org from its current inputs and store the plan (``held`` if it must wait),
    with the mapping version the inputs were read at. The caller holds the org lock."""
    inputs = gather(session, org_id, now=now)
    plan = plan_for(inputs, now or utcnow(), users)
    return save_plan(
        session,
        org_id,
        plan,
        status=waiting_status(plan),
        trigger=trigger,
        mapping_version=inputs.mapping_version,
        users=users,
    )


def get_plan(session: Session, org_id: int, plan_id: int) -> SavedPlan:
    """A saved plan of the org; ``NotFound`` otherwise."""
    row = session.get(SavedPlan, plan_id)
    if row is None or row.org_id != org_id:
        raise NotFound(f"no plan {plan_id} in this organisation")
    return row


def read_plan(session: Session, org_id: int, plan_id: int) -> PlanRecord:
    """A saved plan of the org as a value; ``NotFound`` otherwise."""
    return PlanRecord.of(get_plan(session, org_id, plan_id))


def list_plans(
    session: Session,
    org_id: int,
    statuses: Sequence[PlanStatus] = (),
    limit: int | None = None,
) -> list[PlanRecord]:
    """The org's saved plans, newest first, optionally only of some statuses."""
    query = select(SavedPlan).where(SavedPlan.org_id == org_id)
    if statuses:
        query = query.where(SavedPlan.status.in_(statuses))
    query = query.order_by(SavedPlan.created_at.desc(), SavedPlan.id.desc())
    if limit is not None:
        query = query.limit(limit)
    return [PlanRecord.of(row) for row in session.scalars(query)]


def approve_plan(
    session: Session,
    org_id: int,
    plan_id: int,
    *,
    approver: str,
    fingerprint: str | None = None,
    now: datetime | None = None,
) -> SavedPlan:
    """Approve a waiting plan (the approval holds for its fingerprint only); a held plan is
    applied at once, re-planned first if the inputs changed. Returns the plan that now
    stands: the approved one, the one applied, or a fresh held one saying why.

    ``session`` must be a write transaction (``write_session``)."""
    lock_org(session, org_id)  # before touching the row: a reconcile may be retiring it
    row = get_plan(session, org_id, plan_id)
    if fingerprint is not None and fingerprint != row.fingerprint:
        raise PlanError(f"plan {plan_id} has fingerprint {row.fingerprint}, not {fingerprint}")
    held = row.body.get("held") is not None
    if not _awaits_approval(row.status, held):
        raise PlanError(f"plan {plan_id} is {row.status}; only pending or held plans need approval")
    row.status, row.approved_by, row.approved_at = "approved", approver, now or utcnow()
    session.flush()
    if not held:
        return row  # nothing waits on the approval: ``apply`` applies it
    if gather(session, org_id).fingerprint == row.fingerprint:  # exactly what was approved
        plan = Plan.from_dict(row.body)
        apply_plan(session, org_id, plan, actor=approver, plan_id=row.id, now=now, body=row.body)
        row.status, row.applied_at = "applied", now or utcnow()
        return row
    trigger = f"approval of plan {plan_id} by {approver}"
    result = reconcile_in(session, org_id, users=row.users, trigger=trigger, now=now)
    if result.plan_id is None:  # the fresh plan has nothing to do; this one was retired
        session.refresh(row)
        return row
    return get_plan(session, org_id, result.plan_id)


def _awaits_approval(status: PlanStatus, held: bool) -> bool:
    match status:
        case "pending" | "held":
            return True
        case "stale":
            # a held plan a later pull re-planned may still be approved: its approval
            # then covers the plan that replaced it, as far as it reaches
            return held
        case "approved" | "applied" | "discarded":
            return False
        case _:
            assert_never(status)


def approve(
    session_factory: sessionmaker[Session],
    org_id: int,
    plan_id: int,
    *,
    approver: str,
    fingerprint: str | None = None,
) -> SavedPlan:
    """``approve_plan`` in its own unit of work."""
    with write_session(session_factory) as session:
        return approve_plan(session, org_id, plan_id, approver=approver, fingerprint=fingerprint)


def apply_saved(
    session_factory: sessionmaker[Session],
    org_id: int,
    plan: int | Plan,
    *,
    actor: str,
    now: datetime | None = None,
) -> tuple[int, ApplyResult]:
    """``apply_saved_in`` in its own locked transaction; a stale saved plan is marked
    ``stale``."""
    now = now or utcnow()
    try:
        with locked(session_factory, org_id) as session:
            row, result = apply_saved_in(session, org_id, plan, actor=actor, now=now)
            return row.id, result
    except StalePlan as stale:
        fresh = mark_stale(session_factory, org_id, plan, actor=actor, now=now)
        if fresh is not None:
            raise StalePlan(f"{stale}; plan {fresh} was made from the current inputs "
                            f"in its place") from stale  # fmt: skip
        raise


def mark_stale(
    session_factory: sessionmaker[Session],
    org_id: int,
    plan: int | Plan,
    *,
    actor: str,
    now: datetime | None = None,
) -> int | None:
    """After a ``StalePlan``: a saved plan (by id) still waiting can never apply; the plan
    the current inputs give is stored in its place (``replan_stale``), whose id is
    returned (None: nothing is left to do, or the plan was a file)."""
    if not isinstance(plan, int):
        return None
    with write_session(session_factory) as session:
        return replan_stale(session, org_id, plan, actor=actor, now=now)


def replan_stale(
    session: Session, org_id: int, plan_id: int, *, actor: str, now: datetime | None = None
) -> int | None:
    """Mark a waiting plan whose inputs moved on stale and store the plan the current
    inputs give in its place (waiting, so the admin who asked for the stale one sees the
    fresh one first); the approval carries over when it covers every change of the fresh
    plan. Returns the fresh plan's id (None: nothing is left to do).

    ``session`` must be a write transaction."""
    lock_org(session, org_id)
    row = get_plan(session, org_id, plan_id)
    if row.status not in ("pending", "held", "approved"):
        return row.replaced_by
    now = now or utcnow()
    inputs = gather(session, org_id, None, now)
    fresh = plan_for(inputs, now, row.users)
    approved = row.status == "approved"
    row.status = "stale"
    if fresh.is_empty:
        record_replacement(session, org_id, [row], None)
        return None
    saved = save_plan(
        session,
        org_id,
        fresh,
        status=waiting_status(fresh),
        trigger=f"{actor}: re-plan of stale plan #{row.id}",
        mapping_version=inputs.mapping_version,
        users=row.users,
    )
    if approved and not beyond_approval(fresh, Plan.from_dict(row.body)):
        saved.status, saved.approved_by, saved.approved_at = (
            "approved",
            row.approved_by,
            row.approved_at,
        )
    record_replacement(session, org_id, [row], saved.id)
    return saved.id


def discard_plan(session: Session, org_id: int, plan_id: int) -> SavedPlan:
    """Turn down a plan that waits (pending, held or approved, not applied): it never
    applies. ``session`` must be a write transaction."""
    lock_org(session, org_id)
    row = get_plan(session, org_id, plan_id)
    if row.status not in ("pending", "held", "approved"):
        raise PlanError(f"plan {plan_id} is {row.status}; only a waiting plan can be discarded")
    row.status = "discarded"
    session.flush()
    return row


def apply_saved_in(
    session: Session,
    org_id: int,
    plan: int | Plan,
    *,
    actor: str,
    now: datetime,
) -> tuple[SavedPlan, ApplyResult]:
    """Apply a saved plan (by id) or a plan file's plan exactly as it is, if its
    fingerprint matches the current inputs and it needs no approval or has one. The
    caller holds the org lock."""
    row, body = _resolve(session, org_id, plan)
    inputs = gather(session, org_id)
    if body.fingerprint != inputs.fingerprint:
        raise StalePlan(
            f"stale plan: the directory, members or mapping changed since "
            f"{_name(row)} was made; make a new plan"
        )
    if row is None:
        body = _checked_file(body, inputs, now)
        row = save_plan(
            session,
            org_id,
            body,
            status="pending",
            trigger=actor,
            mapping_version=inputs.mapping_version,
        )
    if row.status == "applied":
        raise PlanError(f"plan {row.id} was already applied")
    if body.held is not None and row.status != "approved":
        raise PlanError(
            f"plan {row.id} is held ({body.held.why}: {body.held.detail}); approve it first"
        )
    result = apply_plan(session, org_id, body, actor=actor, plan_id=row.id, now=now)
    row.status, row.applied_at = "applied", now
    return row, result


def _name(row: SavedPlan | None) -> str:
    return f"plan {row.id}" if row is not None else "the plan file"


def _resolve(session: Session, org_id: int, plan: int | Plan) -> tuple[SavedPlan | None, Plan]:
    if isinstance(plan, int):
        row = get_plan(session, org_id, plan)
        return row, Plan.from_dict(row.body)
    # a plan file: use the stored plan with this fingerprint and these operations, if any
    for row in session.scalars(
        select(SavedPlan)
        .where(SavedPlan.org_id == org_id, SavedPlan.fingerprint == plan.fingerprint)
        .order_by(SavedPlan.id.desc())
    ):
        if row.body["operations"] == plan.to_dict()["operations"]:
            return row, Plan.from_dict(row.body)  # what was stored, not what the file says
    return None, plan


def _checked_file(plan: Plan, inputs: Inputs, now: datetime) -> Plan:
    """A plan file rolebridge never stored is applied only if it is exactly what the
    current inputs give (so an edited file cannot add operations or drop a hold)."""
    fresh = plan_for(inputs, now)
    if fresh.to_dict()["operations"] != plan.to_dict()["operations"]:
        raise PlanError(
            "the plan file's operations are not what the current inputs give "
            "(edited, or made for some users only); make a new plan"
        )
    return fresh
