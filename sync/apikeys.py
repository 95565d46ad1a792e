"""Admin API keys: per-org bearer keys carrying a role of the org's role model.

A key is shown once, at creation; only its SHA-256 is stored. Verification looks the
hash up and compares it in constant time, so a key is never kept or logged in clear.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from mappings.errors import InputError
from sync.models import ApiKey, Organisation, utcnow

__all__ = [
    "KEY_PREFIX",
    "ApiKeyInfo",
    "ApiPrincipal",
    "create_api_key",
    "hash_key",
    "list_api_keys",
    "principal_by_id",
    "revoke_api_key",
    "verify_api_key",
]

KEY_PREFIX = "rbk_"
LAST_USED_GRAIN = timedelta(minutes=1)  # "last used" is written at most this often


def _live(now: datetime) -> ColumnElement[bool]:
    """Not revoked and not expired."""
    return ApiKey.revoked_at.is_(None) & or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > now)


@dataclass(frozen=True, slots=True)
class ApiPrincipal:
    """Who is calling: the key's id, its org and the role it carries."""

    key_id: int
    org_id: int
    org_name: str
    role: str
    name: str

    @property
    def actor(self) -> str:
        """How audit entries name this caller."""
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


def hash_key(key: str) -> str:
    """The stored form of a key: its SHA-256 as hex."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def create_api_key(
    session: Session, org_id: int, role: str, org_roles: Sequence[str], name: str = ""
) -> tuple[ApiKeyInfo, str]:
    """Create a key for ``org_id`` carrying ``role``; returns its facts and the key, once."""
    if role not in org_roles:
        raise InputError(f"unknown role {role!r}; expected one of {', '.join(org_roles)}", "role")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(org_id=org_id, key_hash=hash_key(key), role=role, name=name)
    session.add(row)
    session.flush()
    return _info(row), key


def verify_api_key(session: Session, key: str) -> ApiPrincipal | None:
    """The principal of a live key, or None for an unknown or revoked one."""
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
    if last is None or now - last >= LAST_USED_GRAIN:
        row[0].last_used_at = now  # committed with the caller's session
    return _principal(row[0], row[1])


def principal_by_id(session: Session, key_id: int) -> ApiPrincipal | None:
    """The principal of a live key by id (the admin pages' session keeps only the id)."""
    row = session.execute(
        select(ApiKey, Organisation.name)
        .join(Organisation, Organisation.id == ApiKey.org_id)
        .where(ApiKey.id == key_id, _live(utcnow()))
    ).first()
    return None if row is None else _principal(row[0], row[1])


def revoke_api_key(session: Session, org_id: int, key_id: int) -> bool:
    """Revoke a key of ``org_id``; False when there is no such live key."""
    row = session.get(ApiKey, key_id)
    if row is None or row.org_id != org_id or row.revoked_at is not None:
        return False
    row.revoked_at = utcnow()
    return True


def list_api_keys(session: Session, org_id: int) -> list[ApiKeyInfo]:
    """Every key of ``org_id``, oldest first."""
    rows = session.scalars(select(ApiKey).where(ApiKey.org_id == org_id).order_by(ApiKey.id))
    return [_info(r) for r in rows]


def _info(row: ApiKey) -> ApiKeyInfo:
    return ApiKeyInfo(row.id, row.org_id, row.role, row.name, row.created_at, row.revoked_at)


def _principal(row: ApiKey, org_name: str) -> ApiPrincipal:
    return ApiPrincipal(row.id, row.org_id, org_name, row.role, row.name)
