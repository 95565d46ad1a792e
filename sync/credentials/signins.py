"""Admin page sign-ins, revocable on the server.

Signing in makes a random session id; the browser's (signed) cookie carries it and the
database keeps only its SHA-256, with an expiry. Every page request looks it up, so
signing out, revoking the API key that signed in, or the expiry ends the session at once
in every process, and a copied cookie is worth nothing after any of them.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from sync.credentials.apikeys import ApiPrincipal, hash_key, principal_by_id
from sync.models import AdminSession, utcnow

__all__ = ["end_sign_in", "signed_in", "start_sign_in"]

MAX_ID_CHARS = 100  # a session id is 43 characters; anything much longer is not one


def start_sign_in(session: Session, key_id: int, lifetime: timedelta) -> str:
    """A new session id for ``key_id``, valid for ``lifetime``; expired ones are swept."""
    now = utcnow()
    session.execute(delete(AdminSession).where(AdminSession.expires_at <= now))
    session_id = secrets.token_urlsafe(32)
    session.add(
        AdminSession(key_id=key_id, token_hash=hash_key(session_id), expires_at=now + lifetime)
    )
    return session_id


def signed_in(session: Session, session_id: str) -> ApiPrincipal | None:
    """The caller of a live, unexpired session whose key is still live; else None."""
    if not session_id or len(session_id) > MAX_ID_CHARS:
        return None
    digest = hash_key(session_id)
    row = session.scalars(
        select(AdminSession).where(
            AdminSession.token_hash == digest, AdminSession.expires_at > utcnow()
        )
    ).first()
    if row is None or not hmac.compare_digest(row.token_hash, digest):
        return None
    return principal_by_id(session, row.key_id)


def end_sign_in(session: Session, session_id: str) -> None:
    """End a session (signing out); an unknown id is already ended."""
    if session_id and len(session_id) <= MAX_ID_CHARS:
        session.execute(delete(AdminSession).where(AdminSession.token_hash == hash_key(session_id)))
