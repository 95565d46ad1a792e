"""SCIM tokens and admin API keys, made, listed, rotated and revoked by the org's own
admins (``/api/v1`` and the admin pages) as by the host's operator.

Each change is one transaction under the org lock with one audit entry naming who did
it; a token or key is returned in clear only by the call that makes it. Revocation and
expiry are written to the database, which every process asks on every request, so they
take effect at once everywhere.

- SCIM tokens: for holders of the org's top role (``refusal_for_scim_tokens``);
- API keys: a key may carry the caller's own role or one it manages, and is revoked by
  the same rule (``refusal_for_key_role``).
"""

from __future__ import annotations

import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from mappings.authority import Caller, refusal_for_key_role, refusal_for_scim_tokens
from mappings.errors import InputError
from sync.credentials.apikeys import KEY_PREFIX, hash_key
from sync.credentials.tokens import TOKEN_PREFIX, hash_token, scim_source
from sync.db import write_session
from sync.errors import Forbidden, NotFound
from sync.models import ApiKey, ScimToken, utcnow
from sync.paging import Page, keyset_page
from sync.reconcile import lock_org
from sync.store.audit import record_audit
from sync.store.orgs import get_org, role_model_for

__all__ = [
    "Credential",
    "Issued",
    "create_key",
    "create_token",
    "list_keys",
    "list_tokens",
    "revoke_key",
    "revoke_token",
    "rotate_key",
    "rotate_token",
]

MAX_NAME = 200


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


@dataclass(frozen=True, slots=True)
class Issued:
    """A token or key just made: its facts and the secret, shown this once."""

    credential: Credential
    secret: str


def _facts(row: ScimToken | ApiKey) -> Credential:
    return Credential(
        id=row.id,
        name=row.name,
        role=row.role if isinstance(row, ApiKey) else None,
        created_at=row.created_at,
        created_by=row.created_by,
        expires_at=row.expires_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )


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


def _token_authority(session: Session, org_id: int, caller: Caller) -> None:
    if caller.role is None:
        return
    model = role_model_for(get_org(session, org_id).role_model)
    refusal = refusal_for_scim_tokens(model, caller.role)
    if refusal is not None:
        raise Forbidden(refusal)


def _key_authority(session: Session, org_id: int, caller: Caller, role: str) -> None:
    model = role_model_for(get_org(session, org_id).role_model)
    if role not in model.org_roles and role not in model.manages:
        roles = ", ".join(dict.fromkeys((*model.org_roles, *model.manages)))
        raise InputError(f"unknown role {role!r}; expected one of {roles}", "role")
    if caller.role is None:
        return
    refusal = refusal_for_key_role(model, caller.role, role)
    if refusal is not None:
        raise Forbidden(refusal, "role")


# --- SCIM tokens -------------------------------------------------------------------------


def list_tokens(
    factory: sessionmaker[Session], org_id: int, caller: Caller, *, limit: int, cursor: str | None
) -> Page[Credential]:
    """The org's tokens, newest first, revoked ones included."""
    with factory.begin() as session:
        _token_authority(session, org_id, caller)
        query = select(ScimToken).where(ScimToken.org_id == org_id)
        page = keyset_page(session, query, "tokens", (ScimToken.id,), limit=limit, cursor=cursor)
        return Page([_facts(r) for r in page.items], page.next_cursor)


def _new_token(
    session: Session, org_id: int, caller: Caller, name: str, expires_at: datetime | None
) -> Issued:
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ScimToken(
        org_id=org_id,
        token_hash=hash_token(token),
        name=name,
        created_by=caller.actor,
        expires_at=expires_at,
    )
    session.add(row)
    scim_source(session, org_id)
    session.flush()
    return Issued(_facts(row), token)


def create_token(
    factory: sessionmaker[Session],
    org_id: int,
    caller: Caller,
    name: str,
    expires_at: datetime | None = None,
) -> Issued:
    """A new SCIM token of the org."""
    name = _check_name(name)
    _check_expiry(expires_at)
    with write_session(factory) as session:
        lock_org(session, org_id)
        _token_authority(session, org_id, caller)
        issued = _new_token(session, org_id, caller, name, expires_at)
        detail = {"token": issued.credential.id, "name": name, "expires_at": _iso(expires_at)}
        record_audit(session, org_id, caller.actor, "create_scim_token", "", detail)
        return issued


def _token(session: Session, org_id: int, token_id: int) -> ScimToken:
    row = session.get(ScimToken, token_id)
    if row is None or row.org_id != org_id:
        raise NotFound(f"no SCIM token {token_id}")
    return row


