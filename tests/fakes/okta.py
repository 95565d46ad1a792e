"""A loopback fake of Okta's Management API, close to the documented behaviour.

- ``/api/v1/users`` (never lists DEPROVISIONED users), ``/api/v1/groups``,
  ``/api/v1/groups/{id}/users`` (lists members whatever their status); ``limit`` and an
  ``after`` cursor, with ``Link: <...>; rel="self"`` and ``rel="next"`` headers.
- ``Authorization: SSWS <token>`` or ``Bearer <access token>`` from
  ``/oauth2/v1/token`` (client credentials with a ``private_key_jwt`` client assertion whose
  signature, ``iss``/``sub``, ``aud`` and ``exp`` are checked).
- ``X-Rate-Limit-Limit/-Remaining/-Reset`` on every answer, 429 past the limit.
- Errors as Okta error objects (``errorCode``, ``errorSummary``).
- ``/api/v1/groups?expand=stats`` embeds ``_embedded.stats.usersCount`` in each group.
- Misbehaviour on demand: faults (error answers), quirks (wrong 200 answers: a cut page,
  a repeated page, a foreign or endless next link, a trickled body) and triggers (people
  moved between groups while a listing is read).
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from flask import Flask, Response, g, jsonify, request
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey

from tests.fakes.server import (
    Fault,
    FaultBook,
    LoopbackServer,
    Quirk,
    QuirkBook,
    Triggers,
    fault_response,
    trickle,
)

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@dataclass
class OktaState:
    """Users, groups and credentials of the fake org (tests change them between runs)."""

    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    groups: dict[str, dict[str, Any]] = field(default_factory=dict)
    members: dict[str, list[str]] = field(default_factory=dict)
    api_token: str = "okta-api-token"
    clients: dict[str, RSAKey] = field(default_factory=dict)  # client id -> public key
    access_tokens: set[str] = field(default_factory=set)
    delete_after_listing: set[str] = field(default_factory=set)
    rate_limit: int | None = None  # requests per one-second window; None = plenty
    log: list[str] = field(default_factory=list)


class FakeOkta:
    """The fake Okta org; ``url`` is its base URL while it runs."""

    def __init__(self) -> None:
        self.state = OktaState()
        self.faults = FaultBook()
        self.quirks = QuirkBook()
        self.triggers = Triggers()
        self.count_deprovisioned = True  # does usersCount include DEPROVISIONED members?
        self._lock = threading.Lock()
        self._window = (0, 0)
        self._server = LoopbackServer(_app(self))
        self.url = self._server.url

    def close(self) -> None:
        """Stop the server."""
        self._server.close()

    # -- test helpers -------------------------------------------------------------
    def add_user(
        self,
        uid: str,
        login: str,
        *,
        email: str | None = None,
        status: str = "ACTIVE",
        first: str = "Test",
        last: str | None = None,
    ) -> None:
        """Create or replace a user."""
        self.state.users[uid] = {
            "id": uid,
            "status": status,
            "created": "2026-01-01T00:00:00.000Z",
            "profile": {
                "login": login,
                "email": email or login,
                "firstName": first,
                "lastName": last or uid,
            },
        }

    def add_group(self, gid: str, name: str, members: list[str] | None = None) -> None:
        """Create or replace a group with its members."""
        self.state.groups[gid] = {
            "id": gid,
            "type": "OKTA_GROUP",
            "profile": {"name": name, "description": ""},
        }
        self.state.members[gid] = list(members or [])

    def add_fault(self, path: str, page: int = 1, status: int = 500, **kw: Any) -> Fault:
        """Switch on a fault for a listing path such as ``/api/v1/users``."""
        return self.faults.add(Fault(path=path, page=page, status=status, **kw))

    def misbehave(self, path: str, mode: str, page: int = 2, **kw: Any) -> Quirk:
        """Switch on a quirk (see ``tests.fakes.server.Quirk``) for a listing path."""
        return self.quirks.add(Quirk(path=path, mode=mode, page=page, **kw))

    def when(self, path: str, action: Any) -> None:
        """Run ``action()`` just before the first request for ``path`` is answered."""
        self.triggers.add(path, action)

    def move(self, uid: str, source: str, target: str) -> None:
        """Move a user from one group to another."""
        self.state.members[source].remove(uid)
        self.state.members[target].append(uid)

    def users_count(self, gid: str) -> int:
        """What ``expand=stats`` says: the members the group's listing would return."""
        users = self.state.users
        return sum(
            1
            for u in self.state.members.get(gid, [])
            if u in users and (self.count_deprovisioned or users[u]["status"] != "DEPROVISIONED")
        )

    def register_client(self, client_id: str, public_key: RSAKey) -> None:
        """Allow an OAuth service app whose assertions verify with ``public_key``."""
        self.state.clients[client_id] = public_key

    # -- serving ------------------------------------------------------------------
    def rate_headers(self) -> tuple[dict[str, str], bool]:
        """Count this request in the current one-second window; True if over the limit."""
        now = int(time.time())
        with self._lock:
            window, used = self._window
            if window != now:
                window, used = now, 0
            used += 1
            self._window = (window, used)
        limit = self.state.rate_limit or 600
        remaining = max(limit - used, 0)
        headers = {
            "X-Rate-Limit-Limit": str(limit),
            "X-Rate-Limit-Remaining": str(remaining),
            "X-Rate-Limit-Reset": str(window + 1),
        }
        return headers, self.state.rate_limit is not None and used > limit


