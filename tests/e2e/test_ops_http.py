"""Operating rolebridge over HTTP: health, readiness, metrics, request ids, limits, headers."""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from scim_server import create_app
from sync import logs
from sync.credentials.apikeys import create_api_key
from sync.db import make_engine, upgrade
from sync.models import (
    AuditEntry,
    Organisation,
    OutboxMessage,
    ReconcileBacklog,
    SavedPlan,
    Source,
    SyncRun,
)
from sync.settings import Settings
from tests.e2e.conftest import SCIM, Scim, make_org, user
from tests.fakes.tcpproxy import TcpProxy

MakeApp = Callable[..., Flask]


@pytest.fixture
def make_app(settings: Settings) -> Iterator[MakeApp]:
    """Build apps from the test settings with some changed; their engines are closed after."""
    made: list[Flask] = []

    def build(**changes: object) -> Flask:
        app = create_app(dataclasses.replace(settings, **changes))  # type: ignore[arg-type]
        app.config["TESTING"] = True
        made.append(app)
        return app

    yield build
    for app in made:
        app.extensions["rolebridge"].engine.dispose()


def _samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def _metric(text: str, name: str, **labels: str) -> float:
    return _samples(text).get((name, frozenset(labels.items())), 0.0)


def test_healthz_answers_without_touching_the_database(make_app: MakeApp, tmp_path: Path) -> None:
    """/healthz says ok even when the database URL points nowhere."""
    app = make_app(database_url=f"sqlite:///{tmp_path}/missing/dir/x.db")
    response = app.test_client().get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok"}


def test_readyz_is_ready_on_a_migrated_database(app: Flask) -> None:
    """/readyz answers 200 when the database is reachable and at the newest revision."""
    response = app.test_client().get("/readyz")
    assert (response.status_code, response.json) == (200, {"status": "ready"})


def test_readyz_is_unready_when_the_schema_moves_under_a_running_app(
    make_app: MakeApp, tmp_path: Path
) -> None:
    """A running app whose database is migrated elsewhere to another revision answers 503."""
    url = f"sqlite:///{tmp_path}/moved.db"
    upgrade(make_engine(url))
    app = make_app(database_url=url)
    assert app.test_client().get("/readyz").status_code == 200
    with make_engine(url).begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'f00dfeed0000'"))
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.json == {"status": "unready", "reason": "database schema is not current"}


@pytest.mark.postgres
def test_readyz_follows_the_database_going_away_and_coming_back(
    engine: Engine, tmp_path: Path
) -> None:
    """Cut the database off behind a proxy: /readyz goes 503, and 200 again once it returns."""
    if engine.dialect.name != "postgresql":
        pytest.skip("the proxy cuts a network database")
    url = make_url(engine.url.render_as_string(hide_password=False))
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    proxy.up()
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    app = create_app(Settings(database_url=proxied, instance_path=tmp_path))
    client = app.test_client()
    try:
        assert client.get("/readyz").status_code == 200
        proxy.down()
        gone = client.get("/readyz")
        assert gone.status_code == 503
        assert gone.json == {"status": "unready", "reason": "database unreachable"}
        assert client.get("/healthz").status_code == 200
        proxy.up()
        assert client.get("/readyz").status_code == 200
    finally:
        proxy.down()
        app.extensions["rolebridge"].engine.dispose()


def test_metrics_count_scim_requests_by_resource_method_and_status(app: Flask, scim: Scim) -> None:
    """Each SCIM request adds one to its (resource, method, status) counter and its histogram."""
    client = app.test_client()
    before = client.get("/metrics").get_data(as_text=True)
    assert scim.post("/Users", user("ann@acme.com")).status_code == 201
    assert scim.get("/Users/nope").status_code == 404
    assert scim.get("/Groups").status_code == 200
    after = client.get("/metrics").get_data(as_text=True)
    name = "rolebridge_scim_requests_total"
    for labels in (
        {"resource": "Users", "method": "POST", "status": "201"},
        {"resource": "Users", "method": "GET", "status": "404"},
        {"resource": "Groups", "method": "GET", "status": "200"},
    ):
        assert _metric(after, name, **labels) - _metric(before, name, **labels) == 1
    count = "rolebridge_scim_request_duration_seconds_count"
    assert (
        _metric(after, count, resource="Users", method="POST")
        - _metric(before, count, resource="Users", method="POST")
        == 1
    )


