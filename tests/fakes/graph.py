"""A loopback fake of Microsoft Graph and the Microsoft identity platform token endpoint.

- ``POST /{tenant}/oauth2/v2.0/token``: client credentials with a client secret or a
  certificate assertion (RS256 JWT, ``x5t`` header, ``aud`` = this token URL, checked).
- ``/v1.0/users``, ``/v1.0/groups``, ``/v1.0/groups/{id}/transitiveMembers``: ``$select``,
  ``$top`` (at most 999), ``@odata.nextLink`` with a ``$skiptoken``.
- ``/v1.0/users/delta`` and ``/v1.0/groups/delta``: the first round lists everything, later
  rounds (from ``@odata.deltaLink``) only changes; group members as ``members@delta`` with
  ``@removed``; a group's member changes split over pages (``members_per_item``); an
  expired delta token answers 410 Gone.
- ``/v1.0/users/$count`` and ``/v1.0/groups/{id}/transitiveMembers/$count`` answer a
  plain-text count, only with ``ConsistencyLevel: eventual`` (as Graph's advanced queries).
- Errors as ``{"error": {"code", "message"}}``.
- Misbehaviour on demand: faults (error answers), quirks (wrong 200 answers: a cut page,
  a repeated page, a foreign or endless nextLink, a trickled body) and triggers (people
  moved between groups while a listing is read).
"""

from __future__ import annotations

import base64
import copy
import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlencode

from flask import Flask, Response, jsonify, request
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
USER = "#microsoft.graph.user"
GROUP = "#microsoft.graph.group"


@dataclass
class GraphState:
    """Users, groups, apps and delta tokens of the fake tenant."""

    tenant: str = "contoso-tenant"
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    groups: dict[str, str] = field(default_factory=dict)  # id -> displayName
    members: dict[str, list[str]] = field(default_factory=dict)  # direct: users and groups
    secrets: dict[str, str] = field(default_factory=dict)  # client id -> secret
    certificates: dict[str, RSAKey] = field(default_factory=dict)  # client id -> public key
    access_tokens: set[str] = field(default_factory=set)
    delta_tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    rounds: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    delta_page_size: int = 2
    members_per_item: int = 2
    log: list[str] = field(default_factory=list)


class FakeGraph:
    """The fake tenant; ``url`` serves both the token endpoint and Graph."""

    def __init__(self) -> None:
        self.state = GraphState()
        self.faults = FaultBook()
        self.quirks = QuirkBook()
        self.triggers = Triggers()
        self._lock = threading.Lock()
        self._server = LoopbackServer(_app(self))
        self.url = self._server.url

    def close(self) -> None:
        """Stop the server."""
        self._server.close()

    def add_user(
        self, uid: str, upn: str, *, mail: str | None = None, enabled: bool = True
    ) -> None:
        """Create or replace a user."""
        self.state.users[uid] = {
            "id": uid,
            "userPrincipalName": upn,
            "mail": mail or upn,
            "displayName": upn.split("@")[0].title(),
            "accountEnabled": enabled,
            "jobTitle": "not selected, never returned",
        }

    def add_group(self, gid: str, name: str, members: list[str] | None = None) -> None:
        """Create or replace a group with direct members (user or group ids)."""
        self.state.groups[gid] = name
        self.state.members[gid] = list(members or [])

    def remove_user(self, uid: str) -> None:
        """Delete a user and its memberships."""
        self.state.users.pop(uid)
        for members in self.state.members.values():
            if uid in members:
                members.remove(uid)

    def add_fault(self, path: str, page: int = 1, status: int = 500, **kw: Any) -> Fault:
        """Switch on a fault for a listing path such as ``/v1.0/users``."""
        return self.faults.add(Fault(path=path, page=page, status=status, **kw))

    def misbehave(self, path: str, mode: str, page: int = 2, **kw: Any) -> Quirk:
        """Switch on a quirk (see ``tests.fakes.server.Quirk``) for a listing path."""
        return self.quirks.add(Quirk(path=path, mode=mode, page=page, **kw))

    def when(self, path: str, action: Any) -> None:
        """Run ``action()`` just before the first request for ``path`` is answered."""
        self.triggers.add(path, action)

    def move(self, member: str, source: str, target: str) -> None:
        """Move a direct member from one group to another."""
        self.state.members[source].remove(member)
        self.state.members[target].append(member)

    def transitive_items(self, gid: str) -> list[dict[str, Any]]:
        """What ``transitiveMembers`` lists for a group: its users and groups, nested ones too."""
        state = self.state
        return [
            {"@odata.type": USER if m in state.users else GROUP, "id": m}
            for m in self.transitive(gid)
            if m in state.users or m in state.groups
        ]

    def expire_delta_tokens(self) -> None:
        """Every stored delta link now answers 410 Gone."""
        self.state.delta_tokens.clear()

    def transitive(self, gid: str) -> list[str]:
        """Users and groups nested anywhere below ``gid``, each once."""
        seen: list[str] = []
        stack = list(self.state.members.get(gid, []))
        while stack:
            item = stack.pop(0)
            if item in seen:
                continue
            seen.append(item)
            stack.extend(self.state.members.get(item, []))
        return seen

    def snapshot(self) -> dict[str, Any]:
        """The state a delta token remembers."""
        return copy.deepcopy(
            {"users": self.state.users, "groups": self.state.groups, "members": self.state.members}
        )


