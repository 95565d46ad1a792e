"""Plans on the admin pages: the list, one plan's diff with approve, apply and discard."""

from __future__ import annotations

from flask import Response, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from mappings.operations import OP_KINDS
from mappings.render import render_markdown, render_text
from scim_server.admin import bp
from scim_server.admin.paging import keyset_pager, pager
from scim_server.admin.planrows import consequences, plan_table
from scim_server.api.context import caller, org_context, read_session, session_factory
from sync.listings import plans_page
from sync.services.plans import apply_plan, approve_plan, discard_plan
from sync.store.plans import PLAN_STATUSES, plan_json, read_plan

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
        page, pages = keyset_pager(
            lambda cursor: plans_page(
                s,
                ctx.id,
                limit=PLANS_PER_PAGE,
                cursor=cursor,
                statuses=wanted,  # type: ignore[arg-type]  # checked against PLAN_STATUSES
                with_total=True,
            )
        )
    return render_template(
        "admin/plans.html", plans=page.items, pager=pages, status=status, statuses=PLAN_STATUSES
    )


@bp.get("/plans/<id:plan_id>")
def plan_detail(plan_id: int) -> str:
    """One plan as a diff table (paged, by operation), with approve, apply and discard."""
    op = request.args.get("op", "")
    with read_session() as s:
        ctx = org_context(s, caller().org_name)
        row = read_plan(s, ctx.id, plan_id)
    plan = row.plan
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
        plan = read_plan(s, ctx.id, plan_id).plan
    if fmt == "text":
        return Response(render_text(plan), mimetype="text/plain")
    return Response(render_markdown(plan), mimetype="text/markdown")


@bp.post("/plans/<id:plan_id>/approve")
def plan_approve(plan_id: int) -> BaseResponse:
    """Approve by the fingerprint shown on the page; a held plan is applied at once, and the
    page shown next is the plan that now stands (re-planned if the directory moved on)."""
    with read_session() as s:
        ctx = org_context(s, caller().org_name)
    fingerprint = request.form.get("fingerprint", "")
    row = approve_plan(session_factory(), ctx.id, plan_id, ctx.authority, fingerprint=fingerprint)
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
    done = apply_plan(session_factory(), ctx.id, plan_id, ctx.authority)
    flash(f"Plan #{plan_id} applied: {done.result.applied} operations.", "ok")
    return redirect(url_for("admin.plan_detail", plan_id=plan_id), 303)


@bp.post("/plans/<id:plan_id>/discard")
def plan_discard(plan_id: int) -> BaseResponse:
    """Turn down a waiting plan: it never applies."""
    with read_session() as s:
        ctx = org_context(s, caller().org_name)
    done = discard_plan(session_factory(), ctx.id, plan_id, ctx.authority)
    flash(f"Plan #{plan_id} discarded: its {done.operations} change(s) will not be made.", "ok")
    return redirect(url_for("admin.plan_detail", plan_id=plan_id), 303)
