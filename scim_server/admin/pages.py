"""The admin pages: overview, members, runs and audit log (mapping and plans in their own
modules). Views gather data through ``sync`` and render; they decide nothing."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from flask import (
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from werkzeug.wrappers import Response as BaseResponse

from mappings.authority import refusal_for_admin_action, visible_members
from mappings.errors import InputError
from mappings.render import describe
from mappings.rolemodel import RoleModel
from mappings.state import Member
from scim_server.admin import bp
from scim_server.admin.paging import (
    AuditFilter,
    RunFilter,
    keyset_pager,
    natural_key,
    pager,
)
from scim_server.admin.planrows import consequences
from scim_server.api.context import (
    OrgContext,
    caller,
    org_context,
    read_session,
    session_factory,
)
from sync.alerts import recent_alerts
from sync.drift import org_drift
from sync.errors import NotFound
from sync.listings import audit_ops, audit_page, audit_rows, last_runs, run_outcomes, runs_page
from sync.services.drafts import explain_user
from sync.services.members import remove_member, resend_invite
from sync.services.plans import create_plan
from sync.services.reconcile import reconcile_member
from sync.services.sources import run_source
from sync.settings import Settings
from sync.store.audit import audit_json, list_audit
from sync.store.orgs import count_members_by_role, list_workspaces, org_view
from sync.store.plans import list_plans, plan_json
from sync.store.platform import load_state

__all__ = [
    "audit",
    "audit_csv",
    "member_detail",
    "member_remove",
    "member_resend",
    "member_sync",
    "overview",
    "plan_create",
    "runs",
    "source_run",
]

MEMBERS_PER_PAGE = 100
RUNS_PER_PAGE = 100
AUDIT_PER_PAGE = 100
_SORTS = ("email", "role", "status")
ZONES = ("UTC", "Europe/London", "Europe/Paris", "Europe/Berlin", "America/New_York",
         "America/Chicago", "America/Los_Angeles", "Asia/Tokyo", "Asia/Kolkata",
         "Australia/Sydney")  # fmt: skip


def _sorted(members: Sequence[Member], model: RoleModel, sort: str, desc: bool) -> list[Member]:
    rank = {r: i for i, r in enumerate(model.org_roles)}
    if sort == "role":
        keyed = sorted(members, key=lambda m: (-rank.get(m.org_role, -1), natural_key(m.email)))
    elif sort == "status":
        keyed = sorted(members, key=lambda m: (m.status, natural_key(m.email)))
    else:
        keyed = sorted(members, key=lambda m: natural_key(m.email))
    return keyed[::-1] if desc else keyed


def _visible(ctx: OrgContext, members: Sequence[Member]) -> list[Member]:
    """The members the signed-in key sees (per workspace where the model says so)."""
    return visible_members(ctx.role_model, ctx.authority, members)


@bp.get("/")
def overview() -> str:
    """The org at a glance: members by role, drift, workspaces, sources, plans waiting,
    and the members, searched, filtered, sorted and paged."""
    query = request.args.get("q", "").strip().casefold()
    role = request.args.get("role", "")
    only_drift = request.args.get("drift") == "1"
    sort = request.args.get("sort", "email")
    sort = sort if sort in _SORTS else "email"
    desc = request.args.get("dir") == "desc"
    with read_session() as s:
        ctx = org_context(s, caller().org_name)
        org = org_view(s, ctx.id)
        workspaces = list_workspaces(s, ctx.id)
        by_role = count_members_by_role(s, ctx.id)
        drift = org_drift(s, ctx.id, now=datetime.now(UTC))
        everyone = _visible(ctx, load_state(s, ctx.id).members)
        sources = last_runs(s, ctx.id)
        waiting = [
            plan_json(p, with_body=False)
            for p in list_plans(s, ctx.id, ("pending", "held", "approved"), limit=100)
        ]
        alerts = recent_alerts(s, ctx.id)
    chosen = [
        m
        for m in everyone
        if query in m.key
        and (not role or m.org_role == role)
        and (not only_drift or m.key in drift.by_user)
    ]
    rows, pages = pager(_sorted(chosen, ctx.role_model, sort, desc), MEMBERS_PER_PAGE)
    return render_template(
        "admin/overview.html",
        org=org,
        model=ctx.role_model,
        by_role=[(r, by_role.get(r, 0)) for r in reversed(ctx.role_model.org_roles)],
        members=rows,
        pager=pages,
        drift=drift,
        drift_does=consequences(dict(drift.plan.summary)) if drift.plan else "",
        query=query,
        role=role,
        only_drift=only_drift,
        sort=sort,
        desc=desc,
        workspaces=workspaces,
        sources=sources,
        waiting=waiting,
        alerts=alerts,
        may_act=refusal_for_admin_action(ctx.role_model, ctx.authority) is None,
    )


@bp.get("/runs")
def runs() -> str:
    """Run history, newest first, by trigger and outcome; runs that did nothing are left
    out unless asked for."""
    f = RunFilter(
        trigger=request.args.get("trigger", "").strip(),
        outcome=request.args.get("outcome", "").strip(),
        with_empty=request.args.get("empty") == "1",
    )
    with read_session() as s:
        ctx = org_context(s, caller().org_name)
        page, pages = keyset_pager(
            lambda cursor: runs_page(
                s,
                ctx.id,
                limit=RUNS_PER_PAGE,
                cursor=cursor,
                outcome=f.outcome or None,
                trigger_contains=f.trigger or None,
                with_empty=f.with_empty,
                with_total=True,
            )
        )
        outcomes = run_outcomes(s, ctx.id)
    return render_template("admin/runs.html", runs=page.items, pager=pages, f=f, outcomes=outcomes)


def _zone(name: str) -> ZoneInfo:
    try:
        if name in available_timezones():
            return ZoneInfo(name)
    except ZoneInfoNotFoundError:
        pass
    raise InputError(f"unknown time zone {name!r}", "tz")


def _moment(value: str, zone: ZoneInfo, where: str, end: bool) -> datetime | None:
    """A date (the whole day, in ``zone``) or a date and time, as an aware datetime."""
    if not value:
        return None
    try:
        if len(value) == 10:
            day = datetime.fromisoformat(value).date()
            start = datetime.combine(day, time(), zone)
            return start + timedelta(days=1) if end else start
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        detail = f"'{value}' is not a date (YYYY-MM-DD) or a date and time"
        raise InputError(detail, where) from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=zone)


def _audit_filter() -> AuditFilter:
    zone = _zone(request.args.get("tz", "UTC") or "UTC")
    return AuditFilter(
        op=request.args.get("op", "").strip(),
        actor=request.args.get("actor", "").strip(),
        user=request.args.get("user", "").strip(),
        since=_moment(request.args.get("since", "").strip(), zone, "since", end=False),
        until=_moment(request.args.get("until", "").strip(), zone, "until", end=True),
    )


@bp.get("/audit")
def audit() -> tuple[str, int]:
    """The audit log, newest first, by operation, actor, user and date (in a time zone)."""
    error = None
    try:
        f = _audit_filter()
    except InputError as e:
        error, f = str(e), AuditFilter()
    with read_session() as s:
        ctx = org_context(s, caller().org_name)
        page, pages = keyset_pager(
            lambda cursor: audit_page(
                s, ctx.id, limit=AUDIT_PER_PAGE, cursor=cursor, with_total=True, **f.listing()
            )
        )
        ops = audit_ops(s, ctx.id)
    body = render_template(
        "admin/audit.html",
        entries=page.items,
        pager=pages,
        ops=ops,
        zones=ZONES,
        error=error,
        args=request.args,
    )
    return body, 422 if error else 200


@bp.get("/audit.csv")
def audit_csv() -> Response:
    """The matching audit entries as CSV (every one, not only a page)."""
    try:
        f = _audit_filter()
    except InputError as e:
        return Response(f"error: {e}\n", status=422, mimetype="text/plain")
    with read_session() as s:
        ctx = org_context(s, caller().org_name)
        org_id = ctx.id

    def rows() -> Iterator[str]:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["id", "at", "actor", "op", "user", "workspace", "plan_id", "detail"])
        with read_session() as s:
            for n, e in enumerate(audit_rows(s, org_id, **f.listing())):
                writer.writerow(
                    [e["id"], e["at"], e["actor"], e["op"], e["user"], e["workspace"] or "",
                     e["plan_id"] or "", json.dumps(e["detail"], sort_keys=True)]
                )  # fmt: skip
                if n % 500 == 0:
                    yield out.getvalue()
                    out.seek(0)
                    out.truncate()
        yield out.getvalue()

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return Response(
        stream_with_context(rows()),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="audit-{stamp}.csv"'},
    )


@bp.get("/members/<path:email>")
def member_detail(email: str) -> str:
    """One member, whether they differ from the mapping's answer, and why they hold each
    role under the saved mapping."""
    with read_session() as s:
        ctx = org_context(s, caller().org_name)
        members = {m.key: m for m in _visible(ctx, load_state(s, ctx.id).members)}
        wanted = email.strip()  # an address, or an IdP id as "sync this member" takes
        member = members.get(wanted.casefold()) or next(
            (m for m in members.values() if m.idp_id == wanted), None
        )
        if member is None:
            raise NotFound(f"no member {email!r}")
        try:
            explanation, error = explain_user(s, ctx.id, member.key), None
        except NotFound as e:  # no mapping saved yet
            explanation, error = None, str(e)
        drift = org_drift(s, ctx.id, now=datetime.now(UTC)).by_user.get(member.key, ())
        entries = [audit_json(e) for e in list_audit(s, ctx.id, member.key, limit=20)]
    return render_template(
        "admin/member.html",
        m=member,
        e=explanation,
        error=error,
        entries=entries,
        drift=[describe(op) for op in drift],
        may_act=refusal_for_admin_action(ctx.role_model, ctx.authority) is None,
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


@bp.post("/members/<path:email>/sync")
def member_sync(email: str) -> BaseResponse:
    """Reconcile one member now, by address or IdP id (case-sensitive, so passed as
    given): applied if nothing holds it, else stored for approval."""
    key = email.strip()
    with read_session() as s:
        ctx = org_context(s, caller().org_name)
    result = reconcile_member(session_factory(), ctx.id, key, ctx.authority)
    if result.status == "applied":
        flash(f"{key}: {len(result.plan.operations)} change(s) applied.", "ok")
    elif result.status == "empty":
        flash(f"{key} already matches the mapping.", "ok")
    else:
        flash(f"{key}: the change waits for approval in plan #{result.plan_id}.", "error")
        return redirect(url_for("admin.plan_detail", plan_id=result.plan_id), 303)
    return redirect(url_for("admin.member_detail", email=key), 303)


@bp.post("/plans/new")
def plan_create() -> BaseResponse:
    """Plan the org from its saved mapping and store the plan for review."""
    with read_session() as s:
        ctx = org_context(s, caller().org_name)
    row = create_plan(session_factory(), ctx.id, ctx.authority)
    count = len(row.body.get("operations", []))
    flash(f"Plan #{row.id} made: {count} change(s); review it, then approve or apply.", "ok")
    return redirect(url_for("admin.plan_detail", plan_id=row.id), 303)


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
