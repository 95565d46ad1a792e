"""Plans on the admin pages: the list, one plan's diff with approve, apply and discard."""

from __future__ import annotations

from flask import Response, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from mappings.authority import Caller
from mappings.operations import OP_KINDS, Plan
from mappings.render import render_markdown, render_text
from scim_server.admin import bp
from scim_server.admin.paging import pager
from scim_server.admin.planrows import consequences, plan_table
from scim_server.api.actions import apply_as_caller, approve_as_caller
from scim_server.api.context import caller, org_context, read_session, session_factory, transaction
from sync.admin_store import list_plans, plan_json
from sync.models import PLAN_STATUSES
from sync.plans import get_plan
from sync.services.plan_discard import discard_plan

__all__ = ["plan_apply", "plan_approve", "plan_detail", "plan_discard", "plan_rendered", "plans"]

PLANS_PER_PAGE = 100
ROWS_PER_PAGE = 500


@bp.get("/plans")
def plans() -> str:
    """Every saved plan, newest first, optionally of one status."""
    status = request.args.get("status", "")
    wanted = (status,) if status in PLAN_STATUSES else ()
    with read_session() as s:
        ctx = org_context(s, caller().org_name)
        rows = list_plans(s, ctx.id, wanted, limit=100_000)  # type: ignore[arg-type]
    shown, pages = pager(rows, PLANS_PER_PAGE)
    return render_template(
        "admin/plans.html", plans=shown, pager=pages, status=status, statuses=PLAN_STATUSES
    )


@bp.get("/plans/<id:plan_id>")
def plan_detail(plan_id: int) -> str:
    """One plan as a diff table (paged, by operation), with approve, apply and discard."""
    op = request.args.get("op", "")
    with read_session() as s:
        ctx = org_context(s, caller().org_name)
        row = get_plan(s, ctx.id, plan_id)
        plan = Plan.from_dict(row.body)
        info = plan_json(row, with_body=False)
    table = plan_table(plan)
    chosen = [r for r in table.rows if not op or r.op == op]
    rows, pages = pager(chosen, ROWS_PER_PAGE)
    ops = [k for k in OP_KINDS if any(r.op == k for r in table.rows)]
    return render_template(
        "admin/plan.html",
        info=info,
        plan=plan,
        table=table,
        rows=rows,
        pager=pages,
        op=op,
        ops=ops,
        does=consequences(dict(plan.summary)),
    )


@bp.get("/plans/<id:plan_id>/<any(text, markdown):fmt>")
def plan_rendered(plan_id: int, fmt: str) -> Response:
    """The plan as ``terraform plan``-like text or as Markdown for a review comment."""
    with read_session() as s:
        ctx = org_context(s, caller().org_name)
        plan = Plan.from_dict(get_plan(s, ctx.id, plan_id).body)
    if fmt == "text":
        return Response(render_text(plan), mimetype="text/plain")
    return Response(render_markdown(plan), mimetype="text/markdown")


@bp.post("/plans/<id:plan_id>/approve")
def plan_approve(plan_id: int) -> BaseResponse:
    """Approve by the fingerprint shown on the page; a held plan is applied at once, and the
    page shown next is the plan that now stands (re-planned if the directory moved on)."""
    with transaction() as s:
        ctx = org_context(s, caller().org_name)
        row = approve_as_caller(s, ctx, plan_id, request.form.get("fingerprint", ""))
        now_id, status = row.id, row.status
        lapse = (row.body.get("held") or {}).get("detail", "")
    if status == "applied" and now_id == plan_id:
        flash(f"Plan #{plan_id} approved and applied.", "ok")
    elif status == "applied":
        flash(f"Plan #{plan_id} approved; the directory had moved on, so it was re-planned "
              f"as #{now_id} within the approval and applied.", "ok")  # fmt: skip
    elif status in ("held", "pending"):
        flash(f"Nothing applied: {lapse}. Plan #{now_id} waits for approval.", "error")
    else:
        flash(f"Plan #{plan_id} approved.", "ok")
    return redirect(url_for("admin.plan_detail", plan_id=now_id), 303)


@bp.post("/plans/<id:plan_id>/apply")
def plan_apply(plan_id: int) -> BaseResponse:
    """Apply the plan while its fingerprint still matches."""
    with read_session() as s:
        ctx = org_context(s, caller().org_name)
        result = apply_as_caller(s, ctx, plan_id)
    flash(f"Plan #{plan_id} applied: {result.applied} operations.", "ok")
    return redirect(url_for("admin.plan_detail", plan_id=plan_id), 303)


@bp.post("/plans/<id:plan_id>/discard")
def plan_discard(plan_id: int) -> BaseResponse:
    """Turn down a waiting plan: it never applies."""
    with read_session() as s:
        ctx = org_context(s, caller().org_name)
    who = Caller(ctx.caller.actor, ctx.caller.role)
    done = discard_plan(session_factory(), ctx.id, plan_id, who)
    flash(f"Plan #{plan_id} discarded: its {done.operations} change(s) will not be made.", "ok")
    return redirect(url_for("admin.plan_detail", plan_id=plan_id), 303)
