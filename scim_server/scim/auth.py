"""Bearer-token authentication for ``/scim/v2``: the token decides the organisation.

The token is hashed and looked up (``sync.credentials.tokens.find_tenant``, constant-time
comparison) on every request, so a revoked token stops working at once in every
process; the tenant goes into ``flask.g`` for the storage. The request keeps the
connection of that lookup (``read_connection``) for its storage calls: a read on it (in
autocommit on PostgreSQL, in the lookup's transaction on SQLite), and on PostgreSQL a
write in the transaction the lookup began (``SqlScimStorage.operation``), so a request
costs one connection checkout and at most one BEGIN and COMMIT. On SQLite a write's
token is checked in a transaction of its own (docs/architecture.md section 3.1). A
missing, unknown or revoked token is a 401 SCIM Error with ``WWW-Authenticate: Bearer``,
and counts against the client's address (``throttle``: past its limit, a 429). The
discovery endpoints describe the service only, so they answer without a token.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import g, request
from scim2_models import UnauthorizedException
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from scim_server.ops.throttle import count_failure
from sync import logs
from sync.credentials.tokens import Tenant, find_tenant

__all__ = [
    "PUBLIC_ENDPOINTS",
    "close_read_connection",
    "current_tenant",
    "make_authenticator",
    "read_connection",
]

PUBLIC_ENDPOINTS = ("ServiceProviderConfig", "ResourceTypes", "Schemas")
_log = logging.getLogger("rolebridge.scim")


def current_tenant() -> Tenant:
    """The tenant the current request authenticated as."""
    tenant: Tenant | None = g.get("scim_tenant")
    if tenant is None:
        raise UnauthorizedException(detail="A bearer token is required")
    return tenant


def read_connection() -> Connection | None:
    """The connection the current request authenticated on, if it kept one."""
    found: Connection | None = g.get("scim_connection")
    return found


def close_read_connection(_exc: BaseException | None = None) -> None:
    """End the request's transaction, if it left one open, and give its connection back
    (a ``teardown_request`` hook); then write the token's "last used" if it is due, so
    that a request never holds one pooled connection while it waits for another."""
    try:
        _close(g.pop("scim_connection", None))
    finally:
        touch: Callable[[], None] | None = g.pop("scim_touch", None)
        if touch is not None:
            try:
                touch()
            except SQLAlchemyError as exc:  # "last used" is written again within a minute
                _log.warning("recording a token's last use failed: %s", type(exc).__name__)


def _later(touch: Callable[[], None]) -> None:
    """Keep "last used"'s write for the request's teardown (``find_tenant``'s ``later``)."""
    g.scim_touch = touch


def _close(connection: Connection | None) -> None:
    if connection is None:
        return
    try:
        # Committed, not rolled back (nothing was written on it either way): psycopg drops
        # every statement it prepared on a connection when that connection rolls back, so
        # one GET ending in a ROLLBACK cost the next writes on its connection their
        # prepared statements (PostgreSQL then parses and plans each one again).
        if connection.in_transaction() and not connection.invalidated:
            connection.commit()
    except SQLAlchemyError as exc:  # a broken connection: closing it discards it
        _log.warning("ending a read transaction failed: %s", type(exc).__name__)
    finally:
        connection.close()


def make_authenticator(
    engine: Engine, prefix: str, writes: Callable[[], bool]
) -> Callable[[], None]:
    """A ``before_request`` hook that resolves the bearer token into ``g.scim_tenant``."""

    postgres = engine.dialect.name == "postgresql"

    def authenticate() -> None:
        path = request.path.removeprefix(prefix).strip("/")
        if request.method == "GET" and path.split("/", 1)[0] in PUBLIC_ENDPOINTS:
            return
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            count_failure()
            raise UnauthorizedException(detail="A bearer token is required")
        write = writes()
        if write and not postgres:
            # SQLite: the write's transaction begins with the database's write lock, which
            # a request is not given before its token is known
            with engine.begin() as connection:
                tenant = find_tenant(connection, token.strip(), _later)
        else:
            connection = engine.connect()
            if postgres and not write:
                # each statement its own transaction: no BEGIN and COMMIT round trips, and
                # under READ COMMITTED a read sees what it would in one transaction
                connection.execution_options(isolation_level="AUTOCOMMIT")
            g.scim_connection = connection
            connection.begin()  # a write on PostgreSQL goes on in this transaction
            tenant = find_tenant(connection, token.strip(), _later)
        if tenant is None:
            close_read_connection()
            count_failure()
            raise UnauthorizedException(detail="The bearer token is unknown or revoked")
        g.scim_tenant = tenant
        logs.bind(org_id=tenant.org_id)

    return authenticate