def test_metrics_report_runs_operations_held_plans_source_errors_and_outbox(
    app: Flask, session_factory: sessionmaker[Session]
) -> None:
    """What the database holds shows up in the scrape, whichever process wrote it."""
    with session_factory.begin() as s:
        org = Organisation(name="acme", role_model="aihub")
        s.add(org)
        s.flush()
        src = Source(org_id=org.id, name="okta", kind="okta")
        s.add(src)
        s.flush()
        s.add_all(
            [
                SyncRun(org_id=org.id, trigger="t", outcome="applied"),
                SyncRun(org_id=org.id, trigger="t", outcome="applied"),
                SyncRun(org_id=org.id, trigger="t", outcome="error"),
                SyncRun(
                    org_id=org.id,
                    source_id=src.id,
                    trigger="s",
                    outcome="failed",
                    error="transient: 503 from okta",
                ),
                SyncRun(org_id=org.id, source_id=src.id, trigger="s", outcome="suspicious"),
                AuditEntry(org_id=org.id, actor="t", op="invite", user="a@acme.com"),
                AuditEntry(org_id=org.id, actor="t", op="invite", user="b@acme.com"),
                SavedPlan(org_id=org.id, fingerprint="f", status="held", body={}),
                OutboxMessage(
                    org_id=org.id, kind="welcome", recipient="a@acme.com", subject="hi", body="b"
                ),
                ReconcileBacklog(org_id=org.id, idp_id="u-1"),
                ReconcileBacklog(org_id=org.id, idp_id="u-2"),
            ]
        )
    text = app.test_client().get("/metrics").get_data(as_text=True)
    assert _metric(text, "rolebridge_reconcile_runs_total", outcome="applied") == 2
    assert _metric(text, "rolebridge_reconcile_runs_total", outcome="error") == 1
    assert _metric(text, "rolebridge_operations_applied_total", op="invite") == 2
    assert _metric(text, "rolebridge_source_errors_total", kind="transient") == 1
    assert _metric(text, "rolebridge_source_errors_total", kind="data") == 1
    assert _metric(text, "rolebridge_plans_held") == 1
    assert _metric(text, "rolebridge_outbox_backlog") == 1
    assert _metric(text, "rolebridge_reconcile_backlog") == 2


def test_metrics_want_the_configured_token(make_app: MakeApp) -> None:
    """With ROLEBRIDGE_METRICS_TOKEN set, /metrics refuses other callers."""
    client = make_app(metrics_token="scrape-me-please").test_client()
    assert client.get("/metrics").status_code == 401
    wrong = client.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    right = client.get("/metrics", headers={"Authorization": "Bearer scrape-me-please"})
    assert right.status_code == 200


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """rolebridge's JSON log, written to a buffer for the test."""
    buffer = io.StringIO()
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    logs.configure_logging("INFO", stream=buffer)
    yield buffer
    root.handlers[:] = handlers
    root.setLevel(level)


def test_every_log_line_of_a_request_carries_its_request_id_and_org(
    app: Flask, scim: Scim, session_factory: sessionmaker[Session], log_lines: io.StringIO
) -> None:
    """A SCIM request's lines are JSON with the request id it was given and the token's org."""
    response = scim.post("/Users", user("bob@acme.com"), **{"X-Request-ID": "req-42"})
    assert response.status_code == 201
    assert response.headers["X-Request-ID"] == "req-42"
    with session_factory() as s:
        org_id = s.query(Organisation.id).filter_by(name="acme").scalar()
    lines = [json.loads(line) for line in log_lines.getvalue().splitlines()]
    mine = [line for line in lines if line["request_id"] == "req-42"]
    assert mine and all(line["org_id"] == org_id for line in mine)
    access = [line for line in mine if line["event"] == "request"]
    assert access[0]["path"] == "/scim/v2/Users" and access[0]["status"] == 201
    assert all({"timestamp", "level", "logger"} <= line.keys() for line in lines)


def test_a_request_id_that_is_not_a_plain_token_is_replaced(app: Flask) -> None:
    """An X-Request-ID with odd characters is not echoed; a fresh id is given instead."""
    response = app.test_client().get("/healthz", headers={"X-Request-ID": 'a b"<script>'})
    given = response.headers["X-Request-ID"]
    assert given != 'a b"<script>' and len(given) == 32


def test_redaction_masks_tokens_bearer_credentials_and_invite_links() -> None:
    """Anything shaped like a secret is masked before a line is written."""
    text = "got rbscim_AbCdEfGh12345678 and Bearer xyz.abc-DEF_123456 at /invite/tokTOKtok123"
    masked = logs.redact(text)
    assert masked == "got rbscim_[redacted] and Bearer [redacted] at /invite/[redacted]"


