"""Admin API: test a pulled source's connection (one authenticated request, the outcome in
words, never the secret) and edit some of its settings with PATCH (secrets write-only,
every change an audit entry naming the fields, bad input changing nothing)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from mappings.authority import Caller
from sync.models import AuditEntry, Source
from sync.services import sources as source_services
from sync.sources.probe import ProbeResult
from tests.e2e.admin.conftest import Seeded
from tests.fakes.graph import FakeGraph
from tests.fakes.okta import FakeOkta
from tests.fakes.scim import FakeScim
from tests.fakes.server import Staller, closed_port_url


def _add(client: FlaskClient, org: Seeded, name: str, kind: str, config: Any, secret: str) -> None:
    body = {"name": name, "kind": kind, "config": config, "secret": secret}
    r = client.post("/api/v1/orgs/acme/sources", headers=org.auth("owner"), json=body)
    assert r.status_code == 201, r.json


def _test(client: FlaskClient, org: Seeded, name: str, role: str = "owner") -> Any:
    r = client.post(f"/api/v1/orgs/acme/sources/{name}/test", headers=org.auth(role))
    assert r.status_code == 200, r.json
    return r.json


def _patch(client: FlaskClient, org: Seeded, name: str, body: Any) -> Any:
    return client.patch(f"/api/v1/orgs/acme/sources/{name}", headers=org.auth("owner"), json=body)


def _audit(factory: sessionmaker[Session], op: str) -> list[dict[str, Any]]:
    with factory() as s:
        rows = s.scalars(select(AuditEntry).where(AuditEntry.op == op).order_by(AuditEntry.id))
        return [dict(row.detail) | {"actor": row.actor} for row in rows]


def test_a_scim_source_answers_ok_and_a_wrong_token_is_named(
    client: FlaskClient,
    seed: Callable[..., Seeded],
    scim_source: FakeScim,
    session_factory: sessionmaker[Session],
) -> None:
    """The right token: ok; a token the server refuses: the 401 in words, never the token;
    each test is a test_source audit entry with its outcome."""
    org = seed("acme", "soterai", ["owner"])
    _add(client, org, "hr", "scim-pull", {"base_url": scim_source.url}, scim_source.token)
    good = _test(client, org, "hr")
    assert good["ok"] is True and "works" in good["detail"]
    assert _patch(client, org, "hr", {"secret": "not-the-token"}).status_code == 200
    bad = _test(client, org, "hr")
    assert bad["ok"] is False
    assert bad["detail"].startswith("the bearer token was refused (401)")
    assert "check the bearer token" in bad["detail"] and "not-the-token" not in bad["detail"]
    entries = _audit(session_factory, "test_source")
    assert [(e["source"], e["ok"]) for e in entries] == [("hr", True), ("hr", False)]
    assert all(e["actor"].endswith(":owner key") for e in entries)
    assert "not-the-token" not in str(entries)


def test_an_unreachable_port_and_an_answer_that_is_not_json(
    client: FlaskClient, seed: Callable[..., Seeded], scim_source: FakeScim
) -> None:
    """Nothing listening: "could not reach ...: connection refused"; a web page instead of
    the API: "the response was not JSON"."""
    org = seed("acme", "soterai", ["owner"])
    nowhere = closed_port_url()
    _add(client, org, "gone", "scim-pull", {"base_url": nowhere + "/scim/v2"}, "t")
    assert _test(client, org, "gone") == {
        "ok": False,
        "detail": f"could not reach {nowhere}: connection refused",
    }
    _add(client, org, "html", "scim-pull", {"base_url": scim_source.url}, scim_source.token)
    scim_source.add_fault("/scim/v2/Groups", status=200, body="<html><body>Sign in</body></html>")
    page = _test(client, org, "html")
    assert page["ok"] is False and page["detail"].startswith("the response was not JSON")


def test_a_server_that_stalls_times_out(
    client: FlaskClient, seed: Callable[..., Seeded], session_factory: sessionmaker[Session]
) -> None:
    """A server that accepts and never answers: "timed out after N s", no traceback."""
    org = seed("acme", "soterai", ["owner"])
    staller = Staller()
    try:
        _add(client, org, "slow", "scim-pull", {"base_url": staller.url + "/scim/v2"}, "t")
        result = source_services.test_source(
            session_factory,
            org.id,
            Caller("cli", None),
            "slow",
            secret_key="test-secret",
            timeout=0.5,
        )
    finally:
        staller.close()
    assert result.ok is False
    assert result.detail.startswith(f"GET {staller.url}/scim/v2/Groups timed out after 0.5 s")


def test_a_token_endpoint_that_stalls_times_out_too(
    client: FlaskClient, seed: Callable[..., Seeded], session_factory: sessionmaker[Session]
) -> None:
    """Graph's token is fetched first: an authority that never answers times out within
    the test's timeout (the OAuth session is bounded too), naming the token request."""
    org = seed("acme", "soterai", ["owner"])
    staller, graph = Staller(), FakeGraph()
    try:
        config = {"tenant_id": "t-1", "client_id": "app-1", "authority": staller.url,
                  "graph_url": graph.url}  # fmt: skip
        _add(client, org, "entra", "graph", config, "s3cret-value")
        result = source_services.test_source(
            session_factory, org.id, Caller("cli", None), "entra", secret_key="test-secret",
            timeout=0.5,
        )  # fmt: skip
    finally:
        staller.close()
        graph.close()
    assert result == ProbeResult(
        False,
        f"POST {staller.url}/t-1/oauth2/v2.0/token timed out after 0.5 s: check that the "
        "server is up",
    )


