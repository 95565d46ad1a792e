"""Pulls against IdP APIs that misbehave as real ones do: no listing fault costs anyone a role.

Each case pulls once cleanly, switches on one misbehaviour of the fake (Okta, Graph or a
SCIM server), pulls again and checks that the run failed with its reason in words, that
no member's role or status changed and that the mirror was left as it was.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from sync.models import SyncRun
from sync.pull import PullResult, run_pull
from sync.sources.base import RetryPolicy
from tests.fakes.graph import FakeGraph
from tests.fakes.okta import FakeOkta
from tests.fakes.scim import FakeScim
from tests.fakes.seed import scim_directory
from tests.fakes.server import Catcher
from tests.integration.pullsetup import SECRET_KEY, mirror_size, pull_org, roles

FAST = RetryPolicy(attempts=2, base_delay=0.01, max_delay=5.0)


@dataclass
class Idp:
    """One running fake IdP and how an org pulls from it."""

    kind: str
    fake: Any
    config: dict[str, Any]
    secret: str


@pytest.fixture
def catcher() -> Iterator[Catcher]:
    catch = Catcher()
    yield catch
    catch.close()


@pytest.fixture
def okta(okta: FakeOkta) -> Idp:
    config = {"org_url": okta.url, "auth": "token", "page_size": 2, "concurrency": 1}
    return Idp("okta", okta, config, okta.state.api_token)


@pytest.fixture
def graph(graph: FakeGraph) -> Idp:
    config = {
        "tenant_id": graph.state.tenant,
        "client_id": "app-1",
        "authority": graph.url,
        "graph_url": graph.url,
        "page_size": 2,
        "concurrency": 1,
    }
    return Idp("graph", graph, config, "s3cret-value")


@pytest.fixture
def scim(scim: FakeScim) -> Idp:
    return Idp("scim-pull", scim, {"base_url": scim.url, "page_size": 2}, scim.token)


def _failed_without_loss(
    factory: sessionmaker[Session],
    idp: Idp,
    misbehave: Callable[[], object],
    why: str,
    **bounds: float,
) -> PullResult:
    """A clean pull, then the misbehaving one: failed for ``why``, nothing taken away."""
    org_id, source_id = pull_org(
        factory, "shareofmodel", idp.kind, {**idp.config, **bounds}, idp.secret
    )
    first = run_pull(factory, source_id, secret_key=SECRET_KEY, retry=FAST)
    assert first.outcome == "applied", first.error
    before, mirror = roles(factory, org_id), mirror_size(factory, source_id)
    assert len(before) == 5
    misbehave()
    result = run_pull(factory, source_id, secret_key=SECRET_KEY, retry=FAST)
    assert result.outcome == "failed", result
    assert result.error is not None and re.search(why, result.error), result.error
    assert roles(factory, org_id) == before, "no member lost (or gained) a role"
    assert mirror_size(factory, source_id) == mirror
    with factory() as s:
        last = s.scalars(select(SyncRun).order_by(SyncRun.id.desc()).limit(1)).one()
    assert (last.outcome, last.error) == ("failed", result.error), "the run records why"
    return result


# -- a member listing that ends early, or repeats a page --------------------------------


def test_an_okta_member_listing_that_ends_early_without_error_fails_the_run(
    session_factory: sessionmaker[Session], okta: Idp
) -> None:
    """Editors page 2 is cut (no next link): dan would be demoted; usersCount says 3."""
    path = "/api/v1/groups/00gEditors/users"
    why = r"^data: group 'SOM Editors' changed or was cut short.*3 members before.*2 were listed"
    _failed_without_loss(
        session_factory, okta, lambda: okta.fake.misbehave(path, "cut", page=2, keep=0), why
    )


def test_a_graph_member_listing_that_ends_early_without_error_fails_the_run(
    session_factory: sessionmaker[Session], graph: Idp
) -> None:
    """transitiveMembers of Editors cut after page 1: Graph's $count says there are 4."""
    path = "/v1.0/groups/g-editors/transitiveMembers"
    why = r"^data: group 'SOM Editors' listed 2 members but Graph counts 4"
    _failed_without_loss(
        session_factory, graph, lambda: graph.fake.misbehave(path, "cut", page=2, keep=0), why
    )


def test_an_okta_member_listing_that_repeats_its_first_page_fails_the_run(
    session_factory: sessionmaker[Session], okta: Idp
) -> None:
    """Page 2 of Editors serves page 1 again: the repeated ids give it away."""
    why = r"^data: the members of group 'SOM Editors' listed 00u2 on page 1 and again on page 2"
    _failed_without_loss(
        session_factory,
        okta,
        lambda: okta.fake.misbehave("/api/v1/groups/00gEditors/users", "repeat", page=2),
        why,
    )


