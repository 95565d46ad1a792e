"""SCIM tokens and admin API keys, made, listed, rotated and revoked by the org's own
admins (``/api/v1`` and the admin pages) as by the host's operator (``rolebridge token``
and ``rolebridge apikey``).

Each change is one transaction under the org lock with one audit entry naming who did
it; a token or key is returned in clear only by the call that makes it. Revocation and
expiry are written to the database, which every process asks on every request, so they
take effect at once everywhere.

The two are one implementation parameterised by a ``_Kind`` (the table, the secret's
prefix, the audit words, who may touch one):

- SCIM tokens: for holders of the org's top role (``refusal_for_scim_tokens``);
- API keys: a key may carry the caller's own role or one it manages, and is revoked by
  the same rule (``refusal_for_key_role``); it may also carry a workspace role in named
  workspaces (``refusal_for_key_scope``).
"""

from __future__ import annotations

import secrets
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from mappings.authority import (
    Caller,
    refusal_for_key_role,
    refusal_for_key_scope,
    refusal_for_scim_tokens,
)
from mappings.errors import InputError
from sync.credentials.apikeys import KEY_PREFIX, hash_key
from sync.credentials.tokens import TOKEN_PREFIX, hash_token, scim_source
from sync.db import write_session
from sync.errors import Forbidden, NotFound
from sync.models import ApiKey, ApiKeyWorkspace, ScimToken, Workspace, utcnow
from sync.paging import MAX_LIMIT, Page, keyset_page
from sync.reconcile import lock_org
from sync.store.audit import record_audit
from sync.store.orgs import get_org, role_model_for

__all__ = [
    "Credential",
    "Issued",
    "create_key",
    "create_token",
    "every_key",
    "every_token",
    "list_keys",
    "list_tokens",
    "revoke_key",
    "revoke_token",
    "rotate_key",
    "rotate_token",
]

MAX_NAME = 200

Row = ScimToken | ApiKey


@dataclass(frozen=True, slots=True)
class Credential:
    """What may be shown about a token or key: never the secret itself."""

    id: int
    name: str
    role: str | None  # keys only
    created_at: datetime
    created_by: str
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None
    workspaces: Mapping[str, str] = field(default_factory=dict)  # keys: workspace -> role


@dataclass(frozen=True, slots=True)
class Issued:
    """A token or key just made: its facts and the secret, shown this once."""

    credential: Credential
    secret: str


# --- what differs between a token and a key ----------------------------------------------


@dataclass(frozen=True, slots=True)
class _Kind:
    """One kind of credential: its table, secret, words and authority."""

    table: type[ScimToken] | type[ApiKey]
    noun: str  # in errors: "SCIM token", "API key"
    ref: str  # the id's key in an audit entry and the cursor's kind: "token", "key"
    audit: str  # the audit ops' suffix: "scim_token", "api_key"
    prefix: str
    digest: Callable[[str], str]
    # (session, org, caller, the role a key carries or None) -> raises on a refusal
    authority: Callable[[Session, int, Caller, str | None], None]
    # what an audit entry says of an existing row, by op ("rotate", "revoke")
    described: Callable[[Row, str], dict[str, object]]
    # whether the caller's role guards the whole kind (tokens: listing included), else
    # each row by the role it carries (keys, listed by anyone of the org)
    guards_all: bool


def _token_authority(session: Session, org_id: int, caller: Caller, role: str | None) -> None:
    if caller.role is None:
        return
    model = role_model_for(get_org(session, org_id).role_model)
    refusal = refusal_for_scim_tokens(model, caller.role)
    if refusal is not None:
        raise Forbidden(refusal)


def _key_authority(session: Session, org_id: int, caller: Caller, role: str | None) -> None:
    assert role is not None  # a key always carries a role
    model = role_model_for(get_org(session, org_id).role_model)
    if role not in model.org_roles and role not in model.manages:
        roles = ", ".join(dict.fromkeys((*model.org_roles, *model.manages)))
        raise InputError(f"unknown role {role!r}; expected one of {roles}", "role")
    if caller.role is None:
        return
    refusal = refusal_for_key_role(model, caller.role, role)
    if refusal is not None:
        raise Forbidden(refusal, "role")


