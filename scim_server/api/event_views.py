"""The org's event feed and its webhook endpoints."""

from __future__ import annotations

from flask import Response, current_app, request

from mappings.authority import Caller
from scim_server.api import bp
from scim_server.api.context import (
    OrgContext,
    int_arg,
    json_body,
    org_context,
    read_session,
    session_factory,
)
from scim_server.api.event_schemas import (
    EventPageOut,
    FailuresOut,
    NewWebhookOut,
    ReplayOut,
    TestOut,
    WebhookCreate,
    WebhookReplay,
    WebhooksOut,
)
from scim_server.api.responses import reply
from sync.services.webhooks import (
    add_webhook,
    delete_webhook,
    replay,
    test_webhook,
    webhook_failures,
    webhooks_of,
)
from sync.settings import Settings
from sync.store.events import MAX_PAGE, decode_cursor, list_events, parse_types

__all__: list[str] = []


def _context(org: str) -> OrgContext:
    with read_session() as s:
        return org_context(s, org)


def _caller(ctx: OrgContext) -> Caller:
    return Caller(actor=ctx.caller.actor, role=ctx.caller.role)


def _settings() -> Settings:
    found: Settings = current_app.extensions["rolebridge.settings"]
    return found


@bp.get("/orgs/<org>/events")
def get_events(org: str) -> Response:
    """The org's events in sequence order, a page at a time (``after`` a cursor)."""
    ctx = _context(org)
    after = request.args.get("after")
    limit = int_arg("limit") if "limit" in request.args else 100
    limit = min(limit, MAX_PAGE)
    types = parse_types(request.args.get("types"))
    seq = decode_cursor(after) if after else 0
    with read_session() as s:
        page = list_events(s, ctx.id, after=seq, limit=limit, types=types)
    return reply(
        EventPageOut, events=page.events, next_cursor=page.next_cursor, has_more=page.has_more
    )


@bp.get("/orgs/<org>/webhooks")
def get_webhooks(org: str) -> Response:
    """The org's webhook endpoints and how far delivery got (never their secrets)."""
    ctx = _context(org)
    return reply(WebhooksOut, webhooks=webhooks_of(session_factory(), ctx.id))


@bp.post("/orgs/<org>/webhooks")
def post_webhook(org: str) -> Response:
    """Add a webhook endpoint; its signing secret is in this answer only."""
    ctx = _context(org)
    body = WebhookCreate.model_validate(json_body())
    made = add_webhook(session_factory(), ctx.id, _caller(ctx), body.url, _settings(), body.types)
    return reply(NewWebhookOut, 201, webhook=made.webhook, secret=made.secret)


@bp.delete("/orgs/<org>/webhooks/<id:webhook_id>")
def remove_webhook(org: str, webhook_id: int) -> tuple[str, int]:
    """Remove a webhook endpoint."""
    ctx = _context(org)
    delete_webhook(session_factory(), ctx.id, _caller(ctx), webhook_id)
    return "", 204


@bp.get("/orgs/<org>/webhooks/<id:webhook_id>/failures")
def get_webhook_failures(org: str, webhook_id: int) -> Response:
    """The events an endpoint gave up on after retrying."""
    ctx = _context(org)
    return reply(FailuresOut, failures=webhook_failures(session_factory(), ctx.id, webhook_id))


@bp.post("/orgs/<org>/webhooks/<id:webhook_id>/replay")
def replay_webhook(org: str, webhook_id: int) -> Response:
    """Send an endpoint's events again from a sequence number (default: its oldest failed
    event); a disabled endpoint is enabled again."""
    ctx = _context(org)
    data = request.get_json(silent=True)
    body = WebhookReplay.model_validate(data if data is not None else {})
    start = replay(session_factory(), ctx.id, _caller(ctx), webhook_id, body.from_seq)
    return reply(ReplayOut, from_seq=start)


@bp.post("/orgs/<org>/webhooks/<id:webhook_id>/test")
def test_webhook_now(org: str, webhook_id: int) -> Response:
    """Send a signed ``webhook.test`` message to the endpoint now."""
    ctx = _context(org)
    result = test_webhook(session_factory(), ctx.id, _caller(ctx), webhook_id, _settings())
    return reply(TestOut, result=result)
