"""Pull runs from a SCIM 2.0 server: end to end and a truncated listing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session, sessionmaker

from sync.pull import run_pull
from sync.sources.base import RetryPolicy
from tests.fakes.scim import FakeScim
from tests.integration.pullsetup import SECRET_KEY, pull_org, roles
from tests.integration.test_scimpull_source import scim_directory

FAST = RetryPolicy(attempts=3, base_delay=0.01, max_delay=5.0)


@pytest.fixture
def scim() -> Iterator[FakeScim]:
    fake = FakeScim()
    fake.load(scim_directory())
    yield fake
    fake.close()


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
