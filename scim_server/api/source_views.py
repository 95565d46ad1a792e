"""Pulled sources of the admin API: add, edit (secrets write-only), pause, resume, test
the connection, and "run now" queued to the scheduler (``sync.services.sources``)."""

from __future__ import annotations

from flask import Response, current_app

from mappings.authority import Caller
from scim_server.api import bp
from scim_server.api.bodies import SourceCreate, SourceEdit, SourcePatch
from scim_server.api.context import (
    OrgContext,
    json_body,
    org_context,
    read_session,
    session_factory,
)
from scim_server.api.responses import SourceOut, SourceTest, reply
from sync.services import sources
from sync.services.sources import SourceChanges, SourceSettings
from sync.settings import Settings
from sync.sources.catalog import detail_json

__all__: list[str] = []


def _ctx(org: str) -> OrgContext:
    with read_session() as s:
        return org_context(s, org)


def _caller(ctx: OrgContext) -> Caller:
    return Caller(actor=ctx.caller.actor, role=ctx.caller.role)


def _secret_key() -> str:
    settings: Settings = current_app.extensions["rolebridge.settings"]
    return settings.secret_key


@bp.post("/orgs/<org>/sources")
def post_source(org: str) -> Response:
    """Add an Okta, Graph or SCIM-pull source; its secret is stored sealed, never shown."""
    ctx = _ctx(org)
    body = SourceCreate.model_validate(json_body())
    settings = SourceSettings(body.name, body.kind, body.config, body.secret, body.schedule)
    source = sources.save_source(
        session_factory(), ctx.id, _caller(ctx), settings, secret_key=_secret_key(), create=True
    )
    return reply(SourceOut, 201, **detail_json(source))


@bp.put("/orgs/<org>/sources/<name>")
def put_source(org: str, name: str) -> Response:
    """Change a source's settings; without ``secret`` the stored one stays."""
    ctx = _ctx(org)
    body = SourceEdit.model_validate(json_body())
    settings = SourceSettings(name, body.kind, body.config, body.secret, body.schedule)
    source = sources.save_source(
        session_factory(), ctx.id, _caller(ctx), settings, secret_key=_secret_key(), create=False
    )
    return reply(SourceOut, **detail_json(source))


@bp.patch("/orgs/<org>/sources/<name>")
def patch_source(org: str, name: str) -> Response:
    """Change some of a source's settings, its schedule, pause or secret; the rest stays."""
    ctx = _ctx(org)
    body = SourcePatch.model_validate(json_body())
    given = body.model_fields_set
    schedule = (body.schedule or "") if "schedule" in given else None
    changes = SourceChanges(body.config, schedule, body.paused, body.secret)
    source, _ = sources.edit_source(
        session_factory(), ctx.id, _caller(ctx), name, changes, secret_key=_secret_key()
    )
    return reply(SourceOut, **detail_json(source))


@bp.post("/orgs/<org>/sources/<name>/test")
def test_source(org: str, name: str) -> Response:
    """Test the source's connection: one authenticated request, the outcome in words."""
    ctx = _ctx(org)
    result = sources.test_source(
        session_factory(), ctx.id, _caller(ctx), name, secret_key=_secret_key()
    )
    return reply(SourceTest, ok=result.ok, detail=result.detail)


@bp.post("/orgs/<org>/sources/<name>/pause")
def pause_source(org: str, name: str) -> Response:
    """Pause a source: no scheduled or requested pulls until it is resumed."""
    ctx = _ctx(org)
    source = sources.set_paused(session_factory(), ctx.id, _caller(ctx), name, True)
    return reply(SourceOut, **detail_json(source))


@bp.post("/orgs/<org>/sources/<name>/resume")
def resume_source(org: str, name: str) -> Response:
    """Resume a paused source."""
    ctx = _ctx(org)
    source = sources.set_paused(session_factory(), ctx.id, _caller(ctx), name, False)
    return reply(SourceOut, **detail_json(source))


@bp.post("/orgs/<org>/sources/<name>/run-request")
def request_source_run(org: str, name: str) -> Response:
    """Queue a pull for the scheduler (202); the run shows up under runs when it is done."""
    ctx = _ctx(org)
    source = sources.request_run(session_factory(), ctx.id, _caller(ctx), name)
    return reply(SourceOut, 202, **detail_json(source))
