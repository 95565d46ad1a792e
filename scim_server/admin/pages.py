"""The admin pages: overview, runs and audit log (mapping, plans and members in their own
modules). Views gather data through ``sync`` and render; they decide nothing."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from flask import flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from mappings.errors import InputError
from mappings.state import Member, parse_time
from scim_server.admin import bp
from scim_server.api.actions import run_source_as_caller
from scim_server.api.context import caller, org_context, read_session
from sync.admin_store import (
    count_members_by_role,
    list_audit,
    list_plans,
    list_runs,
    list_sources,
)
from sync.alerts import recent_alerts
from sync.drafts import explain_user
from sync.errors import NotFound
from sync.models import Organisation, Workspace
from sync.platform import load_state

__all__ = ["audit", "member_detail", "overview", "runs", "source_run"]


MEMBERS_SHOWN = 200  # a page, not the whole of a 10k-member org; the search narrows it


def _matching(members: Sequence[Member], query: str) -> list[Member]:
    wanted = query.casefold()
    return [m for m in members if wanted in m.email]


@bp.get("/")
def overview() -> str:
    """The org at a glance: members by role, workspaces, sources, alerts, plans waiting."""
    query = request.args.get("q", "").strip()
    with read_session() as s:
        ctx = org_context(s, caller().org_name)
        org = s.get(Organisation, ctx.id)
        workspaces = s.query(Workspace).filter_by(org_id=ctx.id).order_by(Workspace.name).all()
        by_role = count_members_by_role(s, ctx.id)
        return render_template(
            "admin/overview.html",
            org=org,
            model=ctx.role_model,
            by_role=[(r, by_role.get(r, 0)) for r in reversed(ctx.role_model.org_roles)],
            members=_matching(load_state(s, ctx.id).members, query),
            query=query,
            shown=MEMBERS_SHOWN,
            workspaces=workspaces,
            sources=list_sources(s, ctx.id),
            waiting=list_plans(s, ctx.id, ("pending", "held")),
            alerts=recent_alerts(s, ctx.id),
        )


@bp.get("/runs")
def runs() -> str:
    """Run history, newest first."""
    with read_session() as s:
        ctx = org_context(s, caller().org_name)
        return render_template("admin/runs.html", runs=list_runs(s, ctx.id))


@bp.get("/audit")
def audit() -> tuple[str, int]:
    """The audit log, filtered by user and date."""
    user = request.args.get("user", "").strip() or None
    error = None
    try:
        since = parse_time(request.args.get("since") or None, "since")
        until = parse_time(request.args.get("until") or None, "until")
        if until is not None and len(request.args.get("until", "")) == 10:
            until += timedelta(days=1)  # a date means the whole day
    except InputError as e:
        error, since, until = str(e), None, None
    with read_session() as s:
        ctx = org_context(s, caller().org_name)
        entries = list_audit(s, ctx.id, user, since, until)
    page = render_template("admin/audit.html", entries=entries, error=error, args=request.args)
    return page, 422 if error else 200


@bp.get("/members/<path:email>")
def member_detail(email: str) -> str:
    """One member and why they hold each role under the saved mapping."""
    with read_session() as s:
        ctx = org_context(s, caller().org_name)
        members = {m.key: m for m in load_state(s, ctx.id).members}
        member = members.get(email.strip().casefold())
        if member is None:
            raise NotFound(f"no member {email!r}")
        try:
            explanation, error = explain_user(s, ctx.id, member.key), None
        except NotFound as e:  # no mapping saved yet
            explanation, error = None, str(e)
        entries = list_audit(s, ctx.id, member.key, limit=20)
    return render_template(
        "admin/member.html", m=member, e=explanation, error=error, entries=entries
    )


@bp.post("/sources/<name>/run")
def source_run(name: str) -> BaseResponse:
    """Pull a source now; the outcome is on the runs page."""
    with read_session() as s:
        ctx = org_context(s, caller().org_name)
    run_id = run_source_as_caller(ctx, name)
    flash(f"Pulled {name}: run #{run_id}.", "ok")
    return redirect(url_for("admin.runs"), 303)
