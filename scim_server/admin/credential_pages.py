"""The admin pages' SCIM tokens and API keys: list, make (shown once, with a copy button
and the field names Okta and Entra use), rotate and revoke, through the same services
as ``/api/v1`` (``sync.services.credentials``); and, read-only, the org's webhooks
(``sync.services.webhooks``), each linking to the webhooks page."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from mappings.authority import Caller, key_roles, refusal_for_key_role, refusal_for_scim_tokens
from mappings.state import parse_time
from scim_server.admin import bp
from scim_server.api.context import OrgContext, caller, org_context, read_session, session_factory
from scim_server.api.credential_views import credential_json, scim_tenant_url, token_created_json
from sync.paging import MAX_LIMIT
from sync.services import credentials
from sync.services.credentials import Issued
from sync.services.webhooks import webhooks_of

__all__ = ["credentials_page"]


def _ctx() -> OrgContext:
    with read_session() as s:
        return org_context(s, caller().org_name)


def _caller(ctx: OrgContext) -> Caller:
    return Caller(actor=ctx.caller.actor, role=ctx.caller.role)


def _expiry() -> datetime | None:
    """The form's expiry date: through the end of that day (UTC)."""
    raw = request.form.get("expires", "").strip()
    day = parse_time(raw or None, "expires")
    return None if day is None else day + timedelta(days=1)


def _page(shown: Issued | None = None, kind: str = "") -> str:
    ctx = _ctx()
    model, role = ctx.role_model, ctx.caller.role
    may_tokens = refusal_for_scim_tokens(model, role) is None
    tokens = (
        credentials.list_tokens(
            session_factory(), ctx.id, _caller(ctx), limit=MAX_LIMIT, cursor=None
        )
        if may_tokens
        else None
    )
    keys = credentials.list_keys(
        session_factory(), ctx.id, _caller(ctx), limit=MAX_LIMIT, cursor=None
    )
    grantable = [r for r in key_roles(model) if refusal_for_key_role(model, role, r) is None]
    return render_template(
        "admin/credentials.html",
        tokens=[credential_json(c) for c in tokens.items] if tokens else None,
        keys=[credential_json(c) for c in keys.items],
        grantable=grantable,
        tenant_url=scim_tenant_url(),
        shown=(token_created_json(shown) if kind == "token" else {"key": shown.secret})
        if shown
        else None,
        shown_kind=kind,
        may_revoke={
            k.id for k in keys.items if refusal_for_key_role(model, role, k.role or "") is None
        },
        webhooks=webhooks_of(session_factory(), ctx.id),
    )


@bp.get("/credentials")
def credentials_page() -> str:
    """SCIM tokens (top role only) and API keys of the org."""
    return _page()


@bp.post("/tokens")
def token_create() -> str:
    """Make a SCIM token and show it this once."""
    ctx = _ctx()
    issued = credentials.create_token(
        session_factory(), ctx.id, _caller(ctx), request.form.get("name", ""), _expiry()
    )
    return _page(issued, "token")


@bp.post("/tokens/<id:token_id>/rotate")
def token_rotate(token_id: int) -> str:
    """A new token in place of one; the old one works until it is revoked."""
    ctx = _ctx()
    issued = credentials.rotate_token(session_factory(), ctx.id, _caller(ctx), token_id)
    return _page(issued, "token")


@bp.post("/tokens/<id:token_id>/revoke")
def token_revoke(token_id: int) -> BaseResponse:
    """Revoke a token at once."""
    ctx = _ctx()
    gone = credentials.revoke_token(session_factory(), ctx.id, _caller(ctx), token_id)
    flash(f"SCIM token {gone.id} ({gone.name or 'unnamed'}) is revoked.", "ok")
    return redirect(url_for("admin.credentials_page"), 303)


@bp.post("/keys")
def key_create() -> str:
    """Make an API key and show it this once."""
    ctx = _ctx()
    issued = credentials.create_key(
        session_factory(),
        ctx.id,
        _caller(ctx),
        request.form.get("role", ""),
        request.form.get("name", ""),
        _expiry(),
    )
    return _page(issued, "key")


@bp.post("/keys/<id:key_id>/rotate")
def key_rotate(key_id: int) -> str:
    """A new key with this one's role; the old one works until it is revoked."""
    ctx = _ctx()
    issued = credentials.rotate_key(session_factory(), ctx.id, _caller(ctx), key_id)
    return _page(issued, "key")


@bp.post("/keys/<id:key_id>/revoke")
def key_revoke(key_id: int) -> BaseResponse:
    """Revoke an API key at once (signing out its page sessions)."""
    ctx = _ctx()
    gone = credentials.revoke_key(session_factory(), ctx.id, _caller(ctx), key_id)
    flash(f"API key {gone.id} ({gone.name or gone.role}) is revoked.", "ok")
    return redirect(url_for("admin.credentials_page"), 303)