def test_scim_requests_over_the_rate_limit_get_429_with_retry_after_and_a_scim_error(
    make_app: MakeApp, session_factory: sessionmaker[Session]
) -> None:
    """The fourth request in a minute with one token is refused; another token still passes."""
    app = make_app(rate_limit_scim="3/minute")
    first = Scim(app.test_client(), make_org(session_factory, "acme"))
    second = Scim(app.test_client(), make_org(session_factory, "globex"))
    assert [first.get("/Users").status_code for _ in range(3)] == [200, 200, 200]
    refused = first.get("/Users")
    assert refused.status_code == 429
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert refused.content_type == SCIM
    body = refused.json
    assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert body["status"] == "429"
    assert second.get("/Users").status_code == 200


def test_admin_api_over_the_rate_limit_gets_a_problem_document(
    make_app: MakeApp, session_factory: sessionmaker[Session]
) -> None:
    """The admin API answers 429 as application/problem+json with Retry-After."""
    app = make_app(rate_limit_api="2/minute")
    with session_factory.begin() as s:
        org = Organisation(name="acme", role_model="aihub")
        s.add(org)
        s.flush()
        _, key = create_api_key(s, org.id, "admin", ["user", "admin"])
    client = app.test_client()
    headers = {"Authorization": f"Bearer {key}"}
    codes = [client.get("/api/v1/orgs/acme", headers=headers).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    refused = client.get("/api/v1/orgs/acme", headers=headers)
    assert refused.mimetype == "application/problem+json"
    assert refused.json["status"] == 429 and "Retry-After" in refused.headers


def test_a_body_over_the_size_limit_is_a_scim_413(scim: Scim) -> None:
    """A SCIM body larger than ROLEBRIDGE_MAX_BODY_BYTES is refused with a SCIM Error."""
    response = scim.post("/Users", user("big@acme.com", displayName="x" * 300_000))
    assert response.status_code == 413
    assert response.content_type == SCIM
    assert response.json["status"] == "413"


def test_bodies_that_are_not_json_are_refused_with_415(scim: Scim, app: Flask) -> None:
    """SCIM and the admin API refuse a text/plain body with 415 in their own error format."""
    refused = scim.client.post(
        "/scim/v2/Users",
        data="userName=eve",
        headers={"Authorization": f"Bearer {scim.token}", "Content-Type": "text/plain"},
    )
    assert refused.status_code == 415 and refused.content_type == SCIM
    api = app.test_client().post(
        "/api/v1/orgs/acme/mapping/validate", data="x", headers={"Content-Type": "text/plain"}
    )
    assert api.status_code == 415 and api.mimetype == "application/problem+json"


def test_admin_pages_send_a_strict_content_security_policy(app: Flask) -> None:
    """The sign-in page may not be framed and loads scripts only from rolebridge itself."""
    response = app.test_client().get("/admin/sign-in")
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_session_cookies_are_secure_when_served_over_https(make_app: MakeApp) -> None:
    """Behind https the admin session cookie is Secure and HSTS is sent."""
    app = make_app(base_url="https://rolebridge.example.com")
    response = app.test_client().get("/admin/sign-in")
    cookie = response.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


def test_session_cookies_are_not_marked_secure_over_plain_http(make_app: MakeApp) -> None:
    """On a plain-http base URL (local use) the cookie still works, so it is not Secure."""
    response = make_app().test_client().get("/admin/sign-in")
    assert "Secure" not in response.headers["Set-Cookie"]


def test_a_scim_path_with_an_encoded_newline_gets_a_scim_error(scim: Scim) -> None:
    """POST /Groups/a%0Ab used to fall out of the SCIM routes into an HTML 405 page."""
    response = scim.post("/Groups/a%0Ab", {"schemas": []})
    assert response.status_code == 405
    assert response.content_type == SCIM
    assert response.json["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]


def _redis_up() -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", 6379)) == 0


def test_web_processes_share_rate_limits_through_redis(
    make_app: MakeApp, session_factory: sessionmaker[Session]
) -> None:
    """Two apps on one Redis count a token's requests together: the limit holds across them."""
    if not _redis_up():
        pytest.skip("no Redis on 127.0.0.1:6379")
    redis = "redis://127.0.0.1:6379/0"
    first = make_app(redis_url=redis, rate_limit_scim="3/minute")
    second = make_app(redis_url=redis, rate_limit_scim="3/minute")
    token = make_org(session_factory, "acme")
    a, b = Scim(first.test_client(), token), Scim(second.test_client(), token)
    codes = [a.get("/Users").status_code, b.get("/Users").status_code, a.get("/Users").status_code]
    assert codes == [200, 200, 200]
    assert b.get("/Users").status_code == 429


def test_an_unreachable_redis_does_not_fail_requests(
    make_app: MakeApp, session_factory: sessionmaker[Session]
) -> None:
    """With Redis gone the limiter falls back to memory: requests are served and still limited."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    app = make_app(redis_url=f"redis://127.0.0.1:{closed}/0", rate_limit_scim="2/minute")
    scim = Scim(app.test_client(), make_org(session_factory, "acme"))
    assert [scim.get("/Users").status_code for _ in range(3)] == [200, 200, 429]


def test_a_plan_id_beyond_the_database_integer_range_is_not_found(
    app: Flask, session_factory: sessionmaker[Session]
) -> None:
    """GET /plans/<21 digits> answers a 404 problem (PostgreSQL used to overflow into a 500)."""
    with session_factory.begin() as s:
        org = Organisation(name="acme", role_model="aihub")
        s.add(org)
        s.flush()
        _, key = create_api_key(s, org.id, "admin", ["user", "admin"])
    response = app.test_client().get(
        "/api/v1/orgs/acme/plans/202813879376199352320", headers={"Authorization": f"Bearer {key}"}
    )
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"


def test_nul_characters_are_refused_before_they_reach_the_database(
    scim: Scim, app: Flask, session_factory: sessionmaker[Session]
) -> None:
    """A NUL in a SCIM body, filter or id is a SCIM 400/404 (PostgreSQL used to answer 500)."""
    body = user("nul@acme.com", displayName="a\u0000b")
    refused = scim.post("/Users", body)
    assert (refused.status_code, refused.json["scimType"]) == (400, "invalidValue")
    assert scim.get('/Users?filter=userName eq "a%00"').status_code == 400
    missing = scim.get("/Users/a%00b")
    assert missing.status_code == 404 and missing.content_type == SCIM
    assert scim.get("/Users").json["totalResults"] == 0
    escaped = scim.post("/Users", user("slash@acme.com", displayName="a\\\\u0000 is text"))
    assert escaped.status_code == 201


def test_nul_characters_are_refused_by_the_admin_api(
    app: Flask, session_factory: sessionmaker[Session]
) -> None:
    """The admin API answers a problem document for a NUL in the path or the body."""
    with session_factory.begin() as s:
        org = Organisation(name="acme", role_model="aihub")
        s.add(org)
        s.flush()
        _, key = create_api_key(s, org.id, "admin", ["user", "admin"])
    client = app.test_client()
    headers = {"Authorization": f"Bearer {key}"}
    path = client.get("/api/v1/orgs/ac%00me", headers=headers)
    assert path.status_code == 404 and path.mimetype == "application/problem+json"
    body = client.post("/api/v1/orgs/acme/workspaces", json={"name": "w\u0000"}, headers=headers)
    assert body.status_code == 400 and body.mimetype == "application/problem+json"


def test_the_invite_page_never_sends_its_url_as_a_referer(app: Flask) -> None:
    """The invite page (its URL holds the token) says no-referrer and may not be framed."""
    response = app.test_client().get("/invite/not-a-real-token")
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.postgres
def test_readyz_is_unready_quickly_when_the_database_hangs(engine: Engine, tmp_path: Path) -> None:
    """A database that accepts connections and never answers makes /readyz 503, not a hang."""
    if engine.dialect.name != "postgresql":
        pytest.skip("the proxy stands in for a network database")
    url = make_url(engine.url.render_as_string(hide_password=False))
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    proxy.up()
    proxied = url.set(host="127.0.0.1", port=proxy.port, query={"connect_timeout": "2"})
    app = create_app(
        Settings(database_url=proxied.render_as_string(hide_password=False), instance_path=tmp_path)
    )
    try:
        client = app.test_client()
        assert client.get("/readyz").status_code == 200
        app.extensions["rolebridge"].engine.dispose()  # new connections from now on
        proxy.blackhole = True
        started = time.monotonic()
        hung = client.get("/readyz")
        assert hung.status_code == 503 and time.monotonic() - started < 10
        proxy.blackhole = False
        assert client.get("/readyz").status_code == 200
    finally:
        proxy.down()
        app.extensions["rolebridge"].engine.dispose()
