"""The admin pages' sources: the org's pulled sources with pause, resume and "run now"
(queued to the scheduler), and a form to add an Okta, Graph or SCIM-pull source whose
secret is never shown again; through ``sync.services.sources`` as the API."""

from __future__ import annotations

from typing import Any

from flask import current_app, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from mappings.authority import Caller
from scim_server.admin import bp
from scim_server.api.context import OrgContext, caller, org_context, read_session, session_factory
from sync.services import sources
from sync.services.sources import SourceSettings
from sync.settings import Settings
from sync.sources.catalog import org_sources, source_json

__all__ = ["sources_page"]


def _ctx() -> OrgContext:
    with read_session() as s:
        return org_context(s, caller().org_name)


def _caller(ctx: OrgContext) -> Caller:
    return Caller(actor=ctx.caller.actor, role=ctx.caller.role)


def _config(kind: str, form: Any) -> dict[str, Any]:
    url = form.get("url", "").strip()
    if kind == "okta":
        return {"org_url": url, "auth": "token"}
    if kind == "graph":
        tenant, client = form.get("tenant_id", "").strip(), form.get("client_id", "").strip()
        return {"tenant_id": tenant, "client_id": client, "auth": "secret"}
    return {"base_url": url}


@bp.get("/sources")
def sources_page() -> str:
    """The org's sources, their last run and whether a run is waiting."""
    ctx = _ctx()
    with read_session() as s:
        listed = [source_json(x) for x in org_sources(s, ctx.id)]
    return render_template("admin/sources.html", sources=listed)


@bp.post("/sources")
def source_add() -> BaseResponse:
    """Add a pulled source; the secret is sealed and not shown again."""
    ctx = _ctx()
    kind = request.form.get("kind", "")
    settings = SourceSettings(
        name=request.form.get("name", ""),
        kind=kind,
        config=_config(kind, request.form),
        secret=request.form.get("secret") or None,
        schedule=request.form.get("schedule", "").strip() or None,
    )
    configured: Settings = current_app.extensions["rolebridge.settings"]
    row = sources.save_source(
        session_factory(),
        ctx.id,
        _caller(ctx),
        settings,
        secret_key=configured.secret_key,
        create=True,
    )
    flash(f"Added {row.kind} source {row.name}.", "ok")
    return redirect(url_for("admin.sources_page"), 303)


@bp.post("/sources/<name>/pause")
def source_pause(name: str) -> BaseResponse:
    """Pause a source."""
    ctx = _ctx()
    sources.set_paused(session_factory(), ctx.id, _caller(ctx), name, True)
    flash(f"Paused {name}.", "ok")
    return redirect(url_for("admin.sources_page"), 303)


@bp.post("/sources/<name>/resume")
def source_resume(name: str) -> BaseResponse:
    """Resume a paused source."""
    ctx = _ctx()
    sources.set_paused(session_factory(), ctx.id, _caller(ctx), name, False)
    flash(f"Resumed {name}.", "ok")
    return redirect(url_for("admin.sources_page"), 303)


@bp.post("/sources/<name>/run-request")
def source_run_request(name: str) -> BaseResponse:
    """Queue a pull for the scheduler."""
    ctx = _ctx()
    sources.request_run(session_factory(), ctx.id, _caller(ctx), name)
    flash(f"A pull of {name} is queued; it shows under Runs when it is done.", "ok")
    return redirect(url_for("admin.sources_page"), 303)