def test_a_graph_member_listing_that_repeats_its_first_page_fails_the_run(
    session_factory: sessionmaker[Session], graph: Idp
) -> None:
    """Page 2 of Editors' transitiveMembers serves page 1 again."""
    why = r"^data: the members of group 'SOM Editors' listed aad-2 on page 1 and again on page 2"
    _failed_without_loss(
        session_factory,
        graph,
        lambda: graph.fake.misbehave("/v1.0/groups/g-editors/transitiveMembers", "repeat", page=2),
        why,
    )


# -- a users listing cut short while groups still list those people --------------------


def test_a_graph_users_listing_cut_short_while_groups_list_those_people_fails_the_run(
    session_factory: sessionmaker[Session], graph: Idp
) -> None:
    """/users page 2 holds nothing and no next link; the groups still name cat and dan."""
    why = r"^data: group '.*' lists \d+ users that the users listing did not have"
    _failed_without_loss(
        session_factory,
        graph,
        lambda: graph.fake.misbehave("/v1.0/users", "cut", page=2, keep=0),
        why,
    )


def test_a_graph_users_listing_shorter_than_its_count_fails_the_run(
    session_factory: sessionmaker[Session], graph: Idp
) -> None:
    """A user in no group is missing from /users: only /users/$count can tell."""

    def misbehave() -> None:
        graph.fake.add_user("aad-6", "fay@acme.com")
        graph.fake.misbehave("/v1.0/users", "cut", page=3, keep=1)

    why = r"^data: the users listing gave 5 users but Graph counts 6"
    _failed_without_loss(session_factory, graph, misbehave, why)


def test_a_graph_delta_round_that_drops_a_user_its_groups_name_fails_the_run(
    session_factory: sessionmaker[Session], graph: Idp
) -> None:
    """users/delta ends early and misses fay, whom groups/delta adds to Owners."""
    graph.config["delta"] = True

    def misbehave() -> None:
        fake: FakeGraph = graph.fake
        fake.add_user("aad-6", "fay@acme.com")
        fake.state.members["g-owners"].append("aad-6")
        fake.misbehave("/v1.0/users/delta", "cut", page=1, keep=0)

    why = r"^data: group 'SOM Owners' lists 1 users that the users listing did not have"
    _failed_without_loss(session_factory, graph, misbehave, why)


def test_an_okta_users_listing_cut_short_while_groups_list_those_people_fails_the_run(
    session_factory: sessionmaker[Session], okta: Idp
) -> None:
    """An ACTIVE member missing from /users is not a DEPROVISIONED one: the run fails."""
    why = r"^data: group 'SOM Editors' lists 00u3 \(ACTIVE\), whom the users listing did not have"
    _failed_without_loss(
        session_factory,
        okta,
        lambda: okta.fake.misbehave("/api/v1/users", "cut", page=2, keep=0),
        why,
    )


# -- SCIM: unstable sort, totals that disagree ------------------------------------------


def test_a_scim_page_overlapping_the_previous_one_fails_the_run(
    session_factory: sessionmaker[Session], scim: Idp
) -> None:
    """An unstable sort serves bob twice and skips cat, with totalResults unchanged."""
    why = r"^data: the Users listing listed s-00u2 on page 1 and again on page 2"
    _failed_without_loss(
        session_factory,
        scim,
        lambda: scim.fake.misbehave("/scim/v2/Users", "overlap", page=2, overlap=1),
        why,
    )


def test_a_scim_total_that_differs_from_the_unique_count_read_fails_the_run(
    session_factory: sessionmaker[Session], scim: Idp
) -> None:
    """The last page holds more people than totalResults admits."""
    extra = {"id": "s-extra", "userName": "zed@acme.com", "active": True}
    last = scim_directory()["users"][4]
    body = {"totalResults": 5, "startIndex": 5, "itemsPerPage": 2, "Resources": [last, extra]}
    why = r"^data: Users listing read 6 unique of totalResults 5"
    _failed_without_loss(
        session_factory,
        scim,
        lambda: scim.fake.add_fault("/scim/v2/Users", page=3, status=200, body=body, times=9),
        why,
    )


def test_a_scim_total_that_changes_across_pages_fails_the_run(
    session_factory: sessionmaker[Session], scim: Idp
) -> None:
    """totalResults is 5 on page 1 and 4 on page 2."""
    users = scim_directory()["users"]
    body = {"totalResults": 4, "startIndex": 3, "itemsPerPage": 2, "Resources": users[2:4]}
    _failed_without_loss(
        session_factory,
        scim,
        lambda: scim.fake.add_fault("/scim/v2/Users", page=2, status=200, body=body, times=9),
        r"^data: Users changed .*5 -> 4",
    )


