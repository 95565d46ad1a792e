"""A database that hangs or goes away: every surface answers 503 with Retry-After, in its
own error format, instead of hanging or answering 500; and it recovers on its own."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import Connection, Engine, exc, select
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker

from scim_server import create_app
from scim_server.app import runtime
from sync.credentials.apikeys import create_api_key
from sync.models import Organisation
from sync.settings import Settings
from tests.e2e.conftest import make_org
from tests.fakes.tcpproxy import TcpProxy

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
SCIM_ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


def _postgres_url(engine: Engine) -> URL:
    if engine.dialect.name != "postgresql":
        pytest.skip("the proxy stands in for a network database")
    return make_url(engine.url.render_as_string(hide_password=False))


@pytest.fixture
def proxy(engine: Engine) -> Iterator[TcpProxy]:
    """A loopback proxy in front of the PostgreSQL test database."""
    url = _postgres_url(engine)
    found = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    found.up()
    yield found
    found.down()


@pytest.fixture
def proxied_app(engine: Engine, proxy: TcpProxy, tmp_path: Path) -> Iterator[Flask]:
    """The app reaching the test database through the proxy, with short bounds."""
    url = _postgres_url(engine).set(host="127.0.0.1", port=proxy.port)
    settings = Settings(
        database_url=url.render_as_string(hide_password=False),
        instance_path=tmp_path,
        db_statement_timeout=1.0,
        db_connect_timeout=2,
        db_pool_timeout=2.0,
    )
    app = create_app(settings)
    app.config["TESTING"] = True
    yield app
    app.extensions["rolebridge"].engine.dispose()


def _assert_scim_unavailable(response: object) -> None:
    assert response.status_code == 503, response.get_data(as_text=True)  # type: ignore[attr-defined]
    assert response.headers["Retry-After"].isdigit()  # type: ignore[attr-defined]
    body = response.json  # type: ignore[attr-defined]
    assert body["schemas"] == [SCIM_ERROR] and body["status"] == "503"


@pytest.mark.postgres
def test_a_scim_read_on_a_frozen_connection_answers_503_and_recovers(
    proxied_app: Flask, proxy: TcpProxy, session_factory: sessionmaker[Session]
) -> None:
    """The pooled connection goes silent mid-session: 503 + Retry-After, then 200 once back."""
    auth = {"Authorization": f"Bearer {make_org(session_factory, 'acme')}"}
    client = proxied_app.test_client()
    assert client.get("/scim/v2/Users", headers=auth).status_code == 200  # pooled now
    proxy.freeze()
    _assert_scim_unavailable(client.get("/scim/v2/Users", headers=auth))
    proxy.thaw()
    assert client.get("/scim/v2/Users", headers=auth).status_code == 200


@pytest.mark.postgres
def test_a_scim_write_on_a_frozen_connection_answers_503(
    proxied_app: Flask, proxy: TcpProxy, session_factory: sessionmaker[Session]
) -> None:
    """A write that meets a silent database is a 503 too (the IdP retries it)."""
    auth = {"Authorization": f"Bearer {make_org(session_factory, 'acme')}"}
    client = proxied_app.test_client()
    assert client.get("/scim/v2/Users", headers=auth).status_code == 200
    proxy.freeze()
    body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "a@acme.com"}
    _assert_scim_unavailable(client.post("/scim/v2/Users", json=body, headers=auth))


@pytest.mark.postgres
def test_every_surface_answers_503_while_the_database_is_down(
    proxied_app: Flask, proxy: TcpProxy, session_factory: sessionmaker[Session]
) -> None:
    """With the database gone: SCIM Error, API problem and error page, each 503 + Retry-After."""
    token = make_org(session_factory, "acme")
    with session_factory.begin() as s:
        _, key = create_api_key(s, _org_id(s), "owner", ["owner"])
    client = proxied_app.test_client()
    assert client.get("/api/v1/orgs/acme", headers=_bearer(key)).status_code == 200
    csrf = _CSRF.search(client.get("/admin/sign-in").get_data(as_text=True))
    assert csrf
    proxy.down()
    _assert_scim_unavailable(client.get("/scim/v2/Users", headers=_bearer(token)))
    api = client.get("/api/v1/orgs/acme", headers=_bearer(key))
    assert (api.status_code, api.mimetype) == (503, "application/problem+json")
    assert api.headers["Retry-After"].isdigit() and api.json["status"] == 503
    page = client.post("/admin/sign-in", data={"api_key": key, "csrf_token": csrf.group(1)})
    assert page.status_code == 503 and page.headers["Retry-After"].isdigit()
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.headers["Retry-After"].isdigit()
    proxy.up()
    assert client.get("/scim/v2/Users", headers=_bearer(token)).status_code == 200


@pytest.mark.postgres
def test_a_request_that_finds_no_free_pooled_connection_answers_503(
    proxied_app: Flask, session_factory: sessionmaker[Session]
) -> None:
    """Every pooled connection busy past the pool timeout: 503 + Retry-After, not a wait."""
    auth = _bearer(make_org(session_factory, "acme"))
    engine = runtime(proxied_app).engine
    held: list[Connection] = []
    with pytest.raises(exc.TimeoutError):  # take every connection the pool will give
        for _ in range(100):
            held.append(engine.connect())
    try:
        _assert_scim_unavailable(proxied_app.test_client().get("/scim/v2/Users", headers=auth))
    finally:
        for connection in held:
            connection.close()
    assert proxied_app.test_client().get("/scim/v2/Users", headers=auth).status_code == 200


@pytest.mark.parametrize("where", ["postgresql", "sqlite"])
def test_scim_and_the_api_answer_503_when_the_database_cannot_be_reached(
    where: str, tmp_path: Path
) -> None:
    """A port where nothing listens (or a SQLite file that cannot be opened): 503, not 500."""
    if where == "postgresql":
        url = f"postgresql+psycopg://root@127.0.0.1:{_closed_port()}/rolebridge"
    else:
        url = f"sqlite:///{tmp_path}/missing/dir/rolebridge.sqlite3"
    app = create_app(Settings(database_url=url, instance_path=tmp_path, db_connect_timeout=2))
    try:
        client = app.test_client()
        bearer = _bearer("rbk_" + "x" * 43)
        _assert_scim_unavailable(client.get("/scim/v2/Users", headers=bearer))
        api = client.get("/api/v1/orgs/acme", headers=bearer)
        assert (api.status_code, api.mimetype) == (503, "application/problem+json")
        assert api.headers["Retry-After"].isdigit()
    finally:
        app.extensions["rolebridge"].engine.dispose()


def _bearer(credential: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {credential}"}


def _org_id(session: Session) -> int:
    return session.scalars(select(Organisation.id).where(Organisation.name == "acme")).one()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
