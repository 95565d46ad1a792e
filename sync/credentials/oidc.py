"""Admin page sign-in through an org's own OpenID Connect provider (docs/architecture.md
section 3.5): the org's settings, the authorization-code flow with PKCE, the ID token's
checks and the member it names.

- Settings (``oidc_settings``): issuer, client id, the client secret sealed at rest
  (``sync.credentials.secrets``; never read back except to call the token endpoint), and
  whether sign-in is enabled.
- ``begin``: a random ``state`` and ``nonce`` and a PKCE (S256) verifier, kept server-side
  (``oidc_pending``, only the state's SHA-256) for a few minutes, and the provider's
  authorization URL (authlib's ``OAuth2Session``).
- ``take_pending``: the callback's state, found and deleted in one go, so it is used once.
- ``finish``: the code exchanged at the token endpoint with the client secret and the
  verifier; the ID token verified with joserfc against the provider's JWKS (its signature,
  ``iss``, ``aud`` = client id, ``exp``, ``nonce``).
- ``member_for``: the org's joined member whose key (``identity_key``) is the token's
  ``email`` (or, without a verified email, ``preferred_username``).

Discovery documents and key sets are fetched with short timeouts and kept a few minutes.
Every failure is an ``OidcRefused`` with a reason for the audit log and words for a page.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import requests
from authlib.integrations.requests_client import OAuth2Session
from joserfc import jwt
from joserfc.errors import (
    BadSignatureError,
    ExpiredTokenError,
    InvalidClaimError,
    JoseError,
    MissingClaimError,
)
from joserfc.jwk import KeySet
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from mappings.directory import identity_key
from sync.credentials.secrets import resolve_secret
from sync.models import Member, OidcPending, OidcSettings, Organisation, utcnow
from sync.sources.base import ConfigurationSourceError

__all__ = [
    "CALLBACK_PATH",
    "OidcClient",
    "OidcFacts",
    "OidcRefused",
    "Pending",
    "SignedInMember",
    "begin",
    "check_issuer",
    "client_for",
    "finish",
    "member_for",
    "member_principal_row",
    "settings_of",
    "take_pending",
]

CALLBACK_PATH = "/admin/signin/oidc/callback"  # the redirect URI an admin registers
SCOPE = "openid email profile"
HTTP_TIMEOUT = 5.0  # seconds for discovery, keys and the token endpoint
CACHE_SECONDS = 300.0  # discovery documents and key sets kept this long
PENDING_LIFETIME = timedelta(minutes=10)  # a sign-in started must come back within this
LEEWAY = 60  # seconds of clock difference allowed on exp/iat
MAX_STATE = 100
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")


class OidcRefused(Exception):
    """A sign-in step failed: ``reason`` for the audit log, the message for the page."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class OidcFacts:
    """What may be shown about an org's provider: never the client secret, only that it is set."""

    issuer: str
    client_id: str
    secret_set: bool
    enabled: bool
    updated_at: datetime
    updated_by: str


@dataclass(frozen=True, slots=True)
class OidcClient:
    """An enabled provider of one org, as the sign-in flow needs it (the secret still sealed)."""

    org_id: int
    org_name: str
    issuer: str
    client_id: str
    sealed_secret: str


@dataclass(frozen=True, slots=True)
class Pending:
    """A sign-in under way, taken back (once) by its state."""

    org_id: int
    nonce: str
    code_verifier: str
    target: str


@dataclass(frozen=True, slots=True)
class SignedInMember:
    """The member an ID token named."""

    id: int
    email: str
    role: str


def check_issuer(issuer: str) -> str | None:
    """Why ``issuer`` cannot be an issuer URL (https, or http on the loopback), else None."""
    parts = urlsplit(issuer)
    loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return "must be an https URL, such as https://acme.okta.com"
    if parts.scheme == "http" and not loopback:
        return "must be an https URL (plain http only on the loopback)"
    if parts.query or parts.fragment:
        return "must have no query or fragment"
    return None


def settings_of(session: Session, org_id: int) -> OidcFacts | None:
    """The org's provider settings, or None when it has none."""
    row = session.get(OidcSettings, org_id)
    if row is None:
        return None
    return OidcFacts(
        issuer=row.issuer,
        client_id=row.client_id,
        secret_set=bool(row.client_secret),
        enabled=row.enabled,
        updated_at=row.updated_at,
        updated_by=row.updated_by,
    )


def client_for(session: Session, org_name: str) -> OidcClient | None:
    """The enabled provider of the org named ``org_name``; None if it has none enabled."""
    row = session.execute(
        select(OidcSettings, Organisation.name)
        .join(Organisation, Organisation.id == OidcSettings.org_id)
        .where(Organisation.name == org_name, OidcSettings.enabled.is_(True))
    ).first()
    if row is None:
        return None
    s = row[0]
    return OidcClient(s.org_id, row[1], s.issuer, s.client_id, s.client_secret)