def test_a_scim_member_that_no_listing_has_fails_the_run(
    session_factory: sessionmaker[Session], scim: Idp
) -> None:
    """A group names a user the Users listing did not return."""

    def misbehave() -> None:
        scim.fake.resources["Groups"][0]["members"].append({"value": "s-ghost"})

    why = r"^data: group 'SOM Owners' lists 1 members that the listings did not have"
    _failed_without_loss(session_factory, scim, misbehave, why)


# -- people moving between groups during pagination -------------------------------------


def test_a_person_moving_between_okta_groups_mid_listing_fails_the_run(
    session_factory: sessionmaker[Session], okta: Idp
) -> None:
    """Owners was read without bob, then bob moves from Editors to Owners before Editors is."""

    def misbehave() -> None:
        fake: FakeOkta = okta.fake
        fake.when("/api/v1/groups/00gEditors/users", lambda: fake.move("00u2", *_OKTA_MOVE))

    why = r"^data: group 'SOM Owners' changed or was cut short.*1 members before and 2 after"
    _failed_without_loss(session_factory, okta, misbehave, why)


_OKTA_MOVE = ("00gEditors", "00gOwners")


def test_a_person_moving_between_graph_groups_mid_listing_fails_the_run(
    session_factory: sessionmaker[Session], graph: Idp
) -> None:
    """bob moves from Editors to Owners after Owners was listed and before Editors is."""

    def misbehave() -> None:
        fake: FakeGraph = graph.fake
        path = "/v1.0/groups/g-editors/transitiveMembers"
        fake.when(path, lambda: fake.move("aad-2", "g-editors", "g-owners"))

    why = r"^data: group 'SOM Owners' listed 1 members but Graph counts 2"
    _failed_without_loss(session_factory, graph, misbehave, why)


def test_a_person_moving_between_scim_groups_mid_listing_fails_the_run(
    session_factory: sessionmaker[Session], scim: Idp
) -> None:
    """Owners was read without eve, then eve moves there from Viewers before Viewers is."""

    def misbehave() -> None:
        fake: FakeScim = scim.fake
        fake.when("/scim/v2/Groups", lambda: fake.move("s-00u5", "sg-3", "sg-1"), request=2)

    why = r"^data: group 'SOM Owners' changed while the groups were read \(a second read differs\)"
    _failed_without_loss(session_factory, scim, misbehave, why)


# -- credentials never leave the configured origin --------------------------------------


@pytest.mark.parametrize("variant", ["port", "host", "scheme"])
def test_an_okta_next_link_to_another_origin_is_never_requested(
    session_factory: sessionmaker[Session], okta: Idp, catcher: Catcher, variant: str
) -> None:
    """Another port, host or scheme: the run fails and the SSWS token reaches no one else."""
    to = _elsewhere(catcher, variant)
    why = rf"^data: the IdP sent a link to {re.escape(_origin(to))}, outside the configured"
    _failed_without_loss(
        session_factory,
        okta,
        lambda: okta.fake.misbehave("/api/v1/users", "offsite", page=1, to=to),
        why,
    )
    assert (catcher.connections, catcher.saw_authorization) == (0, False)


@pytest.mark.parametrize("variant", ["port", "host", "scheme"])
def test_a_graph_next_link_to_another_origin_is_never_requested(
    session_factory: sessionmaker[Session], graph: Idp, catcher: Catcher, variant: str
) -> None:
    """An @odata.nextLink elsewhere: the bearer token reaches no one else."""
    to = _elsewhere(catcher, variant)
    why = rf"^data: the IdP sent a link to {re.escape(_origin(to))}, outside the configured"
    _failed_without_loss(
        session_factory,
        graph,
        lambda: graph.fake.misbehave(
            "/v1.0/groups/g-viewers/transitiveMembers", "offsite", page=1, to=to
        ),
        why,
    )
    assert (catcher.connections, catcher.saw_authorization) == (0, False)


def test_a_redirect_to_another_host_is_not_followed(
    session_factory: sessionmaker[Session], okta: Idp, catcher: Catcher
) -> None:
    """A 302 from the IdP is a configuration error; the token is not sent after it."""
    headers = {"Location": f"{catcher.url}/api/v1/users"}
    why = r"^configuration: GET .*/api/v1/users redirected \(302\) to http://127\.0\.0\.1:\d+/"
    _failed_without_loss(
        session_factory,
        okta,
        lambda: okta.fake.add_fault("/api/v1/users", page=1, status=302, headers=headers, times=9),
        why,
    )
    assert catcher.connections == 0