def _error(status: int, code: str, message: str) -> Response:
    response = jsonify({"error": {"code": code, "message": message}})
    response.status_code = status
    return response


def _app(fake: FakeGraph) -> Flask:
    app = Flask("fake_graph")
    state = fake.state

    @app.before_request
    def _authenticate() -> Response | None:
        state.log.append(unquote(request.full_path).rstrip("?"))
        if request.path.endswith("/oauth2/v2.0/token"):
            return None
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        if scheme != "Bearer" or value not in state.access_tokens:
            return _error(401, "InvalidAuthenticationToken", "Access token is empty or invalid.")
        fake.triggers.fire(request.path)
        return None

    @app.post("/<tenant>/oauth2/v2.0/token")
    def token(tenant: str) -> Response:
        form = request.form
        problem = (
            _check_client(state, form, request.base_url)
            if tenant == state.tenant
            else (f"AADSTS90002: Tenant '{tenant}' not found.")
        )
        if problem:
            response = jsonify({"error": "invalid_client", "error_description": problem})
            response.status_code = 401
            return response
        if form.get("scope") != f"{request.host_url}.default":
            response = jsonify({"error": "invalid_scope", "error_description": "bad scope"})
            response.status_code = 400
            return response
        access = secrets.token_urlsafe(24)
        state.access_tokens.add(access)
        return jsonify({"token_type": "Bearer", "expires_in": 3599, "access_token": access})

    @app.get("/v1.0/users")
    def users() -> Response:
        return _paged(fake, [_select(u) for u in state.users.values()])

    @app.get("/v1.0/groups")
    def groups() -> Response:
        listed = [{"id": gid, "displayName": name} for gid, name in state.groups.items()]
        return _paged(fake, [_select(g) for g in listed])

    @app.get("/v1.0/groups/<gid>/transitiveMembers")
    def transitive(gid: str) -> Response:
        if gid not in state.groups:
            return _error(404, "Request_ResourceNotFound", f"Resource '{gid}' does not exist.")
        return _paged(fake, fake.transitive_items(gid))

    @app.get("/v1.0/users/$count")
    def users_count() -> Response:
        return _count(len(state.users))

    @app.get("/v1.0/groups/<gid>/transitiveMembers/$count")
    def transitive_count(gid: str) -> Response:
        if gid not in state.groups:
            return _error(404, "Request_ResourceNotFound", f"Resource '{gid}' does not exist.")
        return _count(len(fake.transitive_items(gid)))

    @app.get("/v1.0/users/delta")
    def users_delta() -> Response:
        return _delta(fake, "users")

    @app.get("/v1.0/groups/delta")
    def groups_delta() -> Response:
        return _delta(fake, "groups")

    return app


