"""Runs, audit log and sources of the admin API."""

from __future__ import annotations

from datetime import datetime

from flask import Response, current_app, jsonify, request

from mappings.state import parse_time
from scim_server.api import bp
from scim_server.api.context import org_context, read_session, session_factory
from scim_server.api.responses import AuditList, RunList, reply
from sync.listings import audit_page, runs_page
from sync.paging import parse_limit
from sync.services.sources import run_source as run_source_now
from sync.settings import Settings
from sync.sources.catalog import org_sources, source_json
from sync.store.runs import get_run, run_json

__all__: list[str] = []


def _time_arg(name: str) -> datetime | None:
    return parse_time(request.args.get(name) or None, name)


@bp.get("/orgs/<org>/runs")
def get_runs(org: str) -> Response:
    """The org's reconcile and pull runs, newest first, a page at a time."""
    args = request.args
    with read_session() as s:
        ctx = org_context(s, org)
        page = runs_page(
            s,
            ctx.id,
            limit=parse_limit(args.get("limit")),
            cursor=args.get("cursor"),
            outcome=args.get("outcome"),
        )
        return reply(RunList, runs=page.items, next_cursor=page.next_cursor)


@bp.get("/orgs/<org>/audit")
def get_audit(org: str) -> Response:
    """Audit entries, newest first, a page at a time; filter with ``user``, ``op``,
    ``actor``, ``since`` and ``until`` (ISO 8601)."""
    since, until = _time_arg("since"), _time_arg("until")
    args = request.args
    with read_session() as s:
        ctx = org_context(s, org)
        page = audit_page(
            s,
            ctx.id,
            limit=parse_limit(args.get("limit")),
            cursor=args.get("cursor"),
            user=args.get("user"),
            op=args.get("op"),
            actor=args.get("actor"),
            since=since,
            until=until,
        )
        return reply(AuditList, entries=page.items, next_cursor=page.next_cursor)


@bp.get("/orgs/<org>/sources")
def get_sources(org: str) -> Response:
    """The org's directory sources with their last run."""
    with read_session() as s:
        ctx = org_context(s, org)
        return jsonify(sources=[source_json(x) for x in org_sources(s, ctx.id)])


@bp.post("/orgs/<org>/sources/<name>/run")
def run_source(org: str, name: str) -> Response:
    """Pull a source now and reconcile; 409 while another pull of the org runs."""
    with read_session() as s:
        ctx = org_context(s, org)
    settings: Settings = current_app.extensions["rolebridge.settings"]
    factory = session_factory()
    result = run_source_now(
        factory,
        ctx.id,
        name,
        ctx.authority,
        secret_key=settings.secret_key,
        quarantine_after=settings.quarantine_after,
    )
    with read_session() as s:
        return jsonify(run_json(get_run(s, ctx.id, result.run_id)))
