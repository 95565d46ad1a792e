"""Admin page sessions live on the server: sign-out, key revocation and expiry end them,
for every copy of the cookie and in every process."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from rolebridge.cli import main
from scim_server.api.context import SESSION_FACTORY_KEY
from scim_server.app import create_app
from sync.credentials.apikeys import verify_api_key
from sync.models import AdminSession, utcnow
from sync.settings import Settings
from tests.e2e.admin.conftest import Seeded, csrf_on, sign_in

COOKIE = "session"


def _session_cookie(client: FlaskClient, key: str) -> str:
    """Sign in and return the session cookie's value."""
    sign_in(client, key)
    cookie = client.get_cookie(COOKIE)
    assert cookie is not None
    return cookie.value


def _copy(app: Flask, cookie: str) -> FlaskClient:
    """Another browser (or an attacker) holding a copy of the cookie."""
    other = app.test_client()
    other.set_cookie(COOKIE, cookie)
    return other


def _sent_to_sign_in(client: FlaskClient) -> bool:
    r = client.get("/admin/")
    return r.status_code == 302 and "/admin/sign-in" in r.headers["Location"]


@pytest.fixture
def second_process(session_factory: sessionmaker[Session], tmp_path: Path) -> Flask:
    """Another web process on the same database and the same secret key."""
    url = str(session_factory.kw["bind"].url.render_as_string(hide_password=False))
    app = create_app(Settings(database_url=url, instance_path=tmp_path, secret_key="test-secret"))
    app.config["TESTING"] = True
    app.extensions[SESSION_FACTORY_KEY] = session_factory
    return app


def test_a_copied_cookie_stops_working_once_its_session_signs_out(
    app: Flask, client: FlaskClient, acme: Seeded, second_process: Flask
) -> None:
    """Copy the cookie, sign out: the copy is sent back to sign-in, here and in another process."""
    cookie = _session_cookie(client, acme.keys["owner"])
    here, there = _copy(app, cookie), _copy(second_process, cookie)
    assert here.get("/admin/").status_code == 200
    assert there.get("/admin/").status_code == 200
    r = client.post("/admin/sign-out", data={"csrf_token": csrf_on(client, "/admin/")})
    assert r.status_code == 302
    assert _sent_to_sign_in(here) and _sent_to_sign_in(there) and _sent_to_sign_in(client)


def test_signing_out_ends_only_that_session(
    app: Flask, acme: Seeded, session_factory: sessionmaker[Session]
) -> None:
    """Two sign-ins of one key are two sessions: one signing out leaves the other signed in."""
    first, second = app.test_client(), app.test_client()
    sign_in(first, acme.keys["owner"])
    sign_in(second, acme.keys["owner"])
    first.post("/admin/sign-out", data={"csrf_token": csrf_on(first, "/admin/")})
    assert _sent_to_sign_in(first)
    assert second.get("/admin/").status_code == 200
    with session_factory.begin() as s:
        assert len(s.scalars(select(AdminSession)).all()) == 1


def test_revoking_the_key_that_signed_in_ends_the_session(
    app: Flask,
    client: FlaskClient,
    acme: Seeded,
    session_factory: sessionmaker[Session],
    cli: CliRunner,
) -> None:
    """`rolebridge apikey revoke` ends every session of the key, copies of the cookie too."""
    copy = _copy(app, _session_cookie(client, acme.keys["owner"]))
    assert copy.get("/admin/").status_code == 200
    with session_factory.begin() as s:
        who = verify_api_key(s, acme.keys["owner"])
    assert who is not None
    result = cli.invoke(main, ["apikey", "revoke", "--org", "acme", str(who.key_id)])
    assert result.exit_code == 0, result.output
    assert _sent_to_sign_in(copy) and _sent_to_sign_in(client)


def test_a_session_past_its_lifetime_is_signed_out(
    client: FlaskClient, acme: Seeded, session_factory: sessionmaker[Session]
) -> None:
    """Sessions expire on the server, whatever the cookie says."""
    sign_in(client, acme.keys["owner"])
    assert client.get("/admin/").status_code == 200
    with session_factory.begin() as s:  # time passes: the lifetime is over
        s.execute(update(AdminSession).values(expires_at=utcnow()))
    assert _sent_to_sign_in(client)


def test_the_cookie_carries_a_session_id_whose_hash_alone_is_stored(
    client: FlaskClient, acme: Seeded, session_factory: sessionmaker[Session]
) -> None:
    """The session id in the cookie is random and the database does not hold it in clear."""
    sign_in(client, acme.keys["owner"])
    with client.session_transaction() as cookie_session:
        session_id = cookie_session["sid"]
        assert set(cookie_session) <= {"sid", "csrf_token", "_flashes"}
    with session_factory.begin() as s:
        stored = s.scalars(select(AdminSession.token_hash)).one()
    assert len(session_id) >= 40 and session_id not in stored and len(stored) == 64