def test_the_catcher_does_record_a_request_sent_to_it(catcher: Catcher) -> None:
    """The check above can fail: a request to the catcher is seen with its header."""
    requests.get(catcher.url, headers={"Authorization": "SSWS x"}, timeout=5)
    assert catcher.connections == 1 and catcher.saw_authorization


def _elsewhere(catcher: Catcher, variant: str) -> str:
    return {
        "port": catcher.url,
        "host": f"http://localhost:{catcher.port}",
        "scheme": f"https://127.0.0.1:{catcher.port}",
    }[variant]


def _origin(url: str) -> str:
    return url if url.count(":") == 2 else f"{url}:80"


# -- bounds: endless next links, a run deadline, a trickled body ------------------------


def test_okta_next_links_that_are_new_urls_every_time_stop_at_the_page_cap(
    session_factory: sessionmaker[Session], okta: Idp
) -> None:
    """Empty pages linking to fresh URLs forever: the run stops at max_pages."""
    why = r"^data: the members of group 'SOM Viewers' ran past the cap of 20 pages"
    _failed_without_loss(
        session_factory,
        okta,
        lambda: okta.fake.misbehave("/api/v1/groups/00gViewers/users", "endless", page=1),
        why,
        max_pages=20,
    )
    requests = [line for line in okta.fake.state.log if "00gViewers" in line]
    assert len(requests) <= 2 + 20, "the listing stopped at the cap"


def test_graph_next_links_that_are_new_urls_every_time_stop_at_the_page_cap(
    session_factory: sessionmaker[Session], graph: Idp
) -> None:
    """The same on Graph's /users."""
    why = r"^data: the users listing ran past the cap of 20 pages"
    _failed_without_loss(
        session_factory,
        graph,
        lambda: graph.fake.misbehave("/v1.0/users", "endless", page=2),
        why,
        max_pages=20,
    )


def test_a_run_that_passes_its_deadline_fails_with_the_reason(
    session_factory: sessionmaker[Session], okta: Idp
) -> None:
    """With no page cap in reach, the run's deadline ends the endless listing."""
    started = time.monotonic()
    why = r"^transient: the pull passed its deadline of 2s \(deadline\) after \d+ requests"
    _failed_without_loss(
        session_factory,
        okta,
        lambda: okta.fake.misbehave("/api/v1/users", "endless", page=2),
        why,
        deadline=2.0,
    )
    assert time.monotonic() - started < 15


@pytest.mark.parametrize("which", ["okta", "graph", "scim"])
def test_a_body_trickled_byte_by_byte_fails_the_run_at_the_body_timeout(
    session_factory: sessionmaker[Session],
    request: pytest.FixtureRequest,
    which: str,
) -> None:
    """A page sent one byte every 0.1 s (not silent) cannot hold the run past body_timeout."""
    idp: Idp = request.getfixturevalue(which)
    path = {
        "okta": "/api/v1/groups",
        "graph": "/v1.0/groups",
        "scim": "/scim/v2/Groups",
    }[which]
    started = time.monotonic()
    why = r"^transient: GET .* did not send its whole body within 0\.5s \(body_timeout\)"
    _failed_without_loss(
        session_factory,
        idp,
        lambda: idp.fake.misbehave(path, "trickle", page=1, delay=0.1),
        why,
        body_timeout=0.5,
    )
    assert time.monotonic() - started < 15


def test_an_idp_that_falls_silent_fails_the_run_at_the_read_timeout(
    session_factory: sessionmaker[Session], okta: Idp
) -> None:
    """Headers, then two seconds of silence before each byte: read_timeout ends the wait."""
    why = r"^transient: GET .*/api/v1/groups fell silent for 0\.5s \(read_timeout\)"
    silent = lambda: okta.fake.misbehave("/api/v1/groups", "trickle", page=1, delay=2.0)  # noqa: E731
    _failed_without_loss(session_factory, okta, silent, why, read_timeout=0.5)


@pytest.mark.parametrize(
    ("key", "value"), [("max_pages", 0), ("deadline", "soon"), ("body_timeout", -1)]
)
def test_a_bound_that_is_not_a_positive_number_fails_the_run_before_any_request(
    session_factory: sessionmaker[Session], scim: Idp, key: str, value: object
) -> None:
    """A bad bound is a configuration error naming the setting; the IdP is not called."""
    config = {**scim.config, key: value}
    _, source_id = pull_org(session_factory, "shareofmodel", "scim-pull", config, scim.secret)
    result = run_pull(session_factory, source_id, secret_key=SECRET_KEY, retry=FAST)
    assert result.outcome == "failed"
    assert result.error == f"configuration: {key} must be a positive number, not {value!r}"
