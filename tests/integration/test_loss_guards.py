"""A misbehaving or changed IdP never costs people their role without a hold: pulls from
the fake Okta and Graph of a 600-person org (SOM Users as scope and viewer, SOM Editors ->
editor, SOM Owners -> owner, ``max_removals: 10%``) whose members have joined."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from mappings.operations import IDENTITY_CHANGE
from sync.models import SavedPlan
from sync.pull import PullResult, run_pull
from sync.sources.base import RetryPolicy
from sync.store.plans import approve
from sync.store.platform import losses_since
from tests.fakes.graph import FakeGraph
from tests.fakes.okta import FakeOkta
from tests.integration.pullsetup import SECRET_KEY, pull_org, roles

FAST = RetryPolicy(attempts=3, base_delay=0.01, max_delay=5.0)
PEOPLE = 600
OWNERS = 5
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)

MAPPING = """
role_model: shareofmodel
scope:
  groups: ["SOM Users"]
rules:
  - group: "SOM Users"
    org_role: viewer
  - group: "SOM Editors"
    org_role: editor
  - group: "SOM Owners"
    org_role: owner
policy:
  unmapped: remove
  max_removals: "10%"
"""


def _ids(prefix: str, people: int) -> list[str]:
    return [f"{prefix}{i:04d}" for i in range(people)]


def _seed_okta(fake: FakeOkta, editors: int) -> None:
    ids = _ids("00u", PEOPLE)
    for i, uid in enumerate(ids):
        fake.add_user(uid, f"p{i:04d}@acme.com")
    fake.add_group("00gUsers", "SOM Users", ids)
    fake.add_group("00gEditors", "SOM Editors", ids[OWNERS : OWNERS + editors])
    fake.add_group("00gOwners", "SOM Owners", ids[:OWNERS])


def _seed_graph(fake: FakeGraph, people: int, editors: int) -> None:
    ids = _ids("aad-", people)
    for i, uid in enumerate(ids):
        fake.add_user(uid, f"p{i:04d}@contoso.onmicrosoft.com", mail=f"p{i:04d}@acme.com")
    fake.state.secrets["app-1"] = "s3cret-value"
    fake.state.delta_page_size = 500  # a realistic delta page, not the fake's 2
    fake.state.members_per_item = 1000
    fake.add_group("g-users", "SOM Users", ids)
    fake.add_group("g-editors", "SOM Editors", ids[OWNERS : OWNERS + editors])
    fake.add_group("g-owners", "SOM Owners", ids[:OWNERS])


@pytest.fixture
def okta(bare_okta: FakeOkta) -> FakeOkta:
    """An empty Okta org: each test adds its hundreds of people."""
    return bare_okta


@pytest.fixture
def graph(bare_graph: FakeGraph) -> FakeGraph:
    """An empty Graph tenant: each test adds its hundreds of people."""
    return bare_graph


def _pull(factory: sessionmaker[Session], source_id: int, **kw: object) -> PullResult:
    return run_pull(factory, source_id, secret_key=SECRET_KEY, retry=FAST, **kw)  # type: ignore[arg-type]


def _joined(factory: sessionmaker[Session], source_id: int, org_id: int) -> None:
    """A first pull invites everyone; then everyone accepts."""
    first = _pull(factory, source_id)
    assert first.outcome == "applied", first.error
    with factory.begin() as s:
        s.execute(
            text("UPDATE members SET status = 'joined', joined_at = invited_at WHERE org_id = :o"),
            {"o": org_id},
        )


def _okta_org(factory: sessionmaker[Session], okta: FakeOkta, editors: int) -> tuple[int, int]:
    _seed_okta(okta, editors)
    config = {"org_url": okta.url, "auth": "token", "page_size": 200}
    org_id, source_id = pull_org(
        factory, "shareofmodel", "okta", config, okta.state.api_token, MAPPING
    )
    _joined(factory, source_id, org_id)
    return org_id, source_id


def _graph_org(
    factory: sessionmaker[Session], graph: FakeGraph, people: int, delta: bool
) -> tuple[int, int]:
    _seed_graph(graph, people, editors=300)
    config = {
        "tenant_id": graph.state.tenant,
        "client_id": "app-1",
        "authority": graph.url,
        "graph_url": graph.url,
        "delta": delta,
    }
    org_id, source_id = pull_org(factory, "shareofmodel", "graph", config, "s3cret-value", MAPPING)
    _joined(factory, source_id, org_id)
    return org_id, source_id


def _losses(factory: sessionmaker[Session], org_id: int) -> int:
    with factory() as s:
        return losses_since(s, org_id, EPOCH)


_OktaPeople = tuple[dict[str, dict[str, Any]], dict[str, list[str]]]


def _missing(okta: FakeOkta, missing: list[str]) -> _OktaPeople:
    """Okta stops listing these people anywhere; returns what it listed before."""
    full = copy.deepcopy(okta.state.users), copy.deepcopy(okta.state.members)
    for uid in missing:
        del okta.state.users[uid]
    for members in okta.state.members.values():
        members[:] = [m for m in members if m not in missing]
    return full


def _restore(okta: FakeOkta, full: _OktaPeople) -> None:
    okta.state.users, okta.state.members = copy.deepcopy(full[0]), copy.deepcopy(full[1])


def _suspicious(
    factory: sessionmaker[Session], org_id: int, source_id: int, reason: str
) -> PullResult:
    """Pull and check the run was held as suspicious for ``reason`` with nothing changed."""
    before = roles(factory, org_id)
    result = _pull(factory, source_id)
    assert result.outcome == "suspicious", result.error
    assert result.error is not None and reason in result.error, result.error
    assert roles(factory, org_id) == before
    assert _losses(factory, org_id) == 0
    return result


def test_editors_leaving_the_editors_listing_en_masse_are_not_demoted(
    session_factory: sessionmaker[Session], okta: FakeOkta
) -> None:
    """95 of 100 editors leave the group: suspicious; forced, the 95 demotions are held."""
    org_id, source_id = _okta_org(session_factory, okta, editors=100)
    okta.state.members["00gEditors"] = okta.state.members["00gEditors"][:5]
    _suspicious(
        session_factory,
        org_id,
        source_id,
        "mapped group 'SOM Editors' lost 95 of its 100 members (95%, more than the limit of 20%)",
    )
    forced = _pull(session_factory, source_id, force=True)
    assert forced.outcome == "held"
    assert forced.plan is not None and forced.plan.held is not None
    assert forced.plan.held.detail == (
        "95 user(s) lose access or a role (95 demoted); max_removals 10% allows 60"
    )
    assert forced.plan.held.losses == {"demotion": 95}
    assert _losses(session_factory, org_id) == 0
    assert sum(r == ("editor", "joined") for r in roles(session_factory, org_id).values()) == 100


def test_a_renamed_mapped_group_holds_the_snapshot(
    session_factory: sessionmaker[Session], okta: FakeOkta
) -> None:
    """Rules match by name: a renamed Editors group would demote its 300 members."""
    org_id, source_id = _okta_org(session_factory, okta, editors=300)
    okta.state.groups["00gEditors"]["profile"]["name"] = "SOM Editors (archive)"
    _suspicious(
        session_factory,
        org_id,
        source_id,
        "mapped group 'SOM Editors' (300 members) was renamed to 'SOM Editors (archive)' "
        "and no rule or scope selects it now",
    )


def test_a_deleted_mapped_group_holds_the_snapshot_on_okta(
    session_factory: sessionmaker[Session], okta: FakeOkta
) -> None:
    """The Editors group is gone from Okta's listing: its 300 members keep their role."""
    org_id, source_id = _okta_org(session_factory, okta, editors=300)
    del okta.state.groups["00gEditors"], okta.state.members["00gEditors"]
    _suspicious(
        session_factory,
        org_id,
        source_id,
        "mapped group 'SOM Editors' (300 members) disappeared from the directory",
    )


