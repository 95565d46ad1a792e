"""Admin API keys: per-org bearer keys carrying a role of the org's role model.

A key is shown once, at creation; only its SHA-256 is stored. Verification looks the
hash up and compares it in constant time, so a key is never kept or logged in clear.

A key may also carry a workspace role in named workspaces (``api_key_workspaces``): a
workspace manager's key, which manages only there (``mappings.authority``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from mappings.errors import InputError
from sync.db import write_session
from sync.models import ApiKey, ApiKeyWorkspace, Organisation, Workspace, utcnow

__all__ = [
    "KEY_PREFIX",
    "ApiKeyInfo",
    "ApiPrincipal",
    "create_api_key",
    "hash_key",
    "key_workspaces",
    "list_api_keys",
    "principal_by_id",
    "revoke_api_key",
    "touch_api_key",
    "verify_api_key",
]

KEY_PREFIX = "rbk_"
LAST_USED_GRAIN = timedelta(minutes=1)  # "last used" is written at most this often


def _live(now: datetime) -> ColumnElement[bool]:
    """Not revoked and not expired."""
    return ApiKey.revoked_at.is_(None) & or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > now)


@dataclass(frozen=True, slots=True)
class ApiPrincipal:
    """Who is calling: the key's id, its org and the role it carries; or, on the admin
    pages, a member signed in through the org's OpenID provider (``member_id``, no key;
    ``name`` is their email, ``role`` their own org role, ``workspaces`` the managing
    workspace roles they hold, ``mappings.authority.member_workspace_scope``)."""

    key_id: int | None
    org_id: int
    org_name: str
    role: str
    name: str
    workspaces: Mapping[str, str] = field(default_factory=dict)  # workspace -> role
    member_id: int | None = None

    @property
    def actor(self) -> str:
        """How audit entries name this caller."""
        if self.member_id is not None:
            return f"oidc:{self.name}"
        return f"apikey:{self.key_id}:{self.name or self.role}"


@dataclass(frozen=True, slots=True)
class ApiKeyInfo:
    """A key's public facts (never the key itself)."""

    id: int
    org_id: int
    role: str
    name: str
    created_at: datetime
    revoked_at: datetime | None
    workspaces: Mapping[str, str] = field(default_factory=dict)  # workspace -> role


def hash_key(key: str) -> str:
    """The stored form of a key: its SHA-256 as hex."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def create_api_key(
    session: Session,
    org_id: int,
    role: str,
    org_roles: Sequence[str],
    name: str = "",
    workspaces: Mapping[str, str] | None = None,
) -> tuple[ApiKeyInfo, str]:
    """Create a key for ``org_id`` carrying ``role`` (and, in each of ``workspaces``, a
    workspace role: the caller checked it against the role model); returns its facts and
    the key, once."""
    if role not in org_roles:
        raise InputError(f"unknown role {role!r}; expected one of {', '.join(org_roles)}", "role")
    ids = _workspace_ids(session, org_id)
    for ws in workspaces or {}:
        if ws not in ids:
            raise InputError(f"no workspace {ws!r} in the org", "workspace")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(org_id=org_id, key_hash=hash_key(key), role=role, name=name)
    session.add(row)
    session.flush()
    session.add_all(
        ApiKeyWorkspace(key_id=row.id, workspace_id=ids[ws], role=ws_role)
        for ws, ws_role in sorted((workspaces or {}).items())
    )
    session.flush()
    return _info(session, row), key


def _workspace_ids(session: Session, org_id: int) -> dict[str, int]:
    rows = session.execute(select(Workspace.name, Workspace.id).where(Workspace.org_id == org_id))
    return {name: ws_id for name, ws_id in rows}


def key_workspaces(session: Session, key_id: int) -> dict[str, str]:
    """The workspace roles a key carries: workspace name -> role."""
    rows = session.execute(
        select(Workspace.name, ApiKeyWorkspace.role)
        .join(Workspace, Workspace.id == ApiKeyWorkspace.workspace_id)
        .where(ApiKeyWorkspace.key_id == key_id)
        .order_by(Workspace.name)
    )
    return {name: role for name, role in rows}


def verify_api_key(session: Session, key: str, *, touch: bool = True) -> ApiPrincipal | None:
    """The principal of a live key, or None for an unknown or revoked one; ``touch=False``
    leaves "last used" to ``touch_api_key`` after the caller's read ends."""
    if not key.startswith(KEY_PREFIX) or len(key) > 200:
        return None
    digest = hash_key(key)
    row = session.execute(
        select(ApiKey, Organisation.name)
        .join(Organisation, Organisation.id == ApiKey.org_id)
        .where(ApiKey.key_hash == digest, _live(utcnow()))
    ).first()
    if row is None or not hmac.compare_digest(row[0].key_hash, digest):
        return None
    now = utcnow()
    last = row[0].last_used_at
    if touch and (last is None or now - last >= LAST_USED_GRAIN):
        row[0].last_used_at = now  # committed with the caller's session
    return _principal(session, row[0], row[1])


def touch_api_key(factory: sessionmaker[Session], key_id: int) -> None:
    """Record that a key was used, at most once a minute, in its own write transaction.

    Apart from the request's read: on SQLite a read that then writes fails at once when
    another request wrote since it began (sixteen clients of one key would get 503s)."""
    now = utcnow()
    stale = or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at <= now - LAST_USED_GRAIN)
    with factory.begin() as session:  # most requests find it fresh: no write at all
        if session.scalar(select(ApiKey.id).where(ApiKey.id == key_id, stale)) is None:
            return
    with write_session(factory) as session:
        session.execute(
            update(ApiKey)
            .where(ApiKey.id == key_id, stale)
            .values(last_used_at=now)
            .execution_options(synchronize_session=False)
        )


def principal_by_id(session: Session, key_id: int) -> ApiPrincipal | None:
    """The principal of a live key by id (the admin pages' session keeps only the id)."""
    row = session.execute(
        select(ApiKey, Organisation.name)
        .join(Organisation, Organisation.id == ApiKey.org_id)
        .where(ApiKey.id == key_id, _live(utcnow()))
    ).first()
    return None if row is None else _principal(session, row[0], row[1])


def revoke_api_key(session: Session, org_id: int, key_id: int) -> bool:
    """Revoke a key of ``org_id``; False when there is no such live key."""
    row = session.get(ApiKey, key_id)
    if row is None or row.org_id != org_id or row.revoked_at is not None:
        return False
    row.revoked_at = utcnow()
    return True


def list_api_keys(session: Session, org_id: int) -> list[ApiKeyInfo]:
    """Every key of ``org_id``, oldest first."""
    rows = session.scalars(select(ApiKey).where(ApiKey.org_id == org_id).order_by(ApiKey.id)).all()
    return [_info(session, r) for r in rows]


def _info(session: Session, row: ApiKey) -> ApiKeyInfo:
    return ApiKeyInfo(
        row.id,
        row.org_id,
        row.role,
        row.name,
        row.created_at,
        row.revoked_at,
        key_workspaces(session, row.id),
    )


def _principal(session: Session, row: ApiKey, org_name: str) -> ApiPrincipal:
    workspaces = key_workspaces(session, row.id)
    return ApiPrincipal(row.id, row.org_id, org_name, row.role, row.name, workspaces)