# -- discovery and keys -------------------------------------------------------------

_cache: dict[str, tuple[float, Any]] = {}
_cache_lock = threading.Lock()


def _get_json(url: str, what: str) -> dict[str, Any]:
    try:
        response = requests.get(url, timeout=HTTP_TIMEOUT, allow_redirects=False)
    except requests.RequestException as exc:
        why = f"the identity provider's {what} could not be fetched ({type(exc).__name__})"
        raise OidcRefused("provider_unreachable", why) from None
    if response.status_code != 200:
        raise OidcRefused(
            "provider_error",
            f"the identity provider's {what} answered HTTP {response.status_code}",
        )
    try:
        data = response.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise OidcRefused("provider_error", f"the identity provider's {what} is not JSON")
    return data


def _cached(url: str, what: str, refresh: bool = False) -> dict[str, Any]:
    now = time.monotonic()
    with _cache_lock:
        hit = _cache.get(url)
    if hit is not None and not refresh and now - hit[0] < CACHE_SECONDS:
        found: dict[str, Any] = hit[1]
        return found
    data = _get_json(url, what)
    with _cache_lock:
        _cache[url] = (now, data)
    return data


def _discover(issuer: str) -> dict[str, Any]:
    """The provider's discovery document; its ``issuer`` must be the configured one."""
    url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    doc = _cached(url, "discovery document")
    if doc.get("issuer") != issuer:
        raise OidcRefused(
            "provider_error",
            f"the discovery document names issuer {doc.get('issuer')!r}, not {issuer!r}",
        )
    for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        if not isinstance(doc.get(name), str):
            raise OidcRefused("provider_error", f"the discovery document has no {name}")
    return doc


def _key_set(jwks_uri: str, refresh: bool) -> KeySet:
    data = _cached(jwks_uri, "key set (JWKS)", refresh)
    try:
        return KeySet.import_key_set(data)  # type: ignore[arg-type]
    except (JoseError, ValueError, KeyError, TypeError):
        raise OidcRefused("provider_error", "the identity provider's key set is invalid") from None


# -- the flow -----------------------------------------------------------------------


