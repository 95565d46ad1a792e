"""Bearer-token authentication for ``/scim/v2``: the token decides the organisation.

The token is hashed and looked up (``sync.tokens.find_tenant``, constant-time
comparison); the tenant goes into ``flask.g`` for the storage. A missing, unknown
or revoked token is a 401 SCIM Error with ``WWW-Authenticate: Bearer``. The
discovery endpoints describe the service only, so they answer without a token.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import g, request
from scim2_models import UnauthorizedException
from sqlalchemy.orm import Session, sessionmaker

from sync import logs
from sync.tokens import Tenant, find_tenant

__all__ = ["PUBLIC_ENDPOINTS", "current_tenant", "make_authenticator"]

PUBLIC_ENDPOINTS = ("ServiceProviderConfig", "ResourceTypes", "Schemas")


def current_tenant() -> Tenant:
    """The tenant the current request authenticated as."""
    tenant: Tenant | None = g.get("scim_tenant")
    if tenant is None:
        raise UnauthorizedException(detail="A bearer token is required")
    return tenant


def make_authenticator(session_factory: sessionmaker[Session], prefix: str) -> Callable[[], None]:
    """A ``before_request`` hook that resolves the bearer token into ``g.scim_tenant``."""

    engine = session_factory.kw["bind"]

    def authenticate() -> None:
        path = request.path.removeprefix(prefix).strip("/")
        if request.method == "GET" and path.split("/", 1)[0] in PUBLIC_ENDPOINTS:
            return
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise UnauthorizedException(detail="A bearer token is required")
        with engine.begin() as connection:  # a bare connection: this runs on every request
            tenant = find_tenant(connection, token.strip())
        if tenant is None:
            raise UnauthorizedException(detail="The bearer token is unknown or revoked")
        g.scim_tenant = tenant
        logs.bind(org_id=tenant.org_id)

    return authenticate
