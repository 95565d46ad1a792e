"""Saved plans as use cases: create one, approve one, apply one, discard one that waits
(docs/architecture.md sections 6.6 and 8.4), the same from the admin API, the admin
pages and the CLI.

Each opens its transaction, takes the org lock, checks the caller's role against the
plan (and, when an approval re-plans, against the fresh plan too, with the members as
they were; a refusal rolls the whole approval back), and writes the audit entries."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from mappings.authority import Caller
from mappings.operations import Plan
from sync.db import write_session
from sync.errors import StalePlan
from sync.models import utcnow
from sync.reconcile import lock_org
from sync.services.common import allow_admin_action, allow_plan, state_for_checks
from sync.store.audit import record_audit
from sync.store.orgs import get_org, role_model_for
from sync.store.plans import (
    PlanRecord,
    apply_saved_in,
    create_plan_in,
    get_plan,
    mark_stale,
)
from sync.store.plans import (
    approve_plan as approve_in,
)
from sync.store.plans import (
    discard_plan as discard_in,
)
from sync.store.platform import ApplyResult

__all__ = [
    "APPROVE_PLAN",
    "DISCARD_PLAN",
    "AppliedPlan",
    "Discarded",
    "apply_plan",
    "approve_plan",
    "create_plan",
    "discard_plan",
]

APPROVE_PLAN = "approve_plan"
DISCARD_PLAN = "discard_plan"


@dataclass(frozen=True, slots=True)
class AppliedPlan:
    """The plan applied (as it now stands, ``applied``) and what applying it did."""

    record: PlanRecord
    result: ApplyResult


@dataclass(frozen=True, slots=True)
class Discarded:
    """The plan turned down and how many operations it would have made."""

    plan_id: int
    operations: int


def create_plan(
    session_factory: sessionmaker[Session],
    org: int | str,
    caller: Caller,
    *,
    users: Collection[str] | None = None,
    now: datetime | None = None,
) -> PlanRecord:
    """Plan the org from its current inputs and store the plan for review (``held`` if
    it must wait); the caller's name is the plan's trigger."""
    with write_session(session_factory) as session:
        row = get_org(session, org)
        lock_org(session, row.id)
        allow_admin_action(role_model_for(row.role_model), caller)
        saved = create_plan_in(session, row.id, trigger=caller.actor, users=users, now=now)
        return PlanRecord.of(saved)


def approve_plan(
    session_factory: sessionmaker[Session],
    org: int | str,
    plan_id: int,
    caller: Caller,
    *,
    fingerprint: str | None = None,
) -> PlanRecord:
    """Approve a waiting plan by the fingerprint the caller saw. Approving a held plan
    applies it, re-planned if the directory moved on; returns the plan that now stands
    (the approved one, the one applied, or a fresh held one saying why)."""
    with write_session(session_factory) as session:
        org_row = get_org(session, org)
        lock_org(session, org_row.id)
        model = role_model_for(org_row.role_model)
        before = state_for_checks(session, org_row.id, caller)
        asked = Plan.from_dict(get_plan(session, org_row.id, plan_id).body)
        allow_plan(model, caller, asked, before)
        row = approve_in(
            session, org_row.id, plan_id, approver=caller.actor, fingerprint=fingerprint
        )
        if row.id != plan_id and row.status == "applied":
            allow_plan(model, caller, Plan.from_dict(row.body), before)
        detail = {"op": APPROVE_PLAN, "plan": plan_id, "fingerprint": row.fingerprint}
        record_audit(session, org_row.id, caller.actor, APPROVE_PLAN, "", detail, plan_id=plan_id)
        return PlanRecord.of(row)


def apply_plan(
    session_factory: sessionmaker[Session],
    org: int | str,
    plan: int | Plan,
    caller: Caller,
    *,
    now: datetime | None = None,
) -> AppliedPlan:
    """Apply a saved plan (by id) or a plan file's plan exactly as it is, while its
    fingerprint matches the current inputs (a stale saved plan is marked ``stale``)."""
    now = now or utcnow()
    org_id: int | None = None
    try:
        with write_session(session_factory) as session:
            org_row = get_org(session, org)
            org_id = org_row.id
            lock_org(session, org_id)
            asked = (
                Plan.from_dict(get_plan(session, org_id, plan).body)
                if isinstance(plan, int)
                else plan
            )
            allow_plan(
                role_model_for(org_row.role_model),
                caller,
                asked,
                state_for_checks(session, org_id, caller),
            )
            row, result = apply_saved_in(session, org_id, plan, actor=caller.actor, now=now)
            return AppliedPlan(PlanRecord.of(row), result)
    except StalePlan as stale:
        fresh = None
        if org_id is not None:
            fresh = mark_stale(session_factory, org_id, plan, actor=caller.actor, now=now)
        if fresh is not None:
            raise StalePlan(f"{stale}; plan {fresh} was made from the current inputs "
                            f"in its place") from stale  # fmt: skip
        raise


def discard_plan(
    session_factory: sessionmaker[Session], org: int | str, plan_id: int, caller: Caller
) -> Discarded:
    """Discard waiting plan ``plan_id`` for ``caller`` (a role that manages someone), with
    one audit entry. A discarded plan never applies; the next reconcile plans the org
    afresh."""
    with write_session(session_factory) as session:
        row = get_org(session, org)
        lock_org(session, row.id)
        allow_admin_action(role_model_for(row.role_model), caller)
        plan = discard_in(session, row.id, plan_id)
        count = len(plan.body.get("operations", []))
        detail: dict[str, object] = {"op": DISCARD_PLAN, "plan": plan_id, "operations": count}
        record_audit(session, row.id, caller.actor, DISCARD_PLAN, "", detail, plan_id=plan_id)
        return Discarded(plan_id, count)
