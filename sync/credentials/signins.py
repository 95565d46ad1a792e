"""Admin page sign-ins, revocable on the server.

Signing in makes a random session id; the browser's (signed) cookie carries it and the
database keeps only its SHA-256, with an expiry. Every page request looks it up, so
signing out, revoking the API key that signed in, or the expiry ends the session at once
in every process, and a copied cookie is worth nothing after any of them. A session of a
member signed in through the org's OpenID provider (``sync.credentials.oidc``) carries the
member's org role and managing workspace roles as they are at each request (as a
workspace-scoped key carries its own, ``mappings.authority.member_workspace_scope``), and
ends when they stop being a joined member or the org turns the provider off.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from mappings.authority import member_workspace_scope
from sync.credentials.apikeys import ApiPrincipal, hash_key, principal_by_id
from sync.credentials.oidc import member_principal_row
from sync.models import AdminSession, Workspace, WorkspaceRole, utcnow
from sync.store.orgs import role_model_of

__all__ = ["end_sign_in", "signed_in", "start_sign_in"]

MAX_ID_CHARS = 100  # a session id is 43 characters; anything much longer is not one


def start_sign_in(
    session: Session, key_id: int | None, lifetime: timedelta, member_id: int | None = None
) -> str:
    """A new session id for ``key_id`` (or for a member signed in through the org's OpenID
    provider), valid for ``lifetime``; expired ones are swept."""
    now = utcnow()
    session.execute(delete(AdminSession).where(AdminSession.expires_at <= now))
    session_id = secrets.token_urlsafe(32)
    session.add(
        AdminSession(
            key_id=key_id,
            member_id=member_id,
            token_hash=hash_key(session_id),
            expires_at=now + lifetime,
        )
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
    if row.member_id is not None:
        return _member_principal(session, row.member_id)
    return None if row.key_id is None else principal_by_id(session, row.key_id)


def _member_principal(session: Session, member_id: int) -> ApiPrincipal | None:
    """A member signed in through the provider, with the org role and the workspace roles
    they hold now; None once they left, were suspended, or the org's provider was turned
    off."""
    found = member_principal_row(session, member_id)
    if found is None:
        return None
    member, org_name = found
    held: dict[str, list[str]] = {}
    rows = session.execute(
        select(Workspace.name, WorkspaceRole.role)
        .join(Workspace, Workspace.id == WorkspaceRole.workspace_id)
        .where(WorkspaceRole.member_id == member.id)
    )
    for ws, role in rows:
        held.setdefault(ws, []).append(role)
    scope = member_workspace_scope(role_model_of(session, member.org_id), held)
    return ApiPrincipal(
        None, member.org_id, org_name, member.org_role, member.email, scope, member.id
    )


def end_sign_in(session: Session, session_id: str) -> None:
    """End a session (signing out); an unknown id is already ended."""
    if session_id and len(session_id) <= MAX_ID_CHARS:
        session.execute(delete(AdminSession).where(AdminSession.token_hash == hash_key(session_id)))
