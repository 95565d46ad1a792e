"""What the admin API and the admin pages both do to plans, with the role checks.

Shared so that a page and an API call can never disagree on who may approve or apply.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from mappings.operations import Plan
from scim_server.api.context import OrgContext, deny_unless_allowed, session_factory
from sync.authority import refusal_for_plan
from sync.models import SavedPlan
from sync.plans import apply_saved, approve_plan, get_plan
from sync.platform import ApplyResult, load_state

__all__ = ["apply_as_caller", "approve_as_caller", "check_plan_authority"]


def check_plan_authority(s: Session, ctx: OrgContext, plan: Plan) -> None:
    """403 unless the caller's role manages every role the plan touches."""
    refusal = refusal_for_plan(ctx.role_model, ctx.caller.role, plan, load_state(s, ctx.id))
    deny_unless_allowed(refusal)


def approve_as_caller(s: Session, ctx: OrgContext, plan_id: int, fingerprint: str) -> SavedPlan:
    """Approve a waiting plan by the fingerprint the caller saw."""
    row = get_plan(s, ctx.id, plan_id)
    check_plan_authority(s, ctx, Plan.from_dict(row.body))
    return approve_plan(s, ctx.id, plan_id, approver=ctx.caller.actor, fingerprint=fingerprint)


def apply_as_caller(s: Session, ctx: OrgContext, plan_id: int) -> ApplyResult:
    """Apply a plan in its own locked transaction, after the role check in ``s``."""
    check_plan_authority(s, ctx, Plan.from_dict(get_plan(s, ctx.id, plan_id).body))
    _, result = apply_saved(session_factory(), ctx.id, plan_id, actor=ctx.caller.actor)
    return result