def test_okta_and_graph_sources_are_tested_with_their_own_credentials(
    client: FlaskClient, seed: Callable[..., Seeded]
) -> None:
    """Okta's API token and Graph's client secret (a token fetched first): ok; a wrong
    one of each is refused in words naming what to check."""
    org = seed("acme", "soterai", ["owner"])
    okta, graph = FakeOkta(), FakeGraph()
    graph.state.secrets["app-1"] = "s3cret-value"
    try:
        _add(client, org, "okta", "okta", {"org_url": okta.url}, okta.state.api_token)
        graph_config = {
            "tenant_id": graph.state.tenant,
            "client_id": "app-1",
            "authority": graph.url,
            "graph_url": graph.url,
        }
        _add(client, org, "entra", "graph", graph_config, "s3cret-value")
        assert _test(client, org, "okta")["ok"] is True
        assert _test(client, org, "entra")["ok"] is True
        _patch(client, org, "okta", {"secret": "wrong-okta-token"})
        _patch(client, org, "entra", {"secret": "wrong-graph-secret"})
        okta_bad, graph_bad = _test(client, org, "okta"), _test(client, org, "entra")
    finally:
        okta.close()
        graph.close()
    assert okta_bad["ok"] is False and "the API token was refused (401)" in okta_bad["detail"]
    assert graph_bad["ok"] is False and "refused the client" in graph_bad["detail"]
    assert "check the client id and its secret" in graph_bad["detail"]
    assert "wrong-graph-secret" not in graph_bad["detail"]


def test_a_member_may_not_test_a_source(
    client: FlaskClient, seed: Callable[..., Seeded], scim_source: FakeScim
) -> None:
    """A key whose role manages no one: 403, and no request reaches the IdP."""
    org = seed("acme", "soterai", ["owner", "member"])
    _add(client, org, "hr", "scim-pull", {"base_url": scim_source.url}, scim_source.token)
    r = client.post("/api/v1/orgs/acme/sources/hr/test", headers=org.auth("member"))
    assert r.status_code == 403
    missing = client.post("/api/v1/orgs/acme/sources/nope/test", headers=org.auth("owner"))
    assert missing.status_code == 404


def test_patch_changes_only_what_is_given_and_audits_the_fields(
    client: FlaskClient,
    seed: Callable[..., Seeded],
    scim_source: FakeScim,
    session_factory: sessionmaker[Session],
) -> None:
    """PATCH the URL, schedule and pause: those change, the secret stays; the audit entry
    names the fields and the actor, never a secret; a new secret is only "secret"."""
    org = seed("acme", "soterai", ["owner"])
    _add(client, org, "hr", "scim-pull", {"base_url": scim_source.url}, scim_source.token)
    with session_factory() as s:
        sealed = s.scalars(select(Source.secret)).one()
    edit = {"config": {"base_url": scim_source.url + "/"}, "schedule": "1h", "paused": True}
    r = _patch(client, org, "hr", edit)
    assert r.status_code == 200, r.json
    assert r.json["config"]["base_url"] == scim_source.url + "/"
    assert (r.json["schedule"], r.json["enabled"], r.json["has_secret"]) == ("1h", False, True)
    with session_factory() as s:
        assert s.scalars(select(Source.secret)).one() == sealed
    r = _patch(client, org, "hr", {"secret": "brand-new-token", "schedule": None})
    assert r.status_code == 200 and r.json["schedule"] is None
    assert "brand-new-token" not in r.get_data(as_text=True)
    assert _patch(client, org, "hr", {}).status_code == 200  # nothing to change, no entry
    entries = _audit(session_factory, "update_source")
    assert [e["changed"] for e in entries] == [
        ["base_url", "schedule", "paused"],
        ["schedule", "secret"],
    ]
    assert entries[0]["config"] == {"base_url": scim_source.url + "/"}
    assert all(e["actor"].endswith(":owner key") for e in entries)
    assert "brand-new-token" not in str(entries) and scim_source.token not in str(entries)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"config": {"org_url": "https://x.okta.com"}}, "config.org_url"),
        ({"config": {"base_url": "ftp://x"}}, "config.base_url"),
        ({"config": {"base_url": None}}, "config.base_url"),
        ({"schedule": "every so often"}, "schedule"),
        ({"secret": "env:HOME"}, "secret"),
        ({"secret": "   "}, "secret"),
        ({"config": {"max_user_drop": "lots"}}, "max_user_drop"),
        ({"paused": "maybe"}, "paused"),
    ],
)
def test_bad_patches_name_the_field_and_change_nothing(
    client: FlaskClient,
    seed: Callable[..., Seeded],
    scim_source: FakeScim,
    session_factory: sessionmaker[Session],
    body: dict[str, Any],
    field: str,
) -> None:
    """A setting the kind lacks, a bad URL, a required setting removed, a bad schedule, an
    env: reference, a bad drop limit, a non-boolean: 422 naming it; nothing changed."""
    org = seed("acme", "soterai", ["owner"])
    _add(client, org, "hr", "scim-pull", {"base_url": scim_source.url}, scim_source.token)
    before = client.get("/api/v1/orgs/acme/sources", headers=org.auth("owner")).json
    r = _patch(client, org, "hr", body)
    assert r.status_code == 422, r.json
    assert field in r.json["field"]
    assert client.get("/api/v1/orgs/acme/sources", headers=org.auth("owner")).json == before
    assert _audit(session_factory, "update_source") == []
