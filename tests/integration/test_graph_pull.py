"""Pull runs from a fake Microsoft Graph: end to end, delta cursors, 410 resync and faults."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker

from sync.models import Source
from sync.pull import PullResult, run_pull
from sync.sources.base import RetryPolicy
from tests.fakes.graph import FakeGraph
from tests.integration.pullsetup import SECRET_KEY, mirror_size, pull_org, roles

FAST = RetryPolicy(attempts=3, base_delay=0.01, max_delay=5.0)


def _setup(
    factory: sessionmaker[Session],
    graph: FakeGraph,
    preset: str = "shareofmodel",
    delta: bool = False,
) -> tuple[int, int]:
    config = {
        "tenant_id": graph.state.tenant,
        "client_id": "app-1",
        "authority": graph.url,
        "graph_url": graph.url,
        "page_size": 2,
        "delta": delta,
        "max_user_drop": "25%",
    }
    return pull_org(factory, preset, "graph", config, "s3cret-value")


def _pull(factory: sessionmaker[Session], source_id: int, **kw: object) -> PullResult:
    return run_pull(factory, source_id, secret_key=SECRET_KEY, retry=FAST, **kw)  # type: ignore[arg-type]


def _cursor(factory: sessionmaker[Session], source_id: int) -> str | None:
    with factory() as s:
        source = s.get(Source, source_id)
        assert source is not None
        return source.delta_link


@pytest.mark.parametrize(
    ("preset", "roles_of_dan"), [("shareofmodel", "editor"), ("aihub", "user")]
)
def test_a_graph_pull_reconciles_nested_groups_end_to_end(
    session_factory: sessionmaker[Session], graph: FakeGraph, preset: str, roles_of_dan: str
) -> None:
    """dan is an editor only through the nested Contractors group."""
    org_id, source_id = _setup(session_factory, graph, preset)
    result = _pull(session_factory, source_id)
    assert result.outcome == "applied", result.error
    members = roles(session_factory, org_id)
    assert len(members) == 5
    assert members["dan@acme.com"] == (roles_of_dan, "invited")
    assert _pull(session_factory, source_id).outcome == "empty"


def test_delta_pulls_store_the_cursor_and_apply_only_changes(
    session_factory: sessionmaker[Session], graph: FakeGraph
) -> None:
    """The second run reads delta links only, and its result equals the real directory."""
    org_id, source_id = _setup(session_factory, graph, delta=True)
    assert _pull(session_factory, source_id).outcome == "applied"
    first_cursor = _cursor(session_factory, source_id)
    assert first_cursor and "deltatoken" in first_cursor
    graph.state.members["g-owners"].append("aad-3")
    graph.remove_user("aad-5")
    calls = len(graph.state.log)
    result = _pull(session_factory, source_id)
    assert result.outcome == "applied", result.error
    members = roles(session_factory, org_id)
    assert members["cat@acme.com"] == ("owner", "invited")
    assert "eve@acme.com" not in members
    api_calls = [c for c in graph.state.log[calls:] if c.startswith("/v1.0/")]
    listings = [c for c in api_calls if not c.endswith("/$count")]  # one count proves the users
    assert listings and all("deltatoken" in c or "skiptoken" in c for c in listings)
    assert _cursor(session_factory, source_id) not in (None, first_cursor)


def test_a_410_on_the_stored_delta_link_resyncs_fully_and_still_applies(
    session_factory: sessionmaker[Session], graph: FakeGraph
) -> None:
    """Expired delta state: the run reads everything again instead of failing or guessing."""
    org_id, source_id = _setup(session_factory, graph, delta=True)
    _pull(session_factory, source_id)
    graph.expire_delta_tokens()
    graph.state.members["g-owners"].append("aad-2")
    result = _pull(session_factory, source_id)
    assert result.outcome == "applied", result.error
    assert roles(session_factory, org_id)["bob@acme.com"] == ("owner", "invited")


def test_a_failed_delta_round_keeps_the_cursor_and_removes_no_one(
    session_factory: sessionmaker[Session], graph: FakeGraph
) -> None:
    """A delta page failing past the retries: same cursor next time, members untouched."""
    org_id, source_id = _setup(session_factory, graph, delta=True)
    _pull(session_factory, source_id)
    cursor, before = _cursor(session_factory, source_id), roles(session_factory, org_id)
    graph.remove_user("aad-5")
    graph.add_fault("/v1.0/groups/delta", page=1, status=503, times=99)
    result = _pull(session_factory, source_id)
    assert result.outcome == "failed" and "answered 503" in (result.error or "")
    assert roles(session_factory, org_id) == before
    assert _cursor(session_factory, source_id) == cursor


@pytest.mark.parametrize(
    "path", ["/v1.0/users", "/v1.0/groups", "/v1.0/groups/g-editors/transitiveMembers"]
)
def test_a_graph_fault_on_any_listing_removes_no_one(
    session_factory: sessionmaker[Session], graph: FakeGraph, path: str
) -> None:
    """eve leaves; a 500 on page 2 of any listing leaves her and everyone else in place."""
    org_id, source_id = _setup(session_factory, graph)
    _pull(session_factory, source_id)
    before, mirror = roles(session_factory, org_id), mirror_size(session_factory, source_id)
    graph.remove_user("aad-5")
    graph.add_fault(path, page=2, status=500, times=99)
    result = _pull(session_factory, source_id)
    assert result.outcome == "failed" and "answered 500" in (result.error or "")
    assert roles(session_factory, org_id) == before
    assert mirror_size(session_factory, source_id) == mirror


def test_throttling_within_the_budget_gives_a_complete_sync(
    session_factory: sessionmaker[Session], graph: FakeGraph
) -> None:
    """429 with Retry-After 0.05 and 429 without it: the removal of eve is applied."""
    org_id, source_id = _setup(session_factory, graph)
    _pull(session_factory, source_id)
    graph.remove_user("aad-5")
    graph.add_fault("/v1.0/users", page=2, status=429, headers={"Retry-After": "0.05"})
    graph.add_fault("/v1.0/groups", page=1, status=429)
    result = _pull(session_factory, source_id)
    assert result.outcome == "applied", result.error
    assert "eve@acme.com" not in roles(session_factory, org_id)
