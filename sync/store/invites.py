"""Invite tokens: minted when the invite email is sent, stored only as a SHA-256, and
accepted once (``invited`` -> ``joined``, a ``member.joined`` event) before the role
model's expiry."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from sync.errors import NotFound, StoreError
from sync.models import Member, Organisation, utcnow
from sync.store.events import EventDraft, emit
from sync.store.orgs import role_model_for

__all__ = [
    "InviteExpired",
    "accept_invite",
    "accept_url",
    "find_invite",
    "hash_token",
    "mint_token",
]


class InviteExpired(StoreError):
    """The invite is older than the role model's ``expire_after_days``."""


def hash_token(token: str) -> str:
    """The stored form of a token: hex SHA-256 (tokens are 256-bit random, so no salt)."""
    return hashlib.sha256(token.encode()).hexdigest()


def mint_token() -> tuple[str, str]:
    """A fresh invite token and its hash; the token itself is never stored. It never
    starts with ``-``, so ``rolebridge invite accept TOKEN`` never reads it as an option."""
    token = secrets.token_urlsafe(32)
    while token.startswith("-"):
        token = secrets.token_urlsafe(32)
    return token, hash_token(token)


def accept_url(base_url: str, token: str) -> str:
    """Where the invited person goes to accept."""
    return f"{base_url.rstrip('/')}/invite/{token}"


def find_invite(session: Session, token: str) -> tuple[str, str] | None:
    """(email, org name) of the pending invite behind ``token``, if there is one."""
    digest = hash_token(token.strip())
    row = session.execute(
        select(Member.email, Member.invite_token_hash, Organisation.name)
        .join(Organisation, Organisation.id == Member.org_id)
        .where(Member.invite_token_hash == digest, Member.status == "invited")
    ).first()
    if row is None or not hmac.compare_digest(row.invite_token_hash or "", digest):
        return None
    return row.email, row.name


def accept_invite(session: Session, token: str, *, now: datetime | None = None) -> Member:
    """Turn the invite behind ``token`` into a joined member; the token then stops working."""
    digest = hash_token(token.strip())
    member = session.scalar(select(Member).where(Member.invite_token_hash == digest))
    if (
        member is None
        or member.invite_token_hash is None
        or not hmac.compare_digest(member.invite_token_hash, digest)
        or member.status != "invited"
    ):
        raise NotFound("this invite is not valid (already used, revoked or never sent)")
    now = now or utcnow()
    org = session.get(Organisation, member.org_id)
    assert org is not None
    days = role_model_for(org.role_model).invites.expire_after_days
    invited_at = member.invited_at
    if invited_at is not None and invited_at.tzinfo is None:  # SQLite drops the zone
        invited_at = invited_at.replace(tzinfo=now.tzinfo)
    if days is not None and invited_at is not None and now - invited_at > timedelta(days=days):
        raise InviteExpired(f"this invite expired {days} days after it was sent; ask for a new one")
    member.status = "joined"
    member.joined_at = now
    member.invite_token_hash = None
    session.flush()
    joined = EventDraft(
        "member.joined",
        email=member.email,
        idp_id=member.idp_id,
        before={"status": "invited", "org_role": member.org_role},
        after={"status": "joined", "org_role": member.org_role},
    )
    emit(session, member.org_id, [joined], now=now)
    return member
