"""The org's identity provider sign-in to the admin pages, in the admin API: read it, set
it, remove it (``sync.services.oidc``; docs/architecture.md section 3.5).

The client secret is write-only: a PUT may send it, no answer ever holds it (only
``"set"``). Reading is for the org's admins; changes are for its top role."""

from __future__ import annotations

from flask import Response, current_app
from pydantic import BaseModel, ConfigDict, Field

from mappings.authority import Caller
from mappings.state import format_time
from scim_server.api import bp
from scim_server.api.context import (
    OrgContext,
    json_body,
    org_context,
    read_session,
    session_factory,
)
from scim_server.api.responses import OidcOut, reply
from sync.credentials.oidc import CALLBACK_PATH, OidcFacts
from sync.services import oidc as service
from sync.settings import Settings

__all__ = ["OIDC_BODIES", "OidcSettingsIn"]


class OidcSettingsIn(BaseModel):
    """The org's OpenID Connect provider for admin page sign-in."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    issuer: str = Field(min_length=1, max_length=500, description="e.g. https://acme.okta.com")
    client_id: str = Field(min_length=1, max_length=500)
    client_secret: str | None = Field(
        default=None,
        min_length=1,
        max_length=4000,
        description="write-only; required the first time, omitted to keep the stored one",
    )
    enabled: bool = True


# endpoint -> request body, read by openapi.py; the answers are in responses.RESPONSES
OIDC_BODIES: dict[str, type[BaseModel]] = {"api.put_oidc": OidcSettingsIn}


def _settings() -> Settings:
    settings: Settings = current_app.extensions["rolebridge.settings"]
    return settings


def _ctx(org: str) -> OrgContext:
    with read_session() as s:
        return org_context(s, org)


def _caller(ctx: OrgContext) -> Caller:
    return Caller(actor=ctx.caller.actor, role=ctx.caller.role)


def _reply(facts: OidcFacts | None) -> Response:
    return reply(
        OidcOut,
        configured=facts is not None,
        issuer=facts.issuer if facts else None,
        client_id=facts.client_id if facts else None,
        client_secret="set" if facts and facts.secret_set else None,
        enabled=bool(facts and facts.enabled),
        updated_at=format_time(facts.updated_at) if facts else None,
        updated_by=facts.updated_by if facts else None,
        redirect_uri=_settings().base_url.rstrip("/") + CALLBACK_PATH,
    )


@bp.get("/orgs/<org>/oidc")
def get_oidc(org: str) -> Response:
    """The org's identity provider sign-in (the secret only as "set"; admins only)."""
    ctx = _ctx(org)
    return _reply(service.show_oidc(session_factory(), ctx.id, _caller(ctx)))


@bp.put("/orgs/<org>/oidc")
def put_oidc(org: str) -> Response:
    """Set the org's identity provider sign-in (holders of the top role only)."""
    ctx = _ctx(org)
    body = OidcSettingsIn.model_validate(json_body())
    facts = service.set_oidc(
        session_factory(),
        ctx.id,
        _caller(ctx),
        issuer=body.issuer,
        client_id=body.client_id,
        client_secret=body.client_secret,
        enabled=body.enabled,
        secret_key=_settings().secret_key,
    )
    return _reply(facts)


@bp.delete("/orgs/<org>/oidc")
def delete_oidc(org: str) -> Response:
    """Remove the org's identity provider sign-in (holders of the top role only)."""
    ctx = _ctx(org)
    service.clear_oidc(session_factory(), ctx.id, _caller(ctx))
    return _reply(None)
