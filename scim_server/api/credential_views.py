"""SCIM tokens and admin API keys of the admin API: list (paged), create, rotate, revoke.

A token or key is in the answer of the call that makes it and nowhere else; a new SCIM
token comes with the tenant URL under the field names Okta and Entra ask for."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Response, current_app, request

from mappings.authority import Caller
from mappings.state import format_time
from scim_server.api import bp
from scim_server.api.bodies import KeyCreate, Rotation, TokenCreate
from scim_server.api.context import (
    OrgContext,
    json_body,
    org_context,
    read_session,
    session_factory,
)
from scim_server.api.responses import (
    ApiKeyCreated,
    ApiKeyInfo,
    ApiKeyList,
    TokenCreated,
    TokenInfo,
    TokenList,
    reply,
)
from sync.db import SessionFactory
from sync.paging import Page, parse_limit
from sync.services import credentials
from sync.services.credentials import Credential, Issued
from sync.settings import Settings

__all__ = ["credential_json", "scim_tenant_url", "token_created_json"]


def scim_tenant_url() -> str:
    """The SCIM base URL an IdP is given (``ROLEBRIDGE_BASE_URL`` + ``/scim/v2``)."""
    settings: Settings = current_app.extensions["rolebridge.settings"]
    return settings.base_url.rstrip("/") + "/scim/v2"


def credential_json(c: Credential) -> dict[str, Any]:
    """A token's or key's public facts."""
    out: dict[str, Any] = {
        "id": c.id,
        "name": c.name,
        "created_at": format_time(c.created_at),
        "created_by": c.created_by,
        "expires_at": format_time(c.expires_at),
        "last_used_at": format_time(c.last_used_at),
        "revoked_at": format_time(c.revoked_at),
    }
    if c.role is not None:
        out["role"] = c.role
    return out


def token_created_json(issued: Issued) -> dict[str, Any]:
    """A new SCIM token with what Okta and Entra ask for, by their own field names."""
    url = scim_tenant_url()
    return credential_json(issued.credential) | {
        "token": issued.secret,
        "tenant_url": url,
        "okta": {"Base URL": url, "API Token": issued.secret},
        "entra": {"Tenant URL": url, "Secret Token": issued.secret},
    }


def _ctx(org: str) -> OrgContext:
    with read_session() as s:
        return org_context(s, org)


def _key_created_json(issued: Issued) -> dict[str, Any]:
    return credential_json(issued.credential) | {"key": issued.secret}


@dataclass(frozen=True, slots=True)
class _Kind:
    """What differs between the token routes and the key routes: the service calls, the
    list's field and the typed answers. The routes themselves are one implementation."""

    plural: str  # the list's field: "tokens", "keys"
    listed: type[TokenList] | type[ApiKeyList]
    created: type[TokenCreated] | type[ApiKeyCreated]
    info: type[TokenInfo] | type[ApiKeyInfo]
    list_: Callable[..., Page[Credential]]
    create: Callable[[SessionFactory, int, Caller, dict[str, Any]], Issued]
    rotate: Callable[..., Issued]
    revoke: Callable[..., Credential]
    created_json: Callable[[Issued], dict[str, Any]]


def _make_token(f: SessionFactory, org: int, who: Caller, body: dict[str, Any]) -> Issued:
    made = TokenCreate.model_validate(body)
    return credentials.create_token(f, org, who, made.name, made.expires_at)


def _make_key(f: SessionFactory, org: int, who: Caller, body: dict[str, Any]) -> Issued:
    made = KeyCreate.model_validate(body)
    return credentials.create_key(f, org, who, made.role, made.name, made.expires_at)


_TOKENS = _Kind(
    "tokens",
    TokenList,
    TokenCreated,
    TokenInfo,
    credentials.list_tokens,
    _make_token,
    credentials.rotate_token,
    credentials.revoke_token,
    token_created_json,
)
_KEYS = _Kind(
    "keys",
    ApiKeyList,
    ApiKeyCreated,
    ApiKeyInfo,
    credentials.list_keys,
    _make_key,
    credentials.rotate_key,
    credentials.revoke_key,
    _key_created_json,
)


def _list(kind: _Kind, org: str) -> Response:
    ctx = _ctx(org)
    page = kind.list_(
        session_factory(),
        ctx.id,
        ctx.authority,
        limit=parse_limit(request.args.get("limit")),
        cursor=request.args.get("cursor"),
    )
    items = [credential_json(c) for c in page.items]
    listed: dict[str, Any] = {kind.plural: items, "next_cursor": page.next_cursor}
    return reply(kind.listed, **listed)


def _create(kind: _Kind, org: str) -> Response:
    ctx = _ctx(org)
    body = json_body()
    issued = kind.create(session_factory(), ctx.id, ctx.authority, body)
    return reply(kind.created, 201, **kind.created_json(issued))


def _rotate(kind: _Kind, org: str, row_id: int) -> Response:
    ctx = _ctx(org)
    body = Rotation.model_validate(request.get_json(silent=True) or {})
    issued = kind.rotate(session_factory(), ctx.id, ctx.authority, row_id, body.expires_at)
    return reply(kind.created, 201, **kind.created_json(issued))


def _revoke(kind: _Kind, org: str, row_id: int) -> Response:
    ctx = _ctx(org)
    revoked = kind.revoke(session_factory(), ctx.id, ctx.authority, row_id)
    return reply(kind.info, **credential_json(revoked))


@bp.get("/orgs/<org>/tokens")
def get_tokens(org: str) -> Response:
    """The org's SCIM tokens, newest first (holders of the top role only)."""
    return _list(_TOKENS, org)


@bp.post("/orgs/<org>/tokens")
def post_token(org: str) -> Response:
    """A new SCIM token, shown once with the tenant URL (holders of the top role only)."""
    return _create(_TOKENS, org)


@bp.post("/orgs/<org>/tokens/<id:token_id>/rotate")
def rotate_token(org: str, token_id: int) -> Response:
    """A new token in place of this one; the old keeps working until it is revoked."""
    return _rotate(_TOKENS, org, token_id)


@bp.delete("/orgs/<org>/tokens/<id:token_id>")
def delete_token(org: str, token_id: int) -> Response:
    """Revoke a SCIM token: refused from the next request on, in every process."""
    return _revoke(_TOKENS, org, token_id)


@bp.get("/orgs/<org>/keys")
def get_api_keys(org: str) -> Response:
    """The org's admin API keys, newest first (never the keys themselves)."""
    return _list(_KEYS, org)


@bp.post("/orgs/<org>/keys")
def post_api_key(org: str) -> Response:
    """A new API key carrying the caller's own role or one it manages, shown once."""
    return _create(_KEYS, org)


@bp.post("/orgs/<org>/keys/<id:key_id>/rotate")
def rotate_api_key(org: str, key_id: int) -> Response:
    """A new key with this one's role and name; the old keeps working until revoked."""
    return _rotate(_KEYS, org, key_id)


@bp.delete("/orgs/<org>/keys/<id:key_id>")
def delete_api_key(org: str, key_id: int) -> Response:
    """Revoke an API key (and the admin page sessions it signed in) at once."""
    return _revoke(_KEYS, org, key_id)
