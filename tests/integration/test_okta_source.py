"""The Okta source against a loopback fake Okta: paging, auth, rate limits and faults."""

from __future__ import annotations

import time

import pytest
from joserfc.jwk import RSAKey

from mappings.directory import Directory
from sync.sources.base import (
    ConfigurationSourceError,
    RetryPolicy,
    SnapshotError,
    TransientSourceError,
)
from sync.sources.okta import OktaConfig, OktaSource
from tests.fakes.okta import FakeOkta
from tests.fakes.seed import PEOPLE

FAST = RetryPolicy(attempts=3, base_delay=0.01, max_delay=5.0)


def _source(
    fake: FakeOkta, page_size: int = 2, retry: RetryPolicy = FAST, concurrency: int = 4
) -> OktaSource:
    config = OktaConfig(
        org_url=fake.url,
        api_token=fake.state.api_token,
        page_size=page_size,
        concurrency=concurrency,
    )
    return OktaSource(config, retry=retry)


def _members(directory: Directory) -> dict[str, set[str]]:
    users = {u.id: u.user_name for u in directory.users}
    return {g.display_name: {users[m.value] for m in g.members} for g in directory.groups}


def test_an_api_token_pull_reads_every_page_of_users_groups_and_members(okta: FakeOkta) -> None:
    """With two items per page every listing spans pages, and the snapshot is whole."""
    snapshot = _source(okta).fetch()
    assert sorted(u.user_name for u in snapshot.directory.users) == sorted(
        login for _, login in PEOPLE
    )
    assert _members(snapshot.directory) == {
        "SOM Owners": {"ann@acme.com"},
        "SOM Editors": {"bob@acme.com", "cat@acme.com", "dan@acme.com"},
        "SOM Viewers": {"eve@acme.com", "dan@acme.com"},
    }
    assert snapshot.pages >= 8
    assert any("after=" in line for line in okta.state.log), "the next links were followed"


def test_deprovisioned_and_suspended_members_are_kept_as_inactive_users(okta: FakeOkta) -> None:
    """Okta's user list omits DEPROVISIONED users; they come back as inactive group members."""
    okta.add_user("00u2", "bob@acme.com", status="DEPROVISIONED")
    okta.add_user("00u3", "cat@acme.com", status="SUSPENDED")
    directory = _source(okta).fetch().directory
    active = {u.user_name: u.active for u in directory.users}
    assert active["bob@acme.com"] is False
    assert active["cat@acme.com"] is False
    assert active["dan@acme.com"] is True
    assert "bob@acme.com" in _members(directory)["SOM Editors"]


def test_a_wrong_api_token_is_a_configuration_error_naming_the_refusal(okta: FakeOkta) -> None:
    """A 401 is not retried: the run stops and says the credentials were refused."""
    source = OktaSource(OktaConfig(org_url=okta.url, api_token="wrong"), retry=FAST)
    with pytest.raises(ConfigurationSourceError, match=r"refused the credentials.*Invalid token"):
        source.fetch()
    assert len(okta.state.log) == 1


def test_oauth_private_key_jwt_gets_a_token_and_pulls(okta: FakeOkta) -> None:
    """The client assertion is signed with the app's key and addressed to the token URL."""
    key = RSAKey.generate_key(2048, private=True)
    okta.register_client("0oaService", RSAKey.import_key(key.as_dict(private=False)))
    config = OktaConfig(
        org_url=okta.url, client_id="0oaService", private_key=key.as_pem(private=True).decode()
    )
    directory = OktaSource(config, retry=FAST).fetch().directory
    assert len(directory.users) == 5
    assert okta.state.access_tokens, "a token was issued"


def test_an_assertion_signed_with_another_key_is_refused(okta: FakeOkta) -> None:
    """The fake checks the signature; the refusal surfaces as a configuration error."""
    registered = RSAKey.generate_key(2048, private=True)
    okta.register_client("0oaService", RSAKey.import_key(registered.as_dict(private=False)))
    other = RSAKey.generate_key(2048, private=True)
    config = OktaConfig(
        org_url=okta.url, client_id="0oaService", private_key=other.as_pem(private=True).decode()
    )
    with pytest.raises(ConfigurationSourceError, match=r"invalid_client.*signature"):
        OktaSource(config, retry=FAST).fetch()


def test_a_500_within_the_retry_budget_still_gives_a_complete_snapshot(okta: FakeOkta) -> None:
    """One failed page is retried and the result equals a clean pull."""
    clean = _source(okta).fetch().directory
    okta.add_fault("/api/v1/users", page=2, status=500, times=2)
    assert _source(okta).fetch().directory == clean