def _token_described(row: Row, op: str) -> dict[str, object]:
    return {"name": row.name}


def _key_described(row: Row, op: str) -> dict[str, object]:
    assert isinstance(row, ApiKey)
    return {"role": row.role} if op == "rotate" else {"name": row.name, "role": row.role}


TOKENS = _Kind(
    ScimToken,
    "SCIM token",
    "token",
    "scim_token",
    TOKEN_PREFIX,
    hash_token,
    _token_authority,
    _token_described,
    guards_all=True,
)
KEYS = _Kind(
    ApiKey,
    "API key",
    "key",
    "api_key",
    KEY_PREFIX,
    hash_key,
    _key_authority,
    _key_described,
    guards_all=False,
)


# --- the one implementation ----------------------------------------------------------------


def _facts(
    session: Session, row: Row, scopes: Mapping[int, Mapping[str, str]] | None = None
) -> Credential:
    is_key = isinstance(row, ApiKey)
    if scopes is None and is_key:
        scopes = _scopes(session, [row.id])
    return Credential(
        id=row.id,
        name=row.name,
        role=row.role if isinstance(row, ApiKey) else None,
        created_at=row.created_at,
        created_by=row.created_by,
        expires_at=row.expires_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
        workspaces=dict((scopes or {}).get(row.id, {})) if is_key else {},
    )


def _scopes(session: Session, key_ids: list[int]) -> dict[int, dict[str, str]]:
    """The workspace roles each key carries, in one query: key id -> workspace -> role."""
    found: dict[int, dict[str, str]] = {}
    if not key_ids:
        return found
    rows = session.execute(
        select(ApiKeyWorkspace.key_id, Workspace.name, ApiKeyWorkspace.role)
        .join(Workspace, Workspace.id == ApiKeyWorkspace.workspace_id)
        .where(ApiKeyWorkspace.key_id.in_(key_ids))
        .order_by(Workspace.name)
    )
    for key_id, ws, role in rows:
        found.setdefault(key_id, {})[ws] = role
    return found


def _check_name(name: str) -> str:
    name = name.strip()
    if len(name) > MAX_NAME or any(_control(c) for c in name):
        raise InputError(
            f"a name is one line of at most {MAX_NAME} characters, without control characters",
            "name",
        )
    return name


def _control(c: str) -> bool:
    # control characters (ESC would reach a terminal listing the names) and the bidi
    # overrides that make a name read as another; joiners (emoji sequences) stay allowed
    return unicodedata.category(c) == "Cc" or "\u202a" <= c <= "\u202e" or "\u2066" <= c <= "\u2069"


def _check_expiry(expires_at: datetime | None) -> None:
    if expires_at is not None and expires_at <= utcnow():
        raise InputError("the expiry must be in the future", "expires_at")


def _list(
    kind: _Kind,
    factory: sessionmaker[Session],
    org_id: int,
    caller: Caller,
    limit: int,
    cursor: str | None,
) -> Page[Credential]:
    with factory.begin() as session:
        if kind.guards_all:
            kind.authority(session, org_id, caller, None)
        else:
            get_org(session, org_id)
        table = kind.table
        query = select(table).where(table.org_id == org_id)
        page = keyset_page(session, query, kind.ref + "s", (table.id,), limit=limit, cursor=cursor)
        rows: list[Row] = list(page.items)  # type: ignore[arg-type]
        scopes = _scopes(session, [r.id for r in rows]) if table is ApiKey else {}
        return Page([_facts(session, r, scopes) for r in rows], page.next_cursor)


def _every(
    kind: _Kind, factory: sessionmaker[Session], org_id: int, caller: Caller
) -> list[Credential]:
    found: list[Credential] = []
    cursor: str | None = None
    while True:
        page = _list(kind, factory, org_id, caller, MAX_LIMIT, cursor)
        found.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            return found[::-1]


