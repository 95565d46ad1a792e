"""An org's OpenID Connect sign-in to the admin pages: its settings, changed by holders of
the org's top role (or the host's operator), and the sign-in flow's two ends
(docs/architecture.md section 3.5).

Each settings change is one transaction under the org lock with one audit entry naming
who did it (``set_oidc``, ``clear_oidc``); the client secret is sealed at rest, never
returned, and never in an audit entry (only whether it changed). Each sign-in through the
provider, and each failed one whose org is known, is an audit entry (``sign_in``,
``sign_in_failed`` with the reason).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from mappings.authority import Caller, refusal_for_admin_action, refusal_for_sign_in_settings
from mappings.errors import InputError
from sync.credentials import oidc
from sync.credentials.oidc import OidcFacts, OidcRefused, check_issuer
from sync.credentials.secrets import seal_secret
from sync.credentials.signins import start_sign_in
from sync.db import write_session
from sync.errors import Forbidden
from sync.models import OidcSettings
from sync.reconcile import lock_org
from sync.sources.base import ConfigurationSourceError
from sync.store.audit import record_audit
from sync.store.orgs import get_org, role_model_for

__all__ = [
    "SIGN_IN",
    "SIGN_IN_FAILED",
    "OidcSignIn",
    "clear_oidc",
    "complete_sign_in",
    "set_oidc",
    "show_oidc",
    "start_sign_in_url",
]

SIGN_IN, SIGN_IN_FAILED = "sign_in", "sign_in_failed"  # the audit log's operations
MAX_FIELD = 500


@dataclass(frozen=True, slots=True)
class OidcSignIn:
    """A finished sign-in: the new admin session's id, where to go, and who signed in."""

    session_id: str
    target: str
    org_id: int
    email: str
    role: str


def _authority(session: Session, org_id: int, caller: Caller, change: bool) -> None:
    if caller.role is None:
        return
    model = role_model_for(get_org(session, org_id).role_model)
    refusal = (
        refusal_for_sign_in_settings(model, caller.role)
        if change
        else refusal_for_admin_action(model, caller)
    )
    if refusal is not None:
        raise Forbidden(refusal)


def _field(value: str, name: str) -> str:
    value = value.strip()
    if not value:
        raise InputError("is required", name)
    if len(value) > MAX_FIELD or any(c in value for c in "\x00\r\n"):
        raise InputError(f"must be one line of at most {MAX_FIELD} characters", name)
    return value


def show_oidc(factory: sessionmaker[Session], org_id: int, caller: Caller) -> OidcFacts | None:
    """The org's sign-in provider (the secret only as "set"), or None; for the org's admins."""
    with factory.begin() as session:
        _authority(session, org_id, caller, change=False)
        return oidc.settings_of(session, org_id)


def set_oidc(
    factory: sessionmaker[Session],
    org_id: int,
    caller: Caller,
    *,
    issuer: str,
    client_id: str,
    client_secret: str | None,
    enabled: bool,
    secret_key: str,
) -> OidcFacts:
    """Set the org's provider; a missing ``client_secret`` keeps the stored one."""
    issuer = _field(issuer, "issuer")
    why = check_issuer(issuer)
    if why is not None:
        raise InputError(why, "issuer")
    client_id = _field(client_id, "client_id")
    secret = None if client_secret is None or client_secret == "" else client_secret
    if secret is not None and (len(secret) > 4000 or "\x00" in secret):
        raise InputError("must be at most 4000 characters", "client_secret")
    with write_session(factory) as session:
        lock_org(session, org_id)
        _authority(session, org_id, caller, change=True)
        row = session.get(OidcSettings, org_id)
        if secret is None and row is None:
            raise InputError("is required the first time", "client_secret")
        sealed = None
        if secret is not None:
            try:
                sealed = seal_secret(secret, secret_key)
            except ConfigurationSourceError as exc:
                raise InputError(str(exc), "client_secret") from None
        if row is None:
            row = OidcSettings(org_id=org_id, client_secret="")
            session.add(row)
        row.issuer, row.client_id, row.enabled = issuer, client_id, enabled
        row.updated_by = caller.actor
        if sealed is not None:
            row.client_secret = sealed
        session.flush()
        detail: dict[str, object] = {
            "issuer": issuer,
            "client_id": client_id,
            "enabled": enabled,
            "secret_changed": sealed is not None,
        }
        record_audit(session, org_id, caller.actor, "set_oidc", "", detail)
        facts = oidc.settings_of(session, org_id)
        assert facts is not None
        return facts


def clear_oidc(factory: sessionmaker[Session], org_id: int, caller: Caller) -> bool:
    """Remove the org's provider (its members' provider sessions end); False if it had none."""
    with write_session(factory) as session:
        lock_org(session, org_id)
        _authority(session, org_id, caller, change=True)
        row = session.get(OidcSettings, org_id)
        if row is None:
            return False
        session.delete(row)
        record_audit(session, org_id, caller.actor, "clear_oidc", "", {"issuer": row.issuer})
        return True


def start_sign_in_url(
    factory: sessionmaker[Session], org_name: str, redirect_uri: str, target: str = ""
) -> tuple[str, str]:
    """The provider's authorization URL for a new sign-in to ``org_name``'s admin pages,
    and its state."""
    with factory.begin() as session:
        client = oidc.client_for(session, org_name)
        if client is None:
            raise OidcRefused(
                "not_enabled", f"{org_name!r} has no identity provider sign-in enabled"
            )
        return oidc.begin(session, client, redirect_uri, target)


def _failed(factory: sessionmaker[Session], org_id: int, refused: OidcRefused) -> None:
    with factory.begin() as session:
        detail: dict[str, object] = {"via": "oidc", "reason": refused.reason, "why": str(refused)}
        record_audit(session, org_id, "oidc", SIGN_IN_FAILED, "", detail)


def complete_sign_in(
    factory: sessionmaker[Session],
    *,
    state: str,
    code: str,
    error: str,
    redirect_uri: str,
    secret_key: str,
    lifetime: timedelta,
) -> OidcSignIn:
    """The callback: the state taken (once), the code exchanged, the ID token verified, the
    member found and signed in; ``OidcRefused`` (and, when the org is known, a
    ``sign_in_failed`` audit entry) at any step, with nothing signed in."""
    with factory.begin() as session:  # committed now, so a state is spent even on failure
        pending = oidc.take_pending(session, state)
        client = None
        if pending is not None:
            client = oidc.client_for(session, get_org(session, pending.org_id).name)
    if pending is None:
        raise OidcRefused(
            "unknown_state", "this sign-in link is unknown, expired or already used; start again"
        )
    try:
        if client is None:
            raise OidcRefused("not_enabled", "identity provider sign-in is turned off")
        if error:
            raise OidcRefused("provider_denied", f"the identity provider said: {error[:200]}")
        claims = oidc.finish(client, pending, code, redirect_uri, secret_key)
        with write_session(factory) as session:
            member = oidc.member_for(session, client.org_id, claims)
            session_id = start_sign_in(session, None, lifetime, member_id=member.id)
            detail: dict[str, object] = {"via": "oidc", "role": member.role}
            record_audit(session, client.org_id, f"oidc:{member.email}", SIGN_IN, "", detail)
    except OidcRefused as refused:
        _failed(factory, pending.org_id, refused)
        raise
    return OidcSignIn(session_id, pending.target, client.org_id, member.email, member.role)