def rotate_token(
    factory: sessionmaker[Session],
    org_id: int,
    caller: Caller,
    token_id: int,
    expires_at: datetime | None = None,
) -> Issued:
    """A new token in place of ``token_id``, same name; the old one keeps working until it
    is revoked, so the IdP can be switched over without a gap."""
    _check_expiry(expires_at)
    with write_session(factory) as session:
        lock_org(session, org_id)
        _token_authority(session, org_id, caller)
        old = _token(session, org_id, token_id)
        if old.revoked_at is not None:
            raise InputError(f"SCIM token {token_id} is revoked; make a new one", "id")
        issued = _new_token(session, org_id, caller, old.name, expires_at)
        detail = {"token": issued.credential.id, "replaces": token_id, "name": old.name}
        record_audit(session, org_id, caller.actor, "rotate_scim_token", "", detail)
        return issued


def revoke_token(
    factory: sessionmaker[Session], org_id: int, caller: Caller, token_id: int
) -> Credential:
    """Revoke a token at once; revoking twice keeps the first date and writes no entry."""
    with write_session(factory) as session:
        lock_org(session, org_id)
        _token_authority(session, org_id, caller)
        row = _token(session, org_id, token_id)
        if row.revoked_at is None:
            row.revoked_at = utcnow()
            detail = {"token": token_id, "name": row.name}
            record_audit(session, org_id, caller.actor, "revoke_scim_token", "", detail)
        session.flush()
        return _facts(row)


# --- admin API keys ----------------------------------------------------------------------


def list_keys(
    factory: sessionmaker[Session], org_id: int, caller: Caller, *, limit: int, cursor: str | None
) -> Page[Credential]:
    """The org's API keys, newest first, revoked ones included (readable by every key)."""
    with factory.begin() as session:
        get_org(session, org_id)
        query = select(ApiKey).where(ApiKey.org_id == org_id)
        page = keyset_page(session, query, "keys", (ApiKey.id,), limit=limit, cursor=cursor)
        return Page([_facts(r) for r in page.items], page.next_cursor)


def _new_key(
    session: Session,
    org_id: int,
    caller: Caller,
    role: str,
    name: str,
    expires_at: datetime | None,
) -> Issued:
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(
        org_id=org_id,
        key_hash=hash_key(key),
        role=role,
        name=name,
        created_by=caller.actor,
        expires_at=expires_at,
    )
    session.add(row)
    session.flush()
    return Issued(_facts(row), key)


def create_key(
    factory: sessionmaker[Session],
    org_id: int,
    caller: Caller,
    role: str,
    name: str,
    expires_at: datetime | None = None,
) -> Issued:
    """A new admin API key carrying ``role`` (the caller's own or one it manages)."""
    name = _check_name(name)
    _check_expiry(expires_at)
    with write_session(factory) as session:
        lock_org(session, org_id)
        _key_authority(session, org_id, caller, role)
        issued = _new_key(session, org_id, caller, role, name, expires_at)
        detail = {
            "key": issued.credential.id,
            "name": name,
            "role": role,
            "expires_at": _iso(expires_at),
        }
        record_audit(session, org_id, caller.actor, "create_api_key", "", detail)
        return issued


def _key(session: Session, org_id: int, key_id: int) -> ApiKey:
    row = session.get(ApiKey, key_id)
    if row is None or row.org_id != org_id:
        raise NotFound(f"no API key {key_id}")
    return row


def rotate_key(
    factory: sessionmaker[Session],
    org_id: int,
    caller: Caller,
    key_id: int,
    expires_at: datetime | None = None,
) -> Issued:
    """A new key with the old one's role and name; the old keeps working until revoked."""
    _check_expiry(expires_at)
    with write_session(factory) as session:
        lock_org(session, org_id)
        old = _key(session, org_id, key_id)
        _key_authority(session, org_id, caller, old.role)
        if old.revoked_at is not None:
            raise InputError(f"API key {key_id} is revoked; make a new one", "id")
        issued = _new_key(session, org_id, caller, old.role, old.name, expires_at)
        detail = {"key": issued.credential.id, "replaces": key_id, "role": old.role}
        record_audit(session, org_id, caller.actor, "rotate_api_key", "", detail)
        return issued


def revoke_key(
    factory: sessionmaker[Session], org_id: int, caller: Caller, key_id: int
) -> Credential:
    """Revoke a key at once (its admin page sessions end with it)."""
    with write_session(factory) as session:
        lock_org(session, org_id)
        row = _key(session, org_id, key_id)
        _key_authority(session, org_id, caller, row.role)
        if row.revoked_at is None:
            row.revoked_at = utcnow()
            detail = {"key": key_id, "name": row.name, "role": row.role}
            record_audit(session, org_id, caller.actor, "revoke_api_key", "", detail)
        session.flush()
        return _facts(row)


def _iso(when: datetime | None) -> str | None:
    return None if when is None else when.isoformat()
