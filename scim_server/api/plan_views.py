"""Plans: create, list (pending and held), show as JSON/text/Markdown, approve, apply."""

from __future__ import annotations

from flask import Response, jsonify, request

from mappings.render import render_markdown, render_text
from scim_server.api import bp
from scim_server.api.bodies import PlanApproval, PlanRequest
from scim_server.api.context import (
    json_body,
    org_context,
    read_session,
    session_factory,
)
from scim_server.api.problems import ApiProblem
from scim_server.api.responses import PlanList, reply
from sync.listings import plans_page
from sync.paging import parse_limit
from sync.services.plans import apply_plan, approve_plan, create_plan
from sync.store.plans import PLAN_STATUSES, is_plan_status, plan_json, read_plan

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
    row = create_plan(session_factory(), ctx.id, ctx.authority, users=body.users)
    return jsonify(plan_json(row)), 201


@bp.get("/orgs/<org>/plans/<id:plan_id>")
def show_plan(org: str, plan_id: int) -> Response:
    """One plan; ``format=text`` or ``format=markdown`` renders it for people."""
    fmt = request.args.get("format", "json")
    if fmt not in ("json", "text", "markdown"):
        raise ApiProblem(422, "invalid input", "expected json, text or markdown", "format")
    with read_session() as s:
        ctx = org_context(s, org)
        row = read_plan(s, ctx.id, plan_id)
    if fmt == "json":
        return jsonify(plan_json(row))
    plan = row.plan
    if fmt == "text":
        return Response(render_text(plan), mimetype="text/plain")
    return Response(render_markdown(plan), mimetype="text/markdown")


@bp.post("/orgs/<org>/plans/<id:plan_id>/approve")
def post_approve(org: str, plan_id: int) -> Response:
    """Approve a waiting plan by the fingerprint the approver saw."""
    with read_session() as s:
        ctx = org_context(s, org)
    body = PlanApproval.model_validate(json_body())
    row = approve_plan(
        session_factory(), ctx.id, plan_id, ctx.authority, fingerprint=body.fingerprint
    )
    return jsonify(plan_json(row))


@bp.post("/orgs/<org>/plans/<id:plan_id>/apply")
def post_apply(org: str, plan_id: int) -> Response:
    """Apply a plan (approved if it was held) while its fingerprint still matches."""
    with read_session() as s:
        ctx = org_context(s, org)
    done = apply_plan(session_factory(), ctx.id, plan_id, ctx.authority)
    out = plan_json(done.record)
    out["applied"] = {"operations": done.result.applied, "summary": dict(done.result.summary)}
    return jsonify(out)
