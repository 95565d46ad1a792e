"""The Microsoft Graph source against a loopback fake Graph: paging, 429s, delta, 410."""

from __future__ import annotations

import json

import pytest
from joserfc.jwk import RSAKey

from mappings.directory import Directory
from sync.sources.base import (
    ConfigurationSourceError,
    RetryPolicy,
    SnapshotError,
    TransientSourceError,
)
from sync.sources.graph import GraphConfig, GraphSource
from tests.fakes.graph import FakeGraph

FAST = RetryPolicy(attempts=3, base_delay=0.01, max_delay=5.0)


def _config(fake: FakeGraph, **kw: object) -> GraphConfig:
    values: dict[str, object] = {
        "tenant_id": fake.state.tenant,
        "client_id": "app-1",
        "client_secret": "s3cret-value",
        "authority": fake.url,
        "graph_url": fake.url,
        "page_size": 2,
    }
    values.update(kw)
    return GraphConfig(**values)  # type: ignore[arg-type]


def _source(fake: FakeGraph, retry: RetryPolicy = FAST, **kw: object) -> GraphSource:
    return GraphSource(_config(fake, **kw), retry=retry)


def _members(directory: Directory) -> dict[str, set[str]]:
    """Group name -> user names, following nested groups."""
    users = {u.id: u.user_name for u in directory.users}
    groups = {g.id: g for g in directory.groups}

    def expand(gid: str, seen: frozenset[str] = frozenset()) -> set[str]:
        out: set[str] = set()
        for m in groups[gid].members:
            if m.value in users:
                out.add(users[m.value])
            elif m.value in groups and m.value not in seen:
                out |= expand(m.value, seen | {gid})
        return out

    return {g.display_name: expand(g.id) for g in directory.groups}


EXPECTED = {
    "SOM Owners": {"ann@acme.com"},
    "Contractors": {"dan@acme.com"},
    "SOM Editors": {"bob@acme.com", "cat@acme.com", "dan@acme.com"},
    "SOM Viewers": {"eve@acme.com", "dan@acme.com"},
}


def test_a_full_read_follows_next_links_and_flattens_nested_groups(graph: FakeGraph) -> None:
    """transitiveMembers puts dan in SOM Editors through Contractors."""
    snapshot = _source(graph).fetch()
    assert _members(snapshot.directory) == EXPECTED
    assert any("$skiptoken" in line for line in graph.state.log)
    listings = [line for line in graph.state.log if line.startswith("/v1.0/users?")]
    assert listings and all("$select" in line for line in listings)


def test_a_disabled_account_is_an_inactive_user(graph: FakeGraph) -> None:
    """accountEnabled false maps to an inactive directory user."""
    graph.add_user("aad-2", "bob@acme.com", enabled=False)
    users = {u.user_name: u.active for u in _source(graph).fetch().directory.users}
    assert users["bob@acme.com"] is False and users["ann@acme.com"] is True


def test_a_certificate_assertion_is_accepted_and_a_wrong_secret_is_not(graph: FakeGraph) -> None:
    """The app may prove itself with a certificate; a bad secret is a configuration error."""
    key = RSAKey.generate_key(2048, private=True)
    graph.state.certificates["app-2"] = RSAKey.import_key(key.as_dict(private=False))
    cert = _source(
        graph,
        client_id="app-2",
        client_secret=None,
        certificate_key=key.as_pem(private=True).decode(),
        certificate_thumbprint="dGh1bWJwcmludA",
    )
    assert len(cert.fetch().directory.users) == 5
    with pytest.raises(ConfigurationSourceError, match=r"invalid_client.*AADSTS7000215"):
        _source(graph, client_secret="wrong").fetch()


def test_a_429_with_a_fractional_retry_after_is_honoured(graph: FakeGraph) -> None:
    """Retry-After: 0.25 means a quarter of a second, not zero and not one."""
    graph.add_fault("/v1.0/groups", page=2, status=429, headers={"Retry-After": "0.25"})
    slept: list[float] = []
    retry = RetryPolicy(attempts=3, base_delay=0.01, max_delay=5.0, sleep=slept.append)
    assert _members(_source(graph, retry=retry).fetch().directory) == EXPECTED
    assert slept == [0.25]


