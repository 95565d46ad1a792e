"""Reconciling an org now, as a use case (``rolebridge reconcile``): plan the whole org
from its inputs and apply the plan, or store it for approval when it is held
(docs/architecture.md section 3.7); or one member only (the admin pages' "sync this
member"). ``sync.reconcile.reconcile`` opens the transaction, takes the org lock, records
the run and writes an audit entry per applied operation."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from mappings.authority import Caller
from mappings.operations import Plan
from sync.reconcile import ReconcileResult
from sync.reconcile import reconcile as reconcile_org
from sync.services.common import allow_admin_action, allow_plan, state_for_checks
from sync.store.orgs import get_org, role_model_for

__all__ = ["reconcile", "reconcile_member"]


def reconcile(
    session_factory: sessionmaker[Session],
    org: int | str,
    caller: Caller,
    *,
    dry_run: bool = False,
    users: Collection[str] | None = None,
    now: datetime | None = None,
) -> ReconcileResult:
    """Plan the org (only ``users`` when given) and, unless ``dry_run``, act on the plan;
    the caller's name is the run's trigger and the applier in the audit log."""
    with session_factory() as session:
        org_row = get_org(session, org)
        allow_admin_action(role_model_for(org_row.role_model), caller)
        org_id = org_row.id
    return reconcile_org(
        session_factory, org_id, dry_run=dry_run, users=users, trigger=caller.actor, now=now
    )


def reconcile_member(
    session_factory: sessionmaker[Session],
    org: int | str,
    user: str,
    caller: Caller,
    *,
    now: datetime | None = None,
) -> ReconcileResult:
    """Plan one member (by email or IdP id) and act on the plan: applied unless something
    holds it, else stored for approval. The caller must manage someone and every role the
    member's plan touches (``Forbidden`` otherwise, and nothing is changed).

    ``user`` is passed on as given (trimmed): the plan takes it both as an IdP id, which
    is case-sensitive (Okta's ``00uAbC123``), and as an address's identity key."""
    wanted = user.strip()
    with session_factory() as session:
        org_row = get_org(session, org)
        model = role_model_for(org_row.role_model)
        allow_admin_action(model, caller)
        org_id = org_row.id

    def allow(session: Session, plan: Plan) -> None:
        # under the org lock, on the plan about to be acted on: nothing can change between
        allow_plan(model, caller, plan, state_for_checks(session, org_id, caller))

    return reconcile_org(
        session_factory,
        org_id,
        dry_run=False,
        users=[wanted],
        trigger=caller.actor,
        now=now,
        allow=allow,
    )