def test_a_mapped_group_removed_in_a_graph_delta_holds_the_snapshot(
    session_factory: sessionmaker[Session], graph: FakeGraph
) -> None:
    """Graph's delta says the Editors group was ``@removed``: a deletion, held."""
    org_id, source_id = _graph_org(session_factory, graph, PEOPLE, delta=True)
    del graph.state.groups["g-editors"], graph.state.members["g-editors"]
    _suspicious(
        session_factory,
        org_id,
        source_id,
        "mapped group 'SOM Editors' (300 members) disappeared from the directory",
    )


def test_a_group_of_300_that_suddenly_lists_one_member_holds_the_snapshot(
    session_factory: sessionmaker[Session], okta: FakeOkta
) -> None:
    """299 of 300 editors gone in one run is far past the 20% a group may lose."""
    org_id, source_id = _okta_org(session_factory, okta, editors=300)
    okta.state.members["00gEditors"] = okta.state.members["00gEditors"][:1]
    _suspicious(
        session_factory,
        org_id,
        source_id,
        "mapped group 'SOM Editors' lost 299 of its 300 members (99%, more than the limit of 20%)",
    )


def test_runs_each_missing_8_percent_share_one_budget(
    session_factory: sessionmaker[Session], okta: FakeOkta
) -> None:
    """Three runs each miss 48 people (8%), with complete runs between: one budget.

    The first bad run removes its 48: they fit the 60-person budget (10% of 600), an 8%
    drop passes the snapshot gate, and nothing tells it from 48 real departures. Those
    removals stay in the 24 h window, so the second and third bad runs (48 more each, 96
    in the window) are held whole, and nobody else is removed.
    """
    org_id, source_id = _okta_org(session_factory, okta, editors=100)
    outcomes = []
    for run in range(3):
        full = _missing(okta, _ids("00u", PEOPLE)[OWNERS + run :: 12][:48])
        bad = _pull(session_factory, source_id)
        outcomes.append(bad.outcome)
        if run:
            assert bad.plan is not None and bad.plan.held is not None
            assert bad.plan.held.detail == (
                "48 user(s) lose access or a role (48 removed); with 48 already applied "
                "in the last 24h that is 96; max_removals 10% allows 60"
            )
        _restore(okta, full)
        good = _pull(session_factory, source_id)
        assert good.outcome in ("applied", "empty"), good.error
    assert outcomes == ["applied", "held", "held"]
    assert _losses(session_factory, org_id) == 48
    with session_factory() as s:
        held = s.query(SavedPlan).filter_by(org_id=org_id, status="held").count()
        stale = s.query(SavedPlan).filter_by(org_id=org_id, status="stale").count()
    assert (held, stale) == (0, 2), "the complete run after each held plan retires it"


