"""Failed authentication is limited per client address: past the limit, 429 with
Retry-After instead of 401; valid credentials from that address and other addresses
are unaffected."""

from __future__ import annotations

import dataclasses
import re
import secrets
import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.test import TestResponse

from scim_server import create_app
from sync.credentials.apikeys import create_api_key
from sync.models import Organisation
from sync.settings import Settings
from tests.e2e.conftest import make_org

MakeApp = Callable[..., Flask]
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
SCIM_ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


@pytest.fixture
def make_app(settings: Settings) -> Iterator[MakeApp]:
    """Apps on the test database allowing 3 failed authentications a minute per address."""
    made: list[Flask] = []

    def build(**changes: Any) -> Flask:
        changes.setdefault("rate_limit_auth_failures", "3/minute")
        app = create_app(dataclasses.replace(settings, **changes))
        app.config["TESTING"] = True
        made.append(app)
        return app

    yield build
    for app in made:
        app.extensions["rolebridge"].engine.dispose()


def _address() -> str:
    """A client address of its own (the Redis test shares its counters with other runs)."""
    return f"10.{secrets.randbelow(250)}.{secrets.randbelow(250)}.{secrets.randbelow(250) + 1}"


def _get(client: FlaskClient, path: str, credential: str, address: str) -> TestResponse:
    return client.get(
        path,
        headers={"Authorization": f"Bearer {credential}"},
        environ_base={"REMOTE_ADDR": address},
    )


def _garbage_scim() -> str:
    return "rbscim_" + secrets.token_urlsafe(32)


def _garbage_key() -> str:
    return "rbk_" + secrets.token_urlsafe(32)


def _api_key(session_factory: sessionmaker[Session]) -> str:
    with session_factory.begin() as s:
        org = s.scalars(select(Organisation).where(Organisation.name == "acme")).one()
        _, key = create_api_key(s, org.id, "owner", ["owner"])
    return key


def test_distinct_garbage_scim_tokens_from_one_address_are_limited(
    make_app: MakeApp, session_factory: sessionmaker[Session]
) -> None:
    """Three bad tokens answer 401, the fourth 429 with Retry-After as a SCIM Error; the
    address's valid token is still served and another address still gets its 401."""
    token = make_org(session_factory, "acme")
    client = make_app().test_client()
    attacker, neighbour = _address(), _address()
    codes = [_get(client, "/scim/v2/Users", _garbage_scim(), attacker).status_code for _ in "abc"]
    assert codes == [401, 401, 401]
    limited = _get(client, "/scim/v2/Users", _garbage_scim(), attacker)
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) >= 1
    assert limited.json is not None and limited.json["schemas"] == [SCIM_ERROR]
    assert _get(client, "/scim/v2/Users", token, attacker).status_code == 200
    assert _get(client, "/scim/v2/Users", _garbage_scim(), neighbour).status_code == 401


def test_requests_without_a_token_count_as_failures(
    make_app: MakeApp, session_factory: sessionmaker[Session]
) -> None:
    """A missing Authorization header fails authentication too, and is limited alike."""
    client = make_app().test_client()
    address = _address()
    codes = [
        client.get("/scim/v2/Groups", environ_base={"REMOTE_ADDR": address}).status_code
        for _ in range(4)
    ]
    assert codes == [401, 401, 401, 429]


def test_distinct_garbage_api_keys_from_one_address_are_limited(
    make_app: MakeApp, session_factory: sessionmaker[Session]
) -> None:
    """The admin API: 401 problems, then a 429 problem with Retry-After; a valid key still works."""
    make_org(session_factory, "acme")
    key = _api_key(session_factory)
    client = make_app().test_client()
    attacker, neighbour = _address(), _address()
    codes = [_get(client, "/api/v1/orgs/acme", _garbage_key(), attacker).status_code for _ in "abc"]
    assert codes == [401, 401, 401]
    limited = _get(client, "/api/v1/orgs/acme", _garbage_key(), attacker)
    assert (limited.status_code, limited.mimetype) == (429, "application/problem+json")
    assert int(limited.headers["Retry-After"]) >= 1
    assert _get(client, "/api/v1/orgs/acme", key, attacker).status_code == 200
    assert _get(client, "/api/v1/orgs/acme", _garbage_key(), neighbour).status_code == 401


def test_failed_sign_ins_from_one_address_are_limited(
    make_app: MakeApp, session_factory: sessionmaker[Session]
) -> None:
    """The sign-in form: wrong keys answer 401, then 429 with Retry-After."""
    make_org(session_factory, "acme")
    client = make_app(secret_key="test-secret").test_client()
    address = _address()
    page = client.get("/admin/sign-in", environ_base={"REMOTE_ADDR": address})
    match = _CSRF.search(page.get_data(as_text=True))
    assert match

    def sign_in(key: str) -> TestResponse:
        form = {"api_key": key, "csrf_token": match.group(1)}
        return client.post("/admin/sign-in", data=form, environ_base={"REMOTE_ADDR": address})

    assert [sign_in(_garbage_key()).status_code for _ in "abc"] == [401, 401, 401]
    limited = sign_in(_garbage_key())
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    assert sign_in(_api_key(session_factory)).status_code == 302


def test_web_processes_count_failures_together_through_redis(
    make_app: MakeApp, session_factory: sessionmaker[Session]
) -> None:
    """Two apps on one Redis share an address's failures: the limit holds across them."""
    with socket.socket() as s:
        s.settimeout(1)
        if s.connect_ex(("127.0.0.1", 6379)) != 0:
            pytest.skip("no Redis on 127.0.0.1:6379")
    redis = "redis://127.0.0.1:6379/0"
    first, second = make_app(redis_url=redis).test_client(), make_app(redis_url=redis).test_client()
    address = _address()
    codes = [
        _get(client, "/scim/v2/Users", _garbage_scim(), address).status_code
        for client in (first, second, first, second)
    ]
    assert codes == [401, 401, 401, 429]


def test_the_limit_is_a_setting() -> None:
    """ROLEBRIDGE_RATE_LIMIT_AUTH_FAILURES sets it; the default allows some typos, not a scan."""
    env = {"ROLEBRIDGE_RATE_LIMIT_AUTH_FAILURES": "5/second"}
    assert Settings.from_env(env).rate_limit_auth_failures == "5/second"
    assert Settings.from_env({}).rate_limit_auth_failures == "30/minute"
