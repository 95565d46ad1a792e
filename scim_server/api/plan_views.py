"""Plans: create, list (pending and held), show as JSON/text/Markdown, approve, apply."""

from __future__ import annotations

from flask import Response, jsonify, request

from mappings.authority import refusal_for_admin_action
from mappings.operations import Plan
from mappings.render import render_markdown, render_text
from scim_server.api import bp
from scim_server.api.actions import apply_as_caller, approve_as_caller
from scim_server.api.bodies import PlanApproval, PlanRequest
from scim_server.api.context import (
    deny_unless_allowed,
    json_body,
    org_context,
    read_session,
    session_factory,
    transaction,
)
from scim_server.api.problems import ApiProblem
from scim_server.api.responses import PlanList, reply
from sync.admin_store import plan_json
from sync.listings import plans_page
from sync.models import PLAN_STATUSES, is_plan_status
from sync.paging import parse_limit
from sync.plans import create_plan, get_plan

__all__: list[str] = []


@bp.get("/orgs/<org>/plans")
def get_plans(org: str) -> Response:
    """Saved plans, newest first, a page at a time; ``status=pending,held`` lists those
    waiting."""
    asked = [x for x in request.args.get("status", "").split(",") if x]
    wanted = [x for x in asked if is_plan_status(x)]
    if len(wanted) != len(asked):
        raise ApiProblem(422, "invalid input", f"expected {', '.join(PLAN_STATUSES)}", "status")
    limit, cursor = parse_limit(request.args.get("limit")), request.args.get("cursor")
    with read_session() as s:
        ctx = org_context(s, org)
        page = plans_page(s, ctx.id, limit=limit, cursor=cursor, statuses=wanted)
        return reply(PlanList, plans=page.items, next_cursor=page.next_cursor)


@bp.post("/orgs/<org>/plans")
def post_plan(org: str) -> tuple[Response, int]:
    """Plan the org from its saved mapping and store the plan for review."""
    with read_session() as s:
        ctx = org_context(s, org)
        body = PlanRequest.model_validate(json_body())
        deny_unless_allowed(refusal_for_admin_action(ctx.role_model, ctx.caller.role))
    row = create_plan(session_factory(), ctx.id, trigger=ctx.caller.actor, users=body.users)
    return jsonify(plan_json(row)), 201


@bp.get("/orgs/<org>/plans/<id:plan_id>")
def show_plan(org: str, plan_id: int) -> Response:
    """One plan; ``format=text`` or ``format=markdown`` renders it for people."""
    fmt = request.args.get("format", "json")
    if fmt not in ("json", "text", "markdown"):
        raise ApiProblem(422, "invalid input", "expected json, text or markdown", "format")
    with read_session() as s:
        ctx = org_context(s, org)
        row = get_plan(s, ctx.id, plan_id)
        if fmt == "json":
            return jsonify(plan_json(row))
        plan = Plan.from_dict(row.body)
    if fmt == "text":
        return Response(render_text(plan), mimetype="text/plain")
    return Response(render_markdown(plan), mimetype="text/markdown")


@bp.post("/orgs/<org>/plans/<id:plan_id>/approve")
def post_approve(org: str, plan_id: int) -> Response:
    """Approve a waiting plan by the fingerprint the approver saw."""
    with transaction() as s:
        ctx = org_context(s, org)
        body = PlanApproval.model_validate(json_body())
        return jsonify(plan_json(approve_as_caller(s, ctx, plan_id, body.fingerprint)))


@bp.post("/orgs/<org>/plans/<id:plan_id>/apply")
def post_apply(org: str, plan_id: int) -> Response:
    """Apply a plan (approved if it was held) while its fingerprint still matches."""
    with read_session() as s:
        ctx = org_context(s, org)
        result = apply_as_caller(s, ctx, plan_id)
    with read_session() as s:
        out = plan_json(get_plan(s, ctx.id, plan_id))
    out["applied"] = {"operations": result.applied, "summary": dict(result.summary)}
    return jsonify(out)