def _error(status: int, code: str, summary: str) -> Response:
    response = jsonify(
        {"errorCode": code, "errorSummary": summary, "errorId": uuid.uuid4().hex[:20]}
    )
    response.status_code = status
    return response


def _app(fake: FakeOkta) -> Flask:
    app = Flask("fake_okta")
    state = fake.state

    @app.before_request
    def _authenticate() -> Response | None:
        state.log.append(request.full_path.rstrip("?"))
        if request.path == "/oauth2/v1/token":
            return None
        auth = request.headers.get("Authorization", "")
        scheme, _, value = auth.partition(" ")
        ok = (scheme == "SSWS" and value == state.api_token) or (
            scheme == "Bearer" and value in state.access_tokens
        )
        g.rate, g.over = fake.rate_headers()
        if not ok:
            return _error(401, "E0000011", "Invalid token provided")
        fake.triggers.fire(request.path)
        return None

    @app.after_request
    def _rate(response: Response) -> Response:
        for k, v in getattr(g, "rate", {}).items():
            response.headers.setdefault(k, v)
        return response

    @app.post("/oauth2/v1/token")
    def token() -> Response:
        form = request.form
        if form.get("grant_type") != "client_credentials":
            return _oauth_error("unsupported_grant_type", "only client_credentials")
        if form.get("client_assertion_type") != ASSERTION_TYPE:
            return _oauth_error("invalid_client", "a private_key_jwt client assertion is required")
        problem = _check_assertion(state, form.get("client_assertion", ""), request.base_url)
        if problem:
            return _oauth_error("invalid_client", problem, 401)
        access = secrets.token_urlsafe(24)
        state.access_tokens.add(access)
        return jsonify(
            {
                "token_type": "Bearer",
                "expires_in": 3600,
                "access_token": access,
                "scope": form.get("scope", ""),
            }
        )

    @app.get("/api/v1/users")
    def users() -> Response:
        listed = [u for u in state.users.values() if u["status"] != "DEPROVISIONED"]
        return _page(fake, listed)

    @app.get("/api/v1/groups")
    def groups() -> Response:
        listed = list(state.groups.values())
        if request.args.get("expand") == "stats":
            listed = [
                {**group, "_embedded": {"stats": {"usersCount": fake.users_count(group["id"])}}}
                for group in listed
            ]
        response = _page(fake, listed)
        if "next" not in response.headers.get("Link", "") and state.delete_after_listing:
            for gid in state.delete_after_listing:  # deleted just after the client listed it
                state.groups.pop(gid, None)
                state.members.pop(gid, None)
            state.delete_after_listing.clear()
        return response

    @app.get("/api/v1/groups/<gid>/users")
    def group_users(gid: str) -> Response:
        if gid not in state.groups:
            return _error(404, "E0000007", f"Not found: Resource not found: {gid} (UserGroup)")
        return _page(fake, [state.users[u] for u in state.members[gid] if u in state.users])

    return app


