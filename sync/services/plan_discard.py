"""Discarding a plan that waits: authority, transaction, org lock, and the audit entry.
A discarded plan never applies; the next reconcile plans the org afresh."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from mappings.authority import Caller, refusal_for_admin_action
from sync.db import write_session
from sync.errors import Forbidden
from sync.store.audit import record_audit
from sync.store.orgs import get_org, role_model_for
from sync.store.plans import discard_plan as discard_row

__all__ = ["DISCARD_PLAN", "Discarded", "discard_plan"]

DISCARD_PLAN = "discard_plan"


@dataclass(frozen=True, slots=True)
class Discarded:
    """The plan turned down and how many operations it would have made."""

    plan_id: int
    operations: int


def discard_plan(
    session_factory: sessionmaker[Session], org: int | str, plan_id: int, caller: Caller
) -> Discarded:
    """Discard waiting plan ``plan_id`` for ``caller``, with one audit entry."""
    with write_session(session_factory) as session:
        row = get_org(session, org)
        if caller.role is not None:
            refusal = refusal_for_admin_action(role_model_for(row.role_model), caller)
            if refusal is not None:
                raise Forbidden(refusal)
        plan = discard_row(session, row.id, plan_id)
        count = len(plan.body.get("operations", []))
        detail: dict[str, object] = {"op": DISCARD_PLAN, "plan": plan_id, "operations": count}
        record_audit(session, row.id, caller.actor, DISCARD_PLAN, "", detail, plan_id=plan_id)
        return Discarded(plan_id, count)
