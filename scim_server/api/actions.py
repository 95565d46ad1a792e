"""What the admin API and the admin pages both do to plans, with the role checks.

Shared so that a page and an API call can never disagree on who may approve or apply.
"""

from __future__ import annotations

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from mappings.authority import refusal_for_admin_action, refusal_for_plan
from mappings.operations import Plan
from scim_server.api.context import (
    OrgContext,
    deny_unless_allowed,
    read_session,
    session_factory,
)
from scim_server.api.problems import ApiProblem
from sync.admin_store import record_audit
from sync.models import SavedPlan, Source
from sync.plans import apply_saved, approve_plan, get_plan
from sync.platform import ApplyResult, load_state
from sync.pull import org_pull_lock, run_pull
from sync.settings import Settings

__all__ = [
    "apply_as_caller",
    "approve_as_caller",
    "check_plan_authority",
    "run_source_as_caller",
]


def check_plan_authority(s: Session, ctx: OrgContext, plan: Plan) -> None:
    """403 unless the caller's role manages every role the plan touches."""
    refusal = refusal_for_plan(ctx.role_model, ctx.caller.role, plan, load_state(s, ctx.id))
    deny_unless_allowed(refusal)


def approve_as_caller(s: Session, ctx: OrgContext, plan_id: int, fingerprint: str) -> SavedPlan:
    """Approve a waiting plan by the fingerprint the caller saw.

    Approving a held plan applies it, re-planned if the directory moved on; the caller's
    role must then cover the fresh plan too, checked against the members as they were
    (a refusal rolls the whole approval back)."""
    row = get_plan(s, ctx.id, plan_id)
    before = load_state(s, ctx.id)
    deny_unless_allowed(
        refusal_for_plan(ctx.role_model, ctx.caller.role, Plan.from_dict(row.body), before)
    )
    row = approve_plan(s, ctx.id, plan_id, approver=ctx.caller.actor, fingerprint=fingerprint)
    if row.id != plan_id and row.status == "applied":
        fresh = Plan.from_dict(row.body)
        deny_unless_allowed(refusal_for_plan(ctx.role_model, ctx.caller.role, fresh, before))
    detail = {"op": "approve_plan", "plan": plan_id, "fingerprint": row.fingerprint}
    record_audit(s, ctx.id, ctx.caller.actor, "approve_plan", "", detail, plan_id=plan_id)
    return row


def apply_as_caller(s: Session, ctx: OrgContext, plan_id: int) -> ApplyResult:
    """Apply a plan in its own locked transaction, after the role check in ``s``."""
    check_plan_authority(s, ctx, Plan.from_dict(get_plan(s, ctx.id, plan_id).body))
    _, result = apply_saved(session_factory(), ctx.id, plan_id, actor=ctx.caller.actor)
    return result


def _pullable_source(ctx: OrgContext, name: str) -> int:
    with read_session() as s:
        deny_unless_allowed(refusal_for_admin_action(ctx.role_model, ctx.caller.role))
        source = s.scalar(select(Source).where(Source.org_id == ctx.id, Source.name == name))
        if source is None:
            raise ApiProblem(404, "not found", f"no source named {name!r}", "name")
        if source.kind == "scim":
            detail = "a pushed (SCIM) source has nothing to pull; create a plan instead"
            raise ApiProblem(422, "invalid input", detail, "name")
        return source.id


def run_source_as_caller(ctx: OrgContext, name: str) -> int:
    """Pull the named source now and reconcile; returns the run's id."""
    source_id = _pullable_source(ctx, name)
    settings: Settings = current_app.extensions["rolebridge.settings"]
    factory = session_factory()
    with org_pull_lock(factory, ctx.id, wait=False) as acquired:
        if not acquired:
            raise ApiProblem(409, "conflict", "a pull of this organisation is running", "name")
        result = run_pull(
            factory,
            source_id,
            secret_key=settings.secret_key,
            trigger=ctx.caller.actor,
            quarantine_after=settings.quarantine_after,
        )
    return result.run_id