def test_a_429_without_retry_after_backs_off_exponentially_with_jitter(graph: FakeGraph) -> None:
    """Two refusals: the second wait is about twice the first, never more than 1.5x that."""
    graph.add_fault("/v1.0/users", page=1, status=429, times=2)
    slept: list[float] = []
    retry = RetryPolicy(attempts=3, base_delay=0.01, max_delay=5.0, sleep=slept.append)
    assert len(_source(graph, retry=retry).fetch().directory.users) == 5
    assert len(slept) == 2
    assert 0.01 <= slept[0] <= 0.015 and 0.02 <= slept[1] <= 0.03


def test_a_500_on_any_page_past_the_retries_gives_no_snapshot(graph: FakeGraph) -> None:
    """A failing transitiveMembers page aborts the whole read."""
    graph.add_fault("/v1.0/groups/g-editors/transitiveMembers", page=2, status=503, times=9)
    with pytest.raises(TransientSourceError, match="answered 503"):
        _source(graph).fetch()


def test_an_empty_page_that_still_has_a_next_link_is_not_the_end(graph: FakeGraph) -> None:
    """Graph may send an empty value array with a nextLink; the read goes on."""
    graph.add_fault("/v1.0/users", page=2, status=0)
    assert len(_source(graph).fetch().directory.users) == 5


def test_delta_rounds_apply_changes_to_the_previous_snapshot(graph: FakeGraph) -> None:
    """Rename, member moves and a deleted user arrive as changes and give the true state."""
    source = _source(graph, delta=True)
    first = source.fetch()
    assert _members(first.directory) == EXPECTED
    graph.state.groups["g-viewers"] = "SOM Readers"
    graph.state.members["g-editors"].remove("aad-3")
    graph.state.members["g-owners"].append("aad-2")
    graph.remove_user("aad-5")
    graph.add_user("aad-6", "fay@acme.com")
    graph.state.members["g-viewers"].append("aad-6")
    calls = len(graph.state.log)
    second = source.fetch(first.directory, first.cursor)
    assert _members(second.directory) == {
        "SOM Owners": {"ann@acme.com", "bob@acme.com"},
        "Contractors": {"dan@acme.com"},
        "SOM Editors": {"bob@acme.com", "dan@acme.com"},
        "SOM Readers": {"dan@acme.com", "fay@acme.com"},
    }
    assert "eve@acme.com" not in {u.user_name for u in second.directory.users}
    listings = [line for line in graph.state.log[calls:] if not line.endswith("/$count")]
    assert all("deltatoken" in line or "skiptoken" in line for line in listings)
    assert second.cursor != first.cursor


def test_one_group_spread_over_several_delta_pages_is_merged(graph: FakeGraph) -> None:
    """With one member per item, a group's members arrive on separate pages."""
    graph.state.members_per_item = 1
    graph.state.delta_page_size = 1
    snapshot = _source(graph, delta=True).fetch()
    assert _members(snapshot.directory) == EXPECTED
    assert json.loads(snapshot.cursor or "{}").keys() == {"users", "groups"}


def test_a_410_on_a_delta_link_falls_back_to_a_full_resync(graph: FakeGraph) -> None:
    """Expired delta state is read again from scratch, not patched onto the old snapshot."""
    source = _source(graph, delta=True)
    first = source.fetch()
    graph.expire_delta_tokens()
    graph.state.members["g-owners"] = ["aad-2"]
    second = source.fetch(first.directory, first.cursor)
    assert source.resynced
    assert _members(second.directory)["SOM Owners"] == {"bob@acme.com"}
    assert second.cursor and second.cursor != first.cursor


def test_a_failed_delta_page_gives_no_snapshot(graph: FakeGraph) -> None:
    """A delta round is all or nothing like a full read."""
    graph.add_fault("/v1.0/groups/delta", page=2, status=500, times=9)
    with pytest.raises(TransientSourceError):
        _source(graph, delta=True).fetch()


def test_a_group_deleted_before_it_is_counted_makes_the_snapshot_unusable(
    graph: FakeGraph,
) -> None:
    """Listed, read, then gone when its $count is asked: a data error, not a wrong URL."""
    graph.when("/v1.0/users/$count", lambda: graph.state.groups.pop("g-viewers"))
    with pytest.raises(SnapshotError, match=r"g-viewers/transitiveMembers/\$count was gone"):
        _source(graph, concurrency=1).fetch()
