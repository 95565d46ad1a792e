"""A loopback fake OpenID Connect provider, close to what Okta and Entra ID do for an
authorization-code sign-in with PKCE.

- ``/.well-known/openid-configuration``: the discovery document (issuer = the server's URL).
- ``/keys``: the JWKS, one RSA key generated when the fake starts.
- ``/authorize``: checks the client id and redirect URI, then sends the browser straight
  back to the redirect URI with a code and the state (the person signed in is the one the
  test chose with ``sign_in_as``); ``error`` answers an error instead.
- ``/token``: the authorization-code grant, with the client secret (HTTP Basic or in the
  form), a single-use code bound to its redirect URI, and PKCE: the verifier must hash
  (S256) to the code's challenge, a code made with a challenge needs a verifier, and a code
  made without one refuses a verifier.

Switches mint a bad ID token: ``audience`` (another client's), ``expired``, ``wrong_nonce``,
``wrong_key`` (signed with a key not in the JWKS, under the same key id); ``rotate_key``
changes the signing key and its id, as a provider's key rotation does.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import Flask, Response, jsonify, redirect, request
from joserfc import jwt
from joserfc.jwk import RSAKey

from tests.fakes.server import LoopbackServer

KID = "fake-key-1"


@dataclass
class OidcState:
    """The provider's client, the person it signs in, and the switches tests flip."""

    client_id: str = "rolebridge-admin"
    client_secret: str = "oidc-client-secret"
    redirect_uris: set[str] = field(default_factory=set)  # empty: any
    subject: str = "00u1"
    email: str | None = "olga@acme.com"
    email_verified: bool = True
    preferred_username: str | None = None
    audience: str | None = None  # mint the ID token for this audience instead
    expired: bool = False
    wrong_nonce: bool = False
    wrong_key: bool = False
    error: str | None = None  # /authorize answers ?error=... instead of a code
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)
    token_requests: list[dict[str, str]] = field(default_factory=list)


