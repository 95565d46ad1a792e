"""The admin pages' sources: the org's pulled sources with pause, resume and "run now"
(queued to the scheduler), a form to add an Okta, Graph or SCIM-pull source whose
secret is never shown again, and each source's page: its settings edited (the secret
write-only: "set", an empty field keeps it) and its connection tested; through
``sync.services.sources`` as the API."""

from __future__ import annotations

from typing import Any

from flask import current_app, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from mappings.authority import Caller
from scim_server.admin import bp
from scim_server.api.context import OrgContext, caller, org_context, read_session, session_factory
from sync.services import sources
from sync.services.sources import SourceChanges, SourceSettings, editable_settings
from sync.settings import Settings
from sync.sources.catalog import org_sources, source_detail, source_json
from sync.sources.registry import find_kind

__all__ = ["source_page", "sources_page"]


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
    added = sources.save_source(
        session_factory(),
        ctx.id,
        _caller(ctx),
        settings,
        secret_key=configured.secret_key,
        create=True,
    )
    flash(f"Added {added.listing.kind} source {added.listing.name}.", "ok")
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


def _secret_key() -> str:
    configured: Settings = current_app.extensions["rolebridge.settings"]
    return configured.secret_key


@bp.get("/sources/<name>")
def source_page(name: str) -> str:
    """One source: its state, its settings in an edit form, and "Test connection"."""
    ctx = _ctx()
    with read_session() as s:
        detail = source_detail(s, ctx.id, name)
    found = find_kind(detail.listing.kind)
    fields = {f.name: f for f in found.fields} if found is not None else {}
    settings = [
        {
            "name": field,
            "label": field.replace("_", " "),
            "help": fields[field].help if field in fields else "a count or a percentage",
            "flag": field in fields and fields[field].flag,
            "required": field in fields and fields[field].required,
            "value": detail.config.get(field),
        }
        for field in editable_settings(detail.listing.kind)
    ]
    return render_template(
        "admin/source.html",
        src=source_json(detail.listing),
        detail=detail,
        settings=settings,
        pulled=found is not None,
    )


@bp.post("/sources/<name>/edit")
def source_edit(name: str) -> BaseResponse:
    """Save the edit form: only what differs changes; an empty secret keeps the stored one."""
    ctx = _ctx()
    with read_session() as s:
        kind = source_detail(s, ctx.id, name).listing.kind
    found = find_kind(kind)
    flags = {f.name for f in found.fields if f.flag} if found is not None else set()
    config: dict[str, Any] = {}
    for field in editable_settings(kind):
        if field in flags:
            config[field] = True if request.form.get(field) else None
        else:
            config[field] = request.form.get(field, "").strip() or None
    changes = SourceChanges(
        config=config,
        schedule=request.form.get("schedule", "").strip(),
        paused=bool(request.form.get("paused")),
        secret=request.form.get("secret") or None,
    )
    _, changed = sources.edit_source(
        session_factory(), ctx.id, _caller(ctx), name, changes, secret_key=_secret_key()
    )
    words = ", ".join(c.replace("_", " ") for c in changed)
    flash(f"Saved {name}: {words} changed." if changed else "Nothing changed.", "ok")
    return redirect(url_for("admin.source_page", name=name), 303)


@bp.post("/sources/<name>/test")
def source_test(name: str) -> BaseResponse:
    """Test the connection with one request; the outcome is shown on the source's page."""
    ctx = _ctx()
    result = sources.test_source(
        session_factory(), ctx.id, _caller(ctx), name, secret_key=_secret_key()
    )
    if result.ok:
        flash(f"Connection works: {result.detail}.", "ok")
    else:
        flash(f"Connection failed: {result.detail}.", "error")
    return redirect(url_for("admin.source_page", name=name), 303)
