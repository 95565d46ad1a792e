"""The admin pages: overview, runs and audit log (mapping, plans and members in their own
modules). Views gather data through ``sync`` and render; they decide nothing."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from flask import current_app, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from mappings.authority import visible_members
from mappings.errors import InputError
from mappings.state import Member, parse_time
from scim_server.admin import bp
from scim_server.api.context import OrgContext, caller, org_context, read_session, session_factory
from sync.alerts import recent_alerts
from sync.audit import audit_json, list_audit
from sync.drafts import explain_user
from sync.errors import NotFound
from sync.orgs import count_members_by_role, list_workspaces, org_view
from sync.plans import list_plans, plan_json
from sync.platform import load_state
from sync.runs import list_runs, run_json
from sync.services.members import remove_member, resend_invite
from sync.services.sources import run_source
from sync.settings import Settings
from sync.sources.catalog import org_sources, source_json

__all__ = [
    "audit",
    "member_detail",
    "member_remove",
    "member_resend",
    "overview",
    "runs",
    "source_run",
]


MEMBERS_SHOWN = 200  # a page, not the whole of a 10k-member org; the search narrows it


def _matching(members: Sequence[Member], query: str) -> list[Member]:
    wanted = query.casefold()
    return [m for m in members if wanted in m.email]


def _visible(ctx: OrgContext, members: Sequence[Member]) -> list[Member]:
    """The members the signed-in key sees (per workspace where the model says so)."""
    return visible_members(ctx.role_model, ctx.authority, members)


@bp.get("/")
def overview() -> str:
    """The org at a glance: members by role, workspaces, sources, alerts, plans waiting."""
    query = request.args.get("q", "").strip()
    with read_session() as s:
        ctx = org_context(s, caller().org_name)
        org = org_view(s, ctx.id)
        workspaces = list_workspaces(s, ctx.id)
        by_role = count_members_by_role(s, ctx.id)
        return render_template(
            "admin/overview.html",
            org=org,
            model=ctx.role_model,
            by_role=[(r, by_role.get(r, 0)) for r in reversed(ctx.role_model.org_roles)],
            members=_matching(_visible(ctx, load_state(s, ctx.id).members), query),
            query=query,
            shown=MEMBERS_SHOWN,
            workspaces=workspaces,
            sources=[source_json(x) for x in org_sources(s, ctx.id)],
            waiting=[
                plan_json(p, with_body=False)
                for p in list_plans(s, ctx.id, ("pending", "held"), limit=100)
            ],
            alerts=recent_alerts(s, ctx.id),
        )


@bp.get("/runs")
def runs() -> str:
    """Run history, newest first."""
    with read_session() as s:
        ctx = org_context(s, caller().org_name)
        runs = [run_json(r) for r in list_runs(s, ctx.id)]
    return render_template("admin/runs.html", runs=runs)


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
        entries = [audit_json(e) for e in list_audit(s, ctx.id, user, since, until)]
    page = render_template("admin/audit.html", entries=entries, error=error, args=request.args)
    return page, 422 if error else 200


@bp.get("/members/<path:email>")
def member_detail(email: str) -> str:
    """One member and why they hold each role under the saved mapping."""
    with read_session() as s:
        ctx = org_context(s, caller().org_name)
        members = {m.key: m for m in _visible(ctx, load_state(s, ctx.id).members)}
        member = members.get(email.strip().casefold())
        if member is None:
            raise NotFound(f"no member {email!r}")
        try:
            explanation, error = explain_user(s, ctx.id, member.key), None
        except NotFound as e:  # no mapping saved yet
            explanation, error = None, str(e)
        entries = [audit_json(e) for e in list_audit(s, ctx.id, member.key, limit=20)]
    return render_template(
        "admin/member.html", m=member, e=explanation, error=error, entries=entries
    )


@bp.post("/members/<path:email>/resend")
def member_resend(email: str) -> BaseResponse:
    """Send a pending invite again (the same rules as the API and the CLI)."""
    with read_session() as s:
        ctx = org_context(s, caller().org_name)
    done = resend_invite(session_factory(), ctx.id, email, caller=ctx.authority)
    flash(f"Invite to {done.email} sent again.", "ok")
    return redirect(url_for("admin.member_detail", email=done.email), 303)


@bp.post("/members/<path:email>/remove")
def member_remove(email: str) -> BaseResponse:
    """Remove a member (a pending invite is revoked)."""
    with read_session() as s:
        ctx = org_context(s, caller().org_name)
    done = remove_member(session_factory(), ctx.id, email, caller=ctx.authority)
    flash(f"{done.email} removed from {done.org_name}.", "ok")
    return redirect(url_for("admin.overview"), 303)


@bp.post("/sources/<name>/run")
def source_run(name: str) -> BaseResponse:
    """Pull a source now; the outcome is on the runs page."""
    with read_session() as s:
        ctx = org_context(s, caller().org_name)
    settings: Settings = current_app.extensions["rolebridge.settings"]
    result = run_source(
        session_factory(),
        ctx.id,
        name,
        ctx.authority,
        secret_key=settings.secret_key,
        quarantine_after=settings.quarantine_after,
    )
    flash(f"Pulled {name}: run #{result.run_id}.", "ok")
    return redirect(url_for("admin.runs"), 303)