def test_graph_mail_missing_for_1000_users_holds_the_renames_as_identity_changes(
    session_factory: sessionmaker[Session], graph: FakeGraph
) -> None:
    """Graph stops sending ``mail`` for 1,000 of 1,200 people: renaming them to their UPN
    would lock them out, so the renames are losses, held and reported as identity changes."""
    people = 1200
    org_id, source_id = _graph_org(session_factory, graph, people, delta=False)
    before = roles(session_factory, org_id)
    assert len(before) == people and {st for _, st in before.values()} == {"joined"}
    for uid in _ids("aad-", people)[:1000]:
        graph.state.users[uid]["mail"] = None
    result = _pull(session_factory, source_id)
    assert result.outcome == "held", result.error
    assert result.plan is not None and result.plan.held is not None
    assert result.plan.held.detail == (
        "1000 user(s) lose access or a role (1000 identity changes (email replaced by the "
        "IdP user name)); max_removals 10% allows 120"
    )
    renames = [o for o in result.plan.operations if o.op == "rename_member"]
    assert len(renames) == 1000
    assert {o.detail for o in renames} == {IDENTITY_CHANGE}
    assert roles(session_factory, org_id) == before
    assert _losses(session_factory, org_id) == 0


def test_losses_older_than_the_window_no_longer_use_up_the_budget(
    session_factory: sessionmaker[Session], okta: FakeOkta
) -> None:
    """48 removed 25 hours ago are out of the 24 h window: 48 more fit the budget again."""
    org_id, source_id = _okta_org(session_factory, okta, editors=100)
    now = datetime.now(UTC)
    people = _ids("00u", PEOPLE)
    full = _missing(okta, people[OWNERS::12][:48])
    assert _pull(session_factory, source_id, now=now - timedelta(hours=25)).outcome == "applied"
    _restore(okta, full)
    assert _pull(session_factory, source_id, now=now - timedelta(hours=25)).outcome == "applied"
    _missing(okta, people[OWNERS + 1 :: 12][:48])
    assert _pull(session_factory, source_id, now=now).outcome == "applied"
    assert _losses(session_factory, org_id) == 96


def test_losses_an_admin_approves_and_applies_count_against_later_pulls(
    session_factory: sessionmaker[Session], okta: FakeOkta
) -> None:
    """The held 95 demotions, approved (which applies a held plan; the service the CLI and
    the API call) use up the window's budget: a pull removing 10 people an hour later is
    held."""
    org_id, source_id = _okta_org(session_factory, okta, editors=100)
    okta.state.members["00gEditors"] = okta.state.members["00gEditors"][:5]
    forced = _pull(session_factory, source_id, force=True)
    assert forced.outcome == "held"
    with session_factory.begin() as s:
        plan_id = s.query(SavedPlan).filter_by(org_id=org_id, status="held").one().id
    assert approve(session_factory, org_id, plan_id, approver="admin").status == "applied"
    assert _losses(session_factory, org_id) == 95
    _missing(okta, _ids("00u", PEOPLE)[200:210])
    later = _pull(session_factory, source_id, now=datetime.now(UTC) + timedelta(hours=1))
    assert later.outcome == "held"
    assert later.plan is not None and later.plan.held is not None
    assert later.plan.held.detail == (
        "10 user(s) lose access or a role (10 removed); with 95 already applied in the last "
        "24h that is 105; max_removals 10% allows 60"
    )
    assert _losses(session_factory, org_id) == 95