def _new(
    kind: _Kind,
    session: Session,
    org_id: int,
    caller: Caller,
    name: str,
    expires_at: datetime | None,
    role: str | None,
    workspaces: Mapping[int, str],
) -> Issued:
    secret = kind.prefix + secrets.token_urlsafe(32)
    common: dict[str, Any] = {
        "org_id": org_id,
        "name": name,
        "created_by": caller.actor,
        "expires_at": expires_at,
    }
    row: Row
    if kind.table is ApiKey:
        assert role is not None
        row = ApiKey(key_hash=kind.digest(secret), role=role, **common)
    else:
        row = ScimToken(token_hash=kind.digest(secret), **common)
        scim_source(session, org_id)
    session.add(row)
    session.flush()
    session.add_all(
        ApiKeyWorkspace(key_id=row.id, workspace_id=ws_id, role=ws_role)
        for ws_id, ws_role in workspaces.items()
    )
    session.flush()
    return Issued(_facts(session, row), secret)


def _scope(
    session: Session, org_id: int, role: str, workspaces: Mapping[str, str]
) -> dict[int, str]:
    """A key's workspace roles checked against the role model: workspace id -> role."""
    if not workspaces:
        return {}
    model = role_model_for(get_org(session, org_id).role_model)
    ids = dict(
        session.execute(
            select(Workspace.name, Workspace.id).where(Workspace.org_id == org_id)
        ).all()
    )
    refusal = refusal_for_key_scope(model, role, workspaces, ids)
    if refusal is not None:
        raise InputError(refusal, "workspace-role")
    return {ids[ws]: ws_role for ws, ws_role in sorted(workspaces.items())}


def _create(
    kind: _Kind,
    factory: sessionmaker[Session],
    org_id: int,
    caller: Caller,
    name: str,
    expires_at: datetime | None,
    role: str | None = None,
    workspaces: Mapping[str, str] | None = None,
) -> Issued:
    name = _check_name(name)
    _check_expiry(expires_at)
    with write_session(factory) as session:
        lock_org(session, org_id)
        kind.authority(session, org_id, caller, role)
        scope = _scope(session, org_id, role, workspaces) if role and workspaces else {}
        issued = _new(kind, session, org_id, caller, name, expires_at, role, scope)
        detail: dict[str, object] = {kind.ref: issued.credential.id, "name": name}
        if role is not None:
            detail["role"] = role
        if workspaces:
            detail["workspaces"] = dict(sorted(workspaces.items()))
        detail["expires_at"] = _iso(expires_at)
        record_audit(session, org_id, caller.actor, f"create_{kind.audit}", "", detail)
        return issued


def _row(kind: _Kind, session: Session, org_id: int, row_id: int) -> Row:
    row: Row | None = session.get(kind.table, row_id)  # type: ignore[assignment]
    if row is None or row.org_id != org_id:
        raise NotFound(f"no {kind.noun} {row_id}")
    return row


def _role(row: Row) -> str | None:
    return row.role if isinstance(row, ApiKey) else None


def _rotate(
    kind: _Kind,
    factory: sessionmaker[Session],
    org_id: int,
    caller: Caller,
    row_id: int,
    expires_at: datetime | None,
) -> Issued:
    _check_expiry(expires_at)
    with write_session(factory) as session:
        lock_org(session, org_id)
        if kind.guards_all:
            kind.authority(session, org_id, caller, None)
        old = _row(kind, session, org_id, row_id)
        if not kind.guards_all:
            kind.authority(session, org_id, caller, _role(old))
        if old.revoked_at is not None:
            raise InputError(f"{kind.noun} {row_id} is revoked; make a new one", "id")
        scope = {}
        if isinstance(old, ApiKey):
            held = session.execute(
                select(ApiKeyWorkspace.workspace_id, ApiKeyWorkspace.role).where(
                    ApiKeyWorkspace.key_id == old.id
                )
            )
            scope = {ws_id: ws_role for ws_id, ws_role in held}
        issued = _new(kind, session, org_id, caller, old.name, expires_at, _role(old), scope)
        detail = {kind.ref: issued.credential.id, "replaces": row_id} | kind.described(
            old, "rotate"
        )
        record_audit(session, org_id, caller.actor, f"rotate_{kind.audit}", "", detail)
        return issued