def _select(item: dict[str, Any]) -> dict[str, Any]:
    fields = request.args.get("$select")
    if not fields:
        return dict(item)
    wanted = {f.strip() for f in fields.split(",")} | {"id", "@odata.type"}
    return {k: v for k, v in item.items() if k in wanted}


def _paged(fake: FakeGraph, items: list[dict[str, Any]]) -> Response:
    top = int(request.args.get("$top", 100))
    if top > 999:
        return _error(400, "Request_BadRequest", "Invalid page size specified: '1000'.")
    start = int(request.args.get("$skiptoken", "0"))
    response = _fault(fake, start // top + 1)
    if response is not None:
        return response
    quirk = fake.quirks.take(request.path, start // top + 1)
    query = {k: v for k, v in request.args.items() if k not in ("$skiptoken", "n")}
    served = items[start : start + top]
    next_link = None
    if start + top < len(items):
        next_link = f"{request.base_url}?{urlencode(query)}&$skiptoken={start + top}"
    if quirk is not None and quirk.mode == "repeat":
        served = items[:top]
    elif quirk is not None and quirk.mode == "cut":
        served, next_link = served[: quirk.keep], None
    elif quirk is not None and quirk.mode == "endless":
        served = []
        next_link = f"{request.base_url}?{urlencode(query)}&$skiptoken={start}&n={uuid.uuid4().hex}"
    elif quirk is not None and quirk.mode == "offsite":
        next_link = f"{quirk.to}{request.path}?{urlencode(query)}&$skiptoken={start + top}"
    body: dict[str, Any] = {"value": served}
    if next_link is not None:
        body["@odata.nextLink"] = next_link
    if quirk is not None and quirk.mode == "trickle":
        return trickle(jsonify(body), quirk.delay)
    return jsonify(body)


def _count(n: int) -> Response:
    """A ``$count`` answer: plain text, and only for requests that accept eventual consistency."""
    if request.headers.get("ConsistencyLevel", "").lower() != "eventual":
        return _error(
            400,
            "Request_BadRequest",
            "Count is only supported with the ConsistencyLevel header set to eventual.",
        )
    return Response(str(n), content_type="text/plain")


def _fault(fake: FakeGraph, page: int) -> Response | None:
    fault = fake.faults.take(request.path, page)
    if fault is None:
        return None
    if fault.status == 0:  # an empty page that links on to the real one
        return jsonify({"value": [], "@odata.nextLink": f"{request.url}&e={uuid.uuid4().hex[:4]}"})
    return fault_response(fault)


def _delta(fake: FakeGraph, kind: str) -> Response:
    state = fake.state
    args = request.args
    if "$skiptoken" in args:  # a later page of a round already computed
        round_id, _, offset = args["$skiptoken"].partition(":")
        items = state.rounds.get(round_id)
        if items is None:
            return _error(410, "resyncRequired", "The skip token has expired.")
        return _delta_page(fake, kind, round_id, items, int(offset))
    base: dict[str, Any] = {"users": {}, "groups": {}, "members": {}}
    if "$deltatoken" in args:
        known = state.delta_tokens.get(args["$deltatoken"])
        if known is None or known["kind"] != kind:
            return _error(410, "syncStateNotFound", "Delta token expired; resync required.")
        base = known["state"]
    items = _changes(fake, kind, base)
    round_id = uuid.uuid4().hex[:8]
    state.rounds[round_id] = items
    return _delta_page(fake, kind, round_id, items, 0)


def _delta_page(
    fake: FakeGraph, kind: str, round_id: str, items: list[dict[str, Any]], offset: int
) -> Response:
    size = fake.state.delta_page_size
    response = _fault(fake, offset // size + 1)
    if response is not None:
        return response
    body: dict[str, Any] = {"value": items[offset : offset + size]}
    url = f"{request.host_url}v1.0/{kind}/delta"
    quirk = fake.quirks.take(request.path, offset // size + 1)
    if quirk is not None and quirk.mode == "cut":  # the round ends early, deltaLink and all
        body["value"], items = body["value"][: quirk.keep], []
    if offset + size < len(items):
        body["@odata.nextLink"] = f"{url}?$skiptoken={round_id}:{offset + size}"
    else:
        token = uuid.uuid4().hex  # a sync state, not a credential (it travels in URLs)
        fake.state.delta_tokens[token] = {"kind": kind, "state": fake.snapshot()}
        body["@odata.deltaLink"] = f"{url}?$deltatoken={token}"
    return jsonify(body)


def _changes(fake: FakeGraph, kind: str, base: dict[str, Any]) -> list[dict[str, Any]]:
    state = fake.state
    if kind == "users":
        out = [_select(u) for uid, u in state.users.items() if base["users"].get(uid) != u]
        out += [
            {"id": uid, "@removed": {"reason": "deleted"}}
            for uid in base["users"]
            if uid not in state.users
        ]
        return out
    out = []
    for gid, name in state.groups.items():
        now, before = state.members[gid], base["members"].get(gid, [])
        changes = [_ref(fake, m) for m in now if m not in before]
        changes += [
            {**_ref(fake, m), "@removed": {"reason": "deleted"}} for m in before if m not in now
        ]
        if base["groups"].get(gid) == name and not changes:
            continue
        per = state.members_per_item
        chunks = [changes[i : i + per] for i in range(0, len(changes), per)] or [[]]
        for i, chunk in enumerate(chunks):  # the same group spread over several items
            item: dict[str, Any] = {"id": gid, "members@delta": chunk}
            if i == 0:
                item["displayName"] = name
            out.append(item)
    out += [
        {"id": gid, "@removed": {"reason": "deleted"}}
        for gid in base["groups"]
        if gid not in state.groups
    ]
    return out


def _ref(fake: FakeGraph, member: str) -> dict[str, Any]:
    kind = GROUP if member in fake.state.groups else USER
    return {"@odata.type": kind, "id": member}


def _check_client(state: GraphState, form: Any, token_url: str) -> str | None:
    client_id = form.get("client_id")
    if form.get("grant_type") != "client_credentials":
        return "AADSTS70003: unsupported grant type"
    if "client_secret" in form:
        expected = state.secrets.get(client_id or "")
        if expected is None or expected != form["client_secret"]:
            return "AADSTS7000215: Invalid client secret provided."
        return None
    if form.get("client_assertion_type") != ASSERTION_TYPE:
        return "AADSTS7000216: client_assertion or client_secret is required."
    assertion = form.get("client_assertion", "")
    try:
        header = json.loads(base64.urlsafe_b64decode(assertion.split(".")[0] + "=="))
        claims = json.loads(base64.urlsafe_b64decode(assertion.split(".")[1] + "=="))
    except (ValueError, IndexError):
        return "AADSTS50027: the client assertion is not a JWT"
    key = state.certificates.get(str(claims.get("iss")))
    if key is None or "x5t" not in header:
        return "AADSTS700027: no certificate with that thumbprint is registered"
    try:
        jwt.decode(assertion, key, algorithms=["RS256"])
    except (JoseError, ValueError):
        return "AADSTS700027: the client assertion's signature does not verify"
    if claims.get("sub") != claims.get("iss") or claims.get("aud") != token_url:
        return f"AADSTS700016: aud must be {token_url} and sub the client id"
    if not isinstance(claims.get("exp"), int) or claims["exp"] < time.time():
        return "AADSTS700024: the client assertion has expired"
    return None
