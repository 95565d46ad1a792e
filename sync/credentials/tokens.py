"""SCIM bearer tokens: one or more per organisation, stored as SHA-256 hashes.

A token is shown once, when it is created. Looking one up hashes the presented
token and compares the stored hash in constant time, so neither the token nor a
timing difference leaks.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, bindparam, select, update
from sqlalchemy.orm import Session

from sync.models import Organisation, ScimToken, Source, utcnow

__all__ = [
    "TOKEN_PREFIX",
    "Tenant",
    "TokenError",
    "TokenInfo",
    "create_token",
    "find_tenant",
    "hash_token",
    "list_tokens",
    "revoke_token",
    "scim_source",
]

TOKEN_PREFIX = "rbscim_"


class TokenError(Exception):
    """A token command cannot be carried out (unknown org, unknown token)."""


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """What may be shown about a stored token: never the token itself."""

    id: int
    org: str
    name: str
    created_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class Tenant:
    """Whom a SCIM request acts for: the token's organisation and its ``scim`` source."""

    org_id: int
    source_id: int


def hash_token(token: str) -> str:
    """The stored form of a token: its SHA-256, hex."""
    return hashlib.sha256(token.encode()).hexdigest()


def _org(session: Session, org: str) -> Organisation:
    found = session.scalar(select(Organisation).where(Organisation.name == org))
    if found is None and org.isdigit():
        found = session.get(Organisation, int(org))
    if found is None:
        raise TokenError(f"no organisation named {org!r}")
    return found


def scim_source(session: Session, org_id: int) -> Source:
    """The org's ``scim`` source, created on first use."""
    source = session.scalar(
        select(Source).where(Source.org_id == org_id, Source.kind == "scim").order_by(Source.id)
    )
    if source is None:
        source = Source(org_id=org_id, name="scim", kind="scim", config={})
        session.add(source)
        session.flush()
    return source


def create_token(session: Session, org: str, name: str = "") -> tuple[TokenInfo, str]:
    """Create a token for ``org`` (name or id); returns its info and the token, shown once."""
    organisation = _org(session, org)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ScimToken(org_id=organisation.id, token_hash=hash_token(token), name=name)
    session.add(row)
    scim_source(session, organisation.id)
    session.flush()
    return _info(row, organisation.name), token


def list_tokens(session: Session, org: str) -> list[TokenInfo]:
    """The org's tokens, oldest first, revoked ones included."""
    organisation = _org(session, org)
    rows = session.scalars(
        select(ScimToken).where(ScimToken.org_id == organisation.id).order_by(ScimToken.id)
    )
    return [_info(row, organisation.name) for row in rows]


def revoke_token(session: Session, org: str, token_id: int) -> TokenInfo:
    """Revoke one of the org's tokens by id; revoking twice keeps the first date."""
    organisation = _org(session, org)
    row = session.get(ScimToken, token_id)
    if row is None or row.org_id != organisation.id:
        raise TokenError(f"organisation {organisation.name!r} has no token {token_id}")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
    return _info(row, organisation.name)


LAST_USED_GRAIN = timedelta(minutes=1)  # "last used" is written at most this often

# on the tables' columns, built once: a Core statement skips the ORM's compile step
_tk = ScimToken.__table__.c
_src = Source.__table__.c
_TENANT_QUERY = (
    select(
        _tk.org_id,
        _tk.token_hash,
        _tk.revoked_at,
        _src.id,
        _tk.id,
        _tk.expires_at,
        _tk.last_used_at,
    )
    .outerjoin(Source.__table__, (_src.org_id == _tk.org_id) & (_src.kind == "scim"))
    .where(_tk.token_hash == bindparam("digest"))
    .order_by(_src.id)
    .limit(1)
)


def find_tenant(
    session: Session | Connection,
    token: str,
    later: Callable[[Callable[[], None]], None] | None = None,
) -> Tenant | None:
    """The tenant of a presented bearer token, or None when it is unknown, revoked or
    expired. Asked of the database on every request, so a revocation counts at once in
    every process; "last used" is written at most once a minute per token, in its own
    short transaction.

    It takes a Session or, on the hot path of every SCIM request, a bare Connection.
    ``later``: given the write of "last used" on a bare Connection, to run it once the
    caller has given its connection back (a SCIM request's teardown): a request that
    waited for a second pooled connection while holding its first could, with every
    pooled connection so held, wait for the pool's whole timeout.
    """
    digest = hash_token(token)
    row = session.execute(_TENANT_QUERY, {"digest": digest}).first()
    if row is None or row.revoked_at is not None:
        return None
    if not hmac.compare_digest(row.token_hash, digest):
        return None
    now = utcnow()
    if row.expires_at is not None and row.expires_at <= now:
        return None
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_GRAIN:
        if isinstance(session, Connection):
            # a bare Connection (a read that never commits): in a transaction of its own
            touch = functools.partial(_touch, session.engine, row[4], now)
            if later is not None:
                later(touch)
            else:
                touch()
        else:
            _touch(session, row[4], now)
    if row[3] is not None:
        return Tenant(org_id=row.org_id, source_id=row[3])
    if isinstance(session, Connection):
        # its own short transaction: the caller's connection may be a read that never commits
        with Session(bind=session.engine) as own, own.begin():
            return Tenant(org_id=row.org_id, source_id=scim_source(own, row.org_id).id)
    return Tenant(org_id=row.org_id, source_id=scim_source(session, row.org_id).id)


def _touch(session: Session | Engine, token_id: int, now: datetime) -> None:
    """Record that a token was used: on an Engine in a transaction of its own, on a
    Session in the caller's."""
    stmt = update(ScimToken).where(ScimToken.id == token_id).values(last_used_at=now)
    if isinstance(session, Engine):
        with session.begin() as own:
            own.execute(stmt)
    else:
        session.execute(stmt.execution_options(synchronize_session=False))


def _info(row: ScimToken, org: str) -> TokenInfo:
    return TokenInfo(
        id=row.id, org=org, name=row.name, created_at=row.created_at, revoked_at=row.revoked_at
    )