def _page(fake: FakeOkta, items: list[dict[str, Any]]) -> Response:
    limit = min(int(request.args.get("limit", 200)), 200)
    after = request.args.get("after")
    start = 0
    if after is not None:
        ids = [item["id"] for item in items]
        start = ids.index(after) + 1 if after in ids else len(ids)
    page_no = start // limit + 1
    if g.over:
        return _error(429, "E0000047", "API call exceeded rate limit due to too many requests.")
    kept = {k: v for k, v in request.args.items() if k not in ("after", "e", "n")}
    base = f"{request.base_url}?{urlencode(kept)}"
    fault = fake.faults.take(request.path, page_no)
    if fault is not None and fault.status == 0:  # an empty page that still links onward
        response = jsonify([])
        cursor = f"&after={after}" if after else ""
        response.headers["Link"] = f'<{base}{cursor}&e=1>; rel="next"'
        return response
    if fault is not None:
        return fault_response(fault)
    quirk = fake.quirks.take(request.path, page_no)
    chunk = items[start : start + limit]
    served = items[:limit] if quirk is not None and quirk.mode == "repeat" else chunk
    next_url = f"{base}&after={chunk[-1]['id']}" if start + limit < len(items) else None
    if quirk is not None and quirk.mode == "cut":
        served, next_url = chunk[: quirk.keep], None
    elif quirk is not None and quirk.mode == "endless":
        cursor = f"&after={after}" if after else ""
        served, next_url = [], f"{base}{cursor}&n={uuid.uuid4().hex}"
    elif quirk is not None and quirk.mode == "offsite":
        cursor = f"&after={chunk[-1]['id']}" if chunk else ""
        next_url = f"{quirk.to}{request.path}?{urlencode(kept)}{cursor}"
    response = jsonify(served)
    links = [f'<{request.url}>; rel="self"']
    if next_url is not None:
        links.append(f'<{next_url}>; rel="next"')
    response.headers["Link"] = ", ".join(links)
    if quirk is not None and quirk.mode == "trickle":
        return trickle(response, quirk.delay)
    return response


def _oauth_error(error: str, description: str, status: int = 400) -> Response:
    response = jsonify({"error": error, "error_description": description})
    response.status_code = status
    return response


def _check_assertion(state: OktaState, assertion: str, token_url: str) -> str | None:
    """Why the client assertion is refused, or None if it is good."""
    try:
        header_claims = _peek(assertion)  # unverified: only to find the client's key
    except ValueError:
        return "the client assertion is not a JWT"
    client_id = header_claims.get("iss")
    key = state.clients.get(str(client_id))
    if key is None:
        return f"unknown client {client_id!r}"
    try:
        token = jwt.decode(assertion, key, algorithms=["RS256"])
    except (JoseError, ValueError):
        return "the client assertion's signature does not verify"
    claims = token.claims
    if claims.get("sub") != client_id:
        return "sub must equal iss (the client id)"
    if claims.get("aud") != token_url:
        return f"aud must be the token URL {token_url}"
    if not isinstance(claims.get("exp"), int) or claims["exp"] < time.time():
        return "the client assertion has expired"
    return None


def _peek(assertion: str) -> dict[str, Any]:
    parts = assertion.split(".")
    if len(parts) != 3:
        raise ValueError("not a compact JWS")
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    data = json.loads(base64.urlsafe_b64decode(payload))
    if not isinstance(data, dict):
        raise ValueError("claims are not an object")
    return data
