"""Pull runs from a SCIM 2.0 server: end to end and a truncated listing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import requests
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from scim_server import create_app
from sync.credentials.tokens import create_token
from sync.pull import run_pull
from sync.settings import Settings
from sync.sources.base import RetryPolicy
from sync.store.mappings import save_mapping
from sync.store.orgs import create_org
from tests.fakes.scim import FakeScim
from tests.fakes.seed import scim_directory
from tests.fakes.server import LoopbackServer
from tests.integration.pullsetup import MAPPINGS, SECRET_KEY, pull_org, roles

FAST = RetryPolicy(attempts=3, base_delay=0.01, max_delay=5.0)


def test_a_scim_pull_feeds_the_org_and_a_truncated_read_removes_no_one(
    session_factory: sessionmaker[Session], scim: FakeScim
) -> None:
    """Five people arrive; later a listing stopping short changes nothing."""
    config = {"base_url": scim.url, "page_size": 2}
    org_id, source_id = pull_org(session_factory, "soterai", "scim-pull", config, scim.token)
    first = run_pull(session_factory, source_id, secret_key=SECRET_KEY, retry=FAST)
    assert first.outcome == "applied", first.error
    before = roles(session_factory, org_id)
    assert set(before) == {f"{n}@acme.com" for n in ("ann", "bob", "cat", "dan", "eve")}
    scim.add_fault(
        "/scim/v2/Users",
        page=2,
        status=200,
        times=9,
        body={"totalResults": 5, "startIndex": 3, "itemsPerPage": 0, "Resources": []},
    )
    second = run_pull(session_factory, source_id, secret_key=SECRET_KEY, retry=FAST)
    assert second.outcome == "failed" and "stopped at 2 of 5 users" in (second.error or "")
    assert roles(session_factory, org_id) == before


def test_one_rolebridge_feeds_another_through_its_scim_endpoint(
    session_factory: sessionmaker[Session], engine: Engine, tmp_path: Path
) -> None:
    """Upstream's /scim/v2 (the real app over HTTP) is the downstream org's pulled source."""
    settings = Settings(
        database_url=engine.url.render_as_string(hide_password=False), instance_path=tmp_path
    )
    app = create_app(settings)
    server = LoopbackServer(app)
    try:
        with session_factory.begin() as s:
            upstream = create_org(s, "Upstream", "aihub")
            save_mapping(s, upstream.id, MAPPINGS["aihub"])
        with session_factory.begin() as s:
            _, token = create_token(s, "Upstream")
        base = f"{server.url}/scim/v2"
        _provision(base, token, scim_directory())
        config = {"base_url": base, "page_size": 2}
        org_id, source_id = pull_org(session_factory, "soterai", "scim-pull", config, token)
        result = run_pull(session_factory, source_id, secret_key=SECRET_KEY, retry=FAST)
        assert result.outcome == "applied", result.error
        assert roles(session_factory, org_id) == {
            "ann@acme.com": ("owner", "invited"),
            **{f"{n}@acme.com": ("manager", "invited") for n in ("bob", "cat", "dan")},
            "eve@acme.com": ("member", "invited"),
        }
    finally:
        server.close()
        app.extensions["rolebridge"].engine.dispose()


def _provision(base: str, token: str, directory: dict[str, Any]) -> None:
    """POST the users, then the groups with the ids the server gave the users."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"}
    ids: dict[str, str] = {}
    for user in directory["users"]:
        body = {k: v for k, v in user.items() if k != "id"}
        body["schemas"] = ["urn:ietf:params:scim:schemas:core:2.0:User"]
        body["externalId"] = user["id"]
        response = requests.post(f"{base}/Users", json=body, headers=headers, timeout=10)
        assert response.status_code == 201, response.text
        ids[user["id"]] = response.json()["id"]
    for group in directory["groups"]:
        body = {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": group["displayName"],
            "members": [{"value": ids[m["value"]]} for m in group["members"]],
        }
        response = requests.post(f"{base}/Groups", json=body, headers=headers, timeout=10)
        assert response.status_code == 201, response.text