def _revoke(
    kind: _Kind, factory: sessionmaker[Session], org_id: int, caller: Caller, row_id: int
) -> Credential:
    with write_session(factory) as session:
        lock_org(session, org_id)
        if kind.guards_all:
            kind.authority(session, org_id, caller, None)
        row = _row(kind, session, org_id, row_id)
        if not kind.guards_all:
            kind.authority(session, org_id, caller, _role(row))
        if row.revoked_at is None:
            row.revoked_at = utcnow()
            detail = {kind.ref: row_id} | kind.described(row, "revoke")
            record_audit(session, org_id, caller.actor, f"revoke_{kind.audit}", "", detail)
        session.flush()
        return _facts(session, row)


def _iso(when: datetime | None) -> str | None:
    return None if when is None else when.isoformat()


# --- SCIM tokens ---------------------------------------------------------------------------


def list_tokens(
    factory: sessionmaker[Session], org_id: int, caller: Caller, *, limit: int, cursor: str | None
) -> Page[Credential]:
    """The org's tokens, newest first, revoked ones included."""
    return _list(TOKENS, factory, org_id, caller, limit, cursor)


def every_token(factory: sessionmaker[Session], org_id: int, caller: Caller) -> list[Credential]:
    """Every token of the org, oldest first (the command line's listing)."""
    return _every(TOKENS, factory, org_id, caller)


def create_token(
    factory: sessionmaker[Session],
    org_id: int,
    caller: Caller,
    name: str,
    expires_at: datetime | None = None,
) -> Issued:
    """A new SCIM token of the org."""
    return _create(TOKENS, factory, org_id, caller, name, expires_at)


def rotate_token(
    factory: sessionmaker[Session],
    org_id: int,
    caller: Caller,
    token_id: int,
    expires_at: datetime | None = None,
) -> Issued:
    """A new token in place of ``token_id``, same name; the old one keeps working until it
    is revoked, so the IdP can be switched over without a gap."""
    return _rotate(TOKENS, factory, org_id, caller, token_id, expires_at)


def revoke_token(
    factory: sessionmaker[Session], org_id: int, caller: Caller, token_id: int
) -> Credential:
    """Revoke a token at once; revoking twice keeps the first date and writes no entry."""
    return _revoke(TOKENS, factory, org_id, caller, token_id)


# --- admin API keys ------------------------------------------------------------------------


def list_keys(
    factory: sessionmaker[Session], org_id: int, caller: Caller, *, limit: int, cursor: str | None
) -> Page[Credential]:
    """The org's API keys, newest first, revoked ones included (readable by every key)."""
    return _list(KEYS, factory, org_id, caller, limit, cursor)


def every_key(factory: sessionmaker[Session], org_id: int, caller: Caller) -> list[Credential]:
    """Every key of the org, oldest first (the command line's listing)."""
    return _every(KEYS, factory, org_id, caller)


def create_key(
    factory: sessionmaker[Session],
    org_id: int,
    caller: Caller,
    role: str,
    name: str,
    expires_at: datetime | None = None,
    workspaces: Mapping[str, str] | None = None,
) -> Issued:
    """A new admin API key carrying ``role`` (the caller's own or one it manages) and, in
    each of ``workspaces`` (workspace -> workspace role), a workspace role."""
    return _create(KEYS, factory, org_id, caller, name, expires_at, role, workspaces)


def rotate_key(
    factory: sessionmaker[Session],
    org_id: int,
    caller: Caller,
    key_id: int,
    expires_at: datetime | None = None,
) -> Issued:
    """A new key with the old one's role, workspace roles and name; the old keeps working
    until revoked."""
    return _rotate(KEYS, factory, org_id, caller, key_id, expires_at)


def revoke_key(
    factory: sessionmaker[Session], org_id: int, caller: Caller, key_id: int
) -> Credential:
    """Revoke a key at once (its admin page sessions end with it)."""
    return _revoke(KEYS, factory, org_id, caller, key_id)