@pytest.mark.parametrize(
    "path",
    ["/api/v1/users", "/api/v1/groups", "/api/v1/groups/00gEditors/users"],
)
def test_a_500_that_outlasts_the_retries_aborts_the_fetch(okta: FakeOkta, path: str) -> None:
    """Any listing failing on its second page gives no snapshot at all."""
    okta.add_fault(path, page=2, status=500, times=99)
    with pytest.raises(TransientSourceError, match=r"answered 500.*gave up after 3 tries"):
        _source(okta).fetch()


def test_a_429_waits_until_the_rate_limit_reset_and_carries_on(okta: FakeOkta) -> None:
    """The wait is taken from X-Rate-Limit-Reset against the server's Date."""
    reset = str(int(time.time()) + 1)
    okta.add_fault(
        "/api/v1/groups",
        page=1,
        status=429,
        headers={
            "X-Rate-Limit-Limit": "600",
            "X-Rate-Limit-Remaining": "0",
            "X-Rate-Limit-Reset": reset,
        },
        body={"errorCode": "E0000047", "errorSummary": "API call exceeded rate limit"},
    )
    slept: list[float] = []
    retry = RetryPolicy(attempts=3, base_delay=0.01, max_delay=5.0, sleep=slept.append)
    assert len(_source(okta, retry=retry).fetch().directory.groups) == 3
    assert slept and 0.1 <= slept[0] <= 2.2


def test_the_concurrent_limit_429_with_limit_zero_is_retried(okta: FakeOkta) -> None:
    """Okta's concurrent-request limit answers 429 with X-Rate-Limit-Limit: 0."""
    reset = str(int(time.time()))
    okta.add_fault(
        "/api/v1/users",
        page=1,
        status=429,
        headers={
            "X-Rate-Limit-Limit": "0",
            "X-Rate-Limit-Remaining": "0",
            "X-Rate-Limit-Reset": reset,
        },
    )
    assert len(_source(okta).fetch().directory.users) == 5


def test_a_reset_beyond_the_retry_budget_aborts_instead_of_hanging(okta: FakeOkta) -> None:
    """A server asking for a ten-minute wait ends the run as transient."""
    okta.add_fault(
        "/api/v1/users",
        page=1,
        status=429,
        times=9,
        headers={
            "X-Rate-Limit-Remaining": "0",
            "X-Rate-Limit-Reset": str(int(time.time()) + 600),
        },
    )
    with pytest.raises(TransientSourceError, match=r"asks to wait"):
        _source(okta).fetch()


def test_the_client_paces_itself_when_remaining_reaches_zero(okta: FakeOkta) -> None:
    """One connection, 4 requests a second allowed: it waits for resets and never sees a 429."""
    okta.state.rate_limit = 4
    directory = _source(okta, page_size=200, concurrency=1).fetch().directory
    assert len(directory.groups) == 3
    assert len(okta.state.log) == 6, "no request was refused and retried"


def test_concurrent_member_reads_under_a_tight_limit_still_give_the_whole_directory(
    okta: FakeOkta,
) -> None:
    """Four readers against 3 requests a second: refusals are retried at the reset."""
    clean = _source(okta, concurrency=1).fetch().directory
    okta.state.rate_limit = 3
    assert _source(okta, concurrency=4).fetch().directory == clean


def test_an_empty_page_with_a_next_link_is_followed(okta: FakeOkta) -> None:
    """An empty page is not the end of a listing while it links onward."""
    okta.add_fault("/api/v1/groups/00gEditors/users", page=1, status=0)
    assert _members(_source(okta).fetch().directory)["SOM Editors"] == {
        "bob@acme.com",
        "cat@acme.com",
        "dan@acme.com",
    }


def test_a_group_deleted_between_list_and_fetch_makes_the_snapshot_unusable(
    okta: FakeOkta,
) -> None:
    """The 404 on its members is not read as 'no members': nothing is guessed."""
    okta.state.delete_after_listing.add("00gEditors")
    with pytest.raises(SnapshotError, match=r"'SOM Editors'.*disappeared"):
        _source(okta).fetch()
    assert "SOM Editors" not in _members(_source(okta).fetch().directory)


def test_bad_settings_are_refused_before_any_request() -> None:
    """Neither a token nor a key, or a non-URL, is a configuration error."""
    with pytest.raises(ConfigurationSourceError, match=r"API token or a client id"):
        OktaConfig(org_url="https://acme.okta.com")
    with pytest.raises(ConfigurationSourceError, match=r"http"):
        OktaConfig(org_url="acme.okta.com", api_token="x")


@pytest.mark.parametrize("counted", [True, False])
def test_a_users_count_with_or_without_deprovisioned_members_matches_the_listing(
    okta: FakeOkta, counted: bool
) -> None:
    """Okta's usersCount may or may not count DEPROVISIONED members: both agree with the read."""
    okta.count_deprovisioned = counted
    okta.add_user("00u3", "cat@acme.com", status="DEPROVISIONED")
    directory = _source(okta).fetch().directory
    assert _members(directory)["SOM Editors"] == {"bob@acme.com", "cat@acme.com", "dan@acme.com"}
