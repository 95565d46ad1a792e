"""Runs, audit log and sources of the admin API."""

from __future__ import annotations

from datetime import datetime

from flask import Response, current_app, jsonify, request
from sqlalchemy import select

from mappings.state import parse_time
from scim_server.api import bp
from scim_server.api.context import (
    deny_unless_allowed,
    org_context,
    read_session,
    session_factory,
)
from scim_server.api.problems import ApiProblem
from sync.admin_store import list_audit, list_runs, list_sources, run_json
from sync.authority import refusal_for_admin_action
from sync.models import Source, SyncRun
from sync.pull import org_pull_lock, run_pull
from sync.settings import Settings

__all__: list[str] = []


def _time_arg(name: str) -> datetime | None:
    return parse_time(request.args.get(name) or None, name)


@bp.get("/orgs/<org>/runs")
def get_runs(org: str) -> Response:
    """The org's recent reconcile and pull runs, newest first."""
    with read_session() as s:
        ctx = org_context(s, org)
        return jsonify(runs=list_runs(s, ctx.id))


@bp.get("/orgs/<org>/audit")
def get_audit(org: str) -> Response:
    """Audit entries, newest first; filter with ``user``, ``since`` and ``until`` (ISO 8601)."""
    since, until = _time_arg("since"), _time_arg("until")
    with read_session() as s:
        ctx = org_context(s, org)
        entries = list_audit(s, ctx.id, request.args.get("user"), since, until)
        return jsonify(entries=entries)


@bp.get("/orgs/<org>/sources")
def get_sources(org: str) -> Response:
    """The org's directory sources with their last run."""
    with read_session() as s:
        ctx = org_context(s, org)
        return jsonify(sources=list_sources(s, ctx.id))


@bp.post("/orgs/<org>/sources/<name>/run")
def run_source(org: str, name: str) -> Response:
    """Pull a source now and reconcile; 409 while another pull of the org runs."""
    with read_session() as s:
        ctx = org_context(s, org)
        deny_unless_allowed(refusal_for_admin_action(ctx.role_model, ctx.caller.role))
        source = s.scalar(select(Source).where(Source.org_id == ctx.id, Source.name == name))
        if source is None:
            raise ApiProblem(404, "not found", f"no source named {name!r}", "name")
        if source.kind == "scim":
            detail = "a pushed (SCIM) source has nothing to pull; create a plan instead"
            raise ApiProblem(422, "invalid input", detail, "name")
        source_id = source.id
    settings: Settings = current_app.extensions["rolebridge.settings"]
    factory = session_factory()
    with org_pull_lock(factory, ctx.id, wait=False) as acquired:
        if not acquired:
            raise ApiProblem(409, "conflict", "a pull of this organisation is running", "name")
        result = run_pull(
            factory, source_id, secret_key=settings.secret_key, trigger=ctx.caller.actor
        )
    with read_session() as s:
        run = s.get(SyncRun, result.run_id)
        assert run is not None
        return jsonify(run_json(run))