def _hash(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def _oauth(client: OidcClient, redirect_uri: str, secret: str | None = None) -> OAuth2Session:
    return OAuth2Session(
        client.client_id,
        secret,
        scope=SCOPE,
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
    )


def begin(
    session: Session, client: OidcClient, redirect_uri: str, target: str = ""
) -> tuple[str, str]:
    """Start a sign-in: keep a new state, nonce and verifier; the provider's authorization
    URL and the state (for the browser to hold too)."""
    doc = _discover(client.issuer)
    state = secrets.token_urlsafe(32)
    nonce = secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(64)
    now = utcnow()
    session.execute(delete(OidcPending).where(OidcPending.expires_at <= now))
    session.add(
        OidcPending(
            state_hash=_hash(state),
            org_id=client.org_id,
            nonce=nonce,
            code_verifier=verifier,
            target=target[:500],
            expires_at=now + PENDING_LIFETIME,
        )
    )
    url, _ = _oauth(client, redirect_uri).create_authorization_url(
        doc["authorization_endpoint"], state=state, nonce=nonce, code_verifier=verifier
    )
    return str(url), state


def take_pending(session: Session, state: str) -> Pending | None:
    """The sign-in ``state`` belongs to, deleted as it is read (a second use finds nothing);
    None for an unknown, used or expired state."""
    if not state or len(state) > MAX_STATE:
        return None
    digest = _hash(state)
    row = session.get(OidcPending, digest)
    if row is None:
        return None
    pending = Pending(row.org_id, row.nonce, row.code_verifier, row.target)
    expired = row.expires_at <= utcnow()
    gone = session.execute(delete(OidcPending).where(OidcPending.state_hash == digest))
    if getattr(gone, "rowcount", 0) != 1 or expired:  # another request took it first
        return None
    return pending


def finish(
    client: OidcClient, pending: Pending, code: str, redirect_uri: str, secret_key: str
) -> dict[str, Any]:
    """Exchange ``code`` and verify the ID token; its claims, or ``OidcRefused``."""
    if not code or len(code) > 2000:
        raise OidcRefused("no_code", "the identity provider sent no authorization code")
    doc = _discover(client.issuer)
    try:
        secret = resolve_secret(client.sealed_secret, secret_key)
    except ConfigurationSourceError as exc:
        raise OidcRefused("configuration", f"the client secret cannot be read: {exc}") from None
    oauth = _oauth(client, redirect_uri, secret)
    methods = doc.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
    if "client_secret_basic" not in methods and "client_secret_post" in methods:
        oauth.token_endpoint_auth_method = "client_secret_post"
    try:
        token = oauth.fetch_token(
            doc["token_endpoint"],
            grant_type="authorization_code",
            code=code,
            code_verifier=pending.code_verifier,
            timeout=HTTP_TIMEOUT,
            allow_redirects=False,
        )
    except Exception as exc:  # authlib's OAuthError, requests' errors, a non-JSON answer
        detail = getattr(exc, "description", None) or getattr(exc, "error", None)
        raise OidcRefused(
            "token_exchange",
            "the identity provider refused the sign-in code"
            + (f": {detail}" if detail else f" ({type(exc).__name__})"),
        ) from None
    id_token = token.get("id_token")
    if not isinstance(id_token, str) or not id_token:
        raise OidcRefused("no_id_token", "the identity provider sent no ID token")
    return _verify(doc, client, pending, id_token)


def _verify(
    doc: Mapping[str, Any], client: OidcClient, pending: Pending, id_token: str
) -> dict[str, Any]:
    algorithms = _algorithms(doc.get("id_token_signing_alg_values_supported"))
    try:
        try:
            decoded = jwt.decode(id_token, _key_set(doc["jwks_uri"], False), algorithms)
        except (BadSignatureError, ValueError, JoseError):
            # the provider may have rotated its keys since they were cached: fetch once more
            decoded = jwt.decode(id_token, _key_set(doc["jwks_uri"], True), algorithms)
    except (JoseError, ValueError):
        raise OidcRefused("bad_signature", "the ID token's signature does not verify") from None
    registry = jwt.JWTClaimsRegistry(
        leeway=LEEWAY,
        iss={"essential": True, "value": client.issuer},
        aud={"essential": True, "value": client.client_id},
        exp={"essential": True},
        sub={"essential": True},
        nonce={"essential": True, "value": pending.nonce},
    )
    claims = dict(decoded.claims)
    try:
        registry.validate(claims)
    except ExpiredTokenError:
        raise OidcRefused("expired", "the ID token has expired") from None
    except (InvalidClaimError, MissingClaimError) as exc:
        claim = getattr(exc, "claim", "") or str(exc)
        words = {
            "aud": "the ID token is not for this client (audience)",
            "iss": "the ID token is from another issuer",
            "nonce": "the ID token's nonce does not match this sign-in",
        }.get(claim, f"the ID token's {claim!r} claim is wrong or missing")
        reason = f"claim_{claim}" if claim in ("aud", "iss", "nonce") else "claims"
        raise OidcRefused(reason, words) from None
    except JoseError as exc:
        raise OidcRefused("claims", f"the ID token was refused: {exc}") from None
    return claims


def _algorithms(supported: object) -> list[str]:
    if isinstance(supported, Sequence) and not isinstance(supported, str):
        chosen = [a for a in supported if a in ALGORITHMS]
        if chosen:
            return chosen
    return ["RS256"]


def _login(claims: Mapping[str, Any]) -> str:
    email = claims.get("email")
    if isinstance(email, str) and email and claims.get("email_verified") is not False:
        return email
    name = claims.get("preferred_username")
    return name if isinstance(name, str) else ""


def member_for(session: Session, org_id: int, claims: Mapping[str, Any]) -> SignedInMember:
    """The org's joined member the claims name (by ``identity_key``); ``OidcRefused`` otherwise."""
    login = _login(claims)
    if not login:
        raise OidcRefused("no_email", "the identity provider sent no email for this person")
    key = identity_key(login)
    row = session.scalars(
        select(Member).where(Member.org_id == org_id, Member.email == key)
    ).first()
    if row is None:
        raise OidcRefused("not_member", f"{login} is not a member of this organisation")
    if row.status != "joined":
        raise OidcRefused(
            "not_joined", f"{login} is {row.status}, not a joined member of this organisation"
        )
    return SignedInMember(row.id, row.email, row.org_role)


def member_principal_row(session: Session, member_id: int) -> tuple[Member, str] | None:
    """A member who may still be signed in through the provider: joined, and the org's
    provider still enabled; with the org's name."""
    row = session.execute(
        select(Member, Organisation.name)
        .join(Organisation, Organisation.id == Member.org_id)
        .join(OidcSettings, OidcSettings.org_id == Member.org_id)
        .where(Member.id == member_id, Member.status == "joined", OidcSettings.enabled.is_(True))
    ).first()
    return None if row is None else (row[0], row[1])