class FakeOidc:
    """The fake provider on a free loopback port; ``issuer`` is its URL."""

    def __init__(self) -> None:
        self.state = OidcState()
        self.kid = KID
        self.key = RSAKey.generate_key(2048, parameters={"kid": KID, "use": "sig"})
        self.stranger_key = RSAKey.generate_key(2048, parameters={"kid": KID, "use": "sig"})
        self._lock = threading.Lock()
        self.app = self._app()
        self.server = LoopbackServer(self.app, quiet=True)
        self.issuer = self.server.url

    def close(self) -> None:
        """Stop serving."""
        self.server.close()

    def rotate_key(self) -> None:
        """Sign from now on with a new key under a new key id (the JWKS lists only it)."""
        self.kid = f"fake-key-{secrets.randbelow(10**6)}"
        self.key = RSAKey.generate_key(2048, parameters={"kid": self.kid, "use": "sig"})

    def visit(self, url: str) -> str:
        """A browser's visit to the provider's ``url`` (the authorization request): where
        it sends the browser next. In process, so no client library logs the URL's state."""
        parts = urlsplit(url)
        assert f"{parts.scheme}://{parts.netloc}" == self.issuer, url
        answer = self.app.test_client().get(f"{parts.path}?{parts.query}")
        assert answer.status_code == 302, answer.get_data(as_text=True)
        return str(answer.location)

    def sign_in_as(
        self,
        email: str | None,
        subject: str = "00u9",
        *,
        preferred_username: str | None = None,
        verified: bool = True,
    ) -> None:
        """The person the next authorization signs in."""
        self.state.email = email
        self.state.subject = subject
        self.state.preferred_username = preferred_username
        self.state.email_verified = verified

    def id_token(self, nonce: str, subject: str | None = None) -> str:
        """An ID token as the switches say (also for tests that forge one)."""
        st = self.state
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": subject or st.subject,
            "aud": st.audience or st.client_id,
            "iat": now - (7200 if st.expired else 0),
            "exp": now - 3600 if st.expired else now + 300,
            "nonce": "not-the-nonce-sent" if st.wrong_nonce else nonce,
        }
        if st.email is not None:
            claims["email"] = st.email
            claims["email_verified"] = st.email_verified
        if st.preferred_username is not None:
            claims["preferred_username"] = st.preferred_username
        key = self.stranger_key if st.wrong_key else self.key
        return jwt.encode({"alg": "RS256", "kid": self.kid}, claims, key)

    def _app(self) -> Flask:
        app = Flask(__name__)

        @app.get("/.well-known/openid-configuration")
        def discovery() -> Response:
            return jsonify(
                issuer=self.issuer,
                authorization_endpoint=f"{self.issuer}/authorize",
                token_endpoint=f"{self.issuer}/token",
                jwks_uri=f"{self.issuer}/keys",
                response_types_supported=["code"],
                subject_types_supported=["public"],
                id_token_signing_alg_values_supported=["RS256"],
                token_endpoint_auth_methods_supported=["client_secret_basic", "client_secret_post"],
                code_challenge_methods_supported=["S256"],
                scopes_supported=["openid", "email", "profile"],
            )

        @app.get("/keys")
        def keys() -> Response:
            self.state.log.append("jwks")
            public = self.key.as_dict(private=False)
            return jsonify(keys=[public | {"alg": "RS256", "use": "sig", "kid": self.kid}])

        @app.get("/authorize")
        def authorize() -> Response | tuple[str, int]:
            st = self.state
            args = request.args
            st.log.append("authorize")
            if args.get("client_id") != st.client_id:
                return "unknown client_id", 400
            uri = args.get("redirect_uri", "")
            if not uri or (st.redirect_uris and uri not in st.redirect_uris):
                return "redirect_uri is not registered", 400
            if args.get("response_type") != "code" or "openid" not in args.get("scope", "").split():
                return "unsupported response_type", 400
            state = args.get("state", "")
            if st.error:
                query = urlencode({"error": st.error, "state": state})
                return redirect(f"{uri}?{query}", 302)
            challenge = args.get("code_challenge")
            method = args.get("code_challenge_method")
            if challenge is not None and method != "S256":
                return "only code_challenge_method=S256", 400
            code = secrets.token_urlsafe(24)
            with self._lock:
                st.codes[code] = {
                    "redirect_uri": uri,
                    "challenge": challenge,
                    "nonce": args.get("nonce", ""),
                    "subject": st.subject,
                }
            return redirect(f"{uri}?{urlencode({'code': code, 'state': state})}", 302)

        @app.post("/token")
        def token() -> Response | tuple[Response, int]:
            st = self.state
            form = request.form
            st.token_requests.append(dict(form))
            client_id, secret = form.get("client_id"), form.get("client_secret")
            if request.authorization is not None:
                client_id = request.authorization.username
                secret = request.authorization.password
            if client_id != st.client_id or secret != st.client_secret:
                return jsonify(error="invalid_client", error_description="bad client"), 401
            if form.get("grant_type") != "authorization_code":
                return jsonify(error="unsupported_grant_type"), 400
            with self._lock:
                issued = st.codes.pop(form.get("code", ""), None)  # single use
            if issued is None:
                return _grant_error("the code is unknown or used")
            if form.get("redirect_uri") != issued["redirect_uri"]:
                return _grant_error("redirect_uri does not match the authorization request")
            verifier = form.get("code_verifier")
            if issued["challenge"] is None and verifier is not None:
                return _grant_error("PKCE: the authorization request had no code_challenge")
            if issued["challenge"] is not None:
                if not verifier:
                    return _grant_error("PKCE: code_verifier is required")
                digest = hashlib.sha256(verifier.encode()).digest()
                if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != issued["challenge"]:
                    return _grant_error("PKCE verification failed")
            st.log.append("token")
            return jsonify(
                access_token=secrets.token_urlsafe(16),
                token_type="Bearer",
                expires_in=300,
                id_token=self.id_token(issued["nonce"], issued["subject"]),
            )

        return app


def _grant_error(description: str) -> tuple[Response, int]:
    return jsonify(error="invalid_grant", error_description=description), 400
