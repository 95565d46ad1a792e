"""The SCIM pull source against a loopback SCIM server: paging, auth and truncation."""

from __future__ import annotations

import pytest

from mappings.directory import Directory
from sync.sources.base import (
    ConfigurationSourceError,
    RetryPolicy,
    SnapshotError,
    TransientSourceError,
)
from sync.sources.scimpull import ScimPullConfig, ScimPullSource
from tests.fakes.scim import FakeScim
from tests.fakes.seed import scim_directory

FAST = RetryPolicy(attempts=3, base_delay=0.01, max_delay=5.0)


def _source(fake: FakeScim, token: str | None = None) -> ScimPullSource:
    config = ScimPullConfig(base_url=fake.url, token=token or fake.token, page_size=2)
    return ScimPullSource(config, retry=FAST)


def test_a_scim_pull_pages_through_users_and_groups(scim: FakeScim) -> None:
    """Pages of two give back exactly the served directory."""
    snapshot = _source(scim).fetch()
    assert snapshot.directory == Directory.from_scim(scim_directory())
    assert snapshot.pages == 7, "users 3, groups 2, and groups read again 2"


def test_a_server_returning_fewer_than_asked_is_still_read_completely(scim: FakeScim) -> None:
    """itemsPerPage below count is allowed; startIndex moves by what was returned."""
    scim.max_count = 1
    assert len(_source(scim).fetch().directory.users) == 5


def test_a_page_that_stops_short_of_the_total_makes_the_snapshot_unusable(scim: FakeScim) -> None:
    """An empty page before totalResults is reached is a truncation, not the end."""
    scim.add_fault(
        "/scim/v2/Users",
        page=2,
        status=200,
        body={
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
            "totalResults": 5,
            "startIndex": 3,
            "itemsPerPage": 0,
            "Resources": [],
        },
    )
    with pytest.raises(SnapshotError, match="stopped at 2 of 5 users"):
        _source(scim).fetch()


def test_a_500_past_the_retries_and_a_wrong_token_are_reported(scim: FakeScim) -> None:
    """Transient and configuration failures keep their kinds."""
    scim.add_fault("/scim/v2/Groups", page=2, status=500, times=9)
    with pytest.raises(TransientSourceError):
        _source(scim).fetch()
    with pytest.raises(ConfigurationSourceError, match="refused the credentials"):
        _source(scim, token="nope").fetch()
