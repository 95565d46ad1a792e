"""Bearer-key authentication of the admin API (``Authorization: Bearer rbk_...``); a
failure counts against the client's address (``throttle``: past its limit, a 429)."""

from __future__ import annotations

from flask import g, request

from scim_server.api.context import read_session, session_factory
from scim_server.api.problems import ApiProblem
from scim_server.ops.throttle import count_failure
from sync import logs
from sync.credentials.apikeys import touch_api_key, verify_api_key

__all__ = ["authenticate"]

OPEN_PATHS = ("/api/v1/openapi.json", "/api/v1/mapping.schema.json")


def authenticate() -> None:
    """Set the caller from the bearer key, or answer 401."""
    if request.path in OPEN_PATHS:
        return
    header = request.headers.get("Authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        count_failure()
        raise ApiProblem(401, "unauthorized", "send 'Authorization: Bearer <api key>'")
    with read_session() as s:
        principal = verify_api_key(s, key.strip(), touch=False)
    if principal is None:
        count_failure()
        raise ApiProblem(401, "unauthorized", "the API key is unknown or revoked")
    if principal.key_id is not None:
        touch_api_key(session_factory(), principal.key_id)
    g.rolebridge_principal = principal
    logs.bind(org_id=principal.org_id)
