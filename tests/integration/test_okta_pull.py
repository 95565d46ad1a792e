"""Pull runs from a fake Okta into the database: end to end, every fault, and the gate."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session, sessionmaker

from sync.credentials.secrets import seal_secret
from sync.models import Source, SyncRun
from sync.pull import PullResult, run_pull
from sync.sources.base import RetryPolicy
from sync.store.orgs import create_org
from tests.fakes.okta import FakeOkta
from tests.integration.pullsetup import SECRET_KEY, mirror_size, pull_org, roles

FAST = RetryPolicy(attempts=3, base_delay=0.01, max_delay=5.0)

SOM = {
    "ann@acme.com": ("owner", "invited"),
    "bob@acme.com": ("editor", "invited"),
    "cat@acme.com": ("editor", "invited"),
    "dan@acme.com": ("editor", "invited"),
    "eve@acme.com": ("viewer", "invited"),
}


def _setup(
    factory: sessionmaker[Session], okta: FakeOkta, preset: str = "shareofmodel"
) -> tuple[int, int]:
    config = {"org_url": okta.url, "auth": "token", "page_size": 2, "max_user_drop": "25%"}
    return pull_org(factory, preset, "okta", config, okta.state.api_token)


def _pull(factory: sessionmaker[Session], source_id: int, **kw: object) -> PullResult:
    return run_pull(factory, source_id, secret_key=SECRET_KEY, retry=FAST, **kw)  # type: ignore[arg-type]


def _runs(factory: sessionmaker[Session]) -> list[tuple[str, str | None]]:
    with factory() as s:
        return [(r.outcome, r.error) for r in s.scalars(select(SyncRun).order_by(SyncRun.id))]


@pytest.mark.parametrize(
    ("preset", "expected"),
    [
        ("shareofmodel", SOM),
        (
            "aihub",
            {
                "ann@acme.com": ("admin", "invited"),
                **{f"{n}@acme.com": ("user", "invited") for n in ("bob", "cat", "dan", "eve")},
            },
        ),
    ],
)
def test_a_pull_reconciles_the_org_from_okta_end_to_end(
    session_factory: sessionmaker[Session], okta: FakeOkta, preset: str, expected: object
) -> None:
    """Fetch, mirror and apply: every person gets the role the mapping gives, in one run row."""
    org_id, source_id = _setup(session_factory, okta, preset)
    result = _pull(session_factory, source_id)
    assert result.outcome == "applied", result.error
    assert roles(session_factory, org_id) == expected
    assert result.counts["users"] == 5 and result.counts["groups"] == 3
    assert result.counts["mirror"]["users_added"] == 5
    assert len(_runs(session_factory)) == 1
    again = _pull(session_factory, source_id)
    assert again.outcome == "empty"
    assert again.counts["mirror"] == {"unchanged": 1}, "an unchanged snapshot is not rewritten"


def _fault_users_page(okta: FakeOkta) -> None:
    okta.add_fault("/api/v1/users", page=2, status=500, times=99)


def _fault_groups_page(okta: FakeOkta) -> None:
    okta.add_fault("/api/v1/groups", page=2, status=503, times=99)


def _fault_members_page(okta: FakeOkta) -> None:
    okta.add_fault("/api/v1/groups/00gEditors/users", page=2, status=502, times=99)


def _fault_rate_limited(okta: FakeOkta) -> None:
    okta.add_fault(
        "/api/v1/groups/00gViewers/users",
        status=429,
        times=99,
        headers={
            "X-Rate-Limit-Remaining": "0",
            "X-Rate-Limit-Reset": "4102444800",
        },
    )


def _fault_deleted_group(okta: FakeOkta) -> None:
    okta.state.delete_after_listing.add("00gEditors")


def _fault_token_revoked(okta: FakeOkta) -> None:
    okta.state.api_token = "rotated"


def _fault_not_json(okta: FakeOkta) -> None:
    okta.add_fault("/api/v1/users", page=2, status=200, body="<html>maintenance</html>")


FAULTS: dict[str, tuple[Callable[[FakeOkta], None], str]] = {
    "500 on users page 2": (_fault_users_page, r"^transient: .*/api/v1/users answered 500"),
    "503 on groups page 2": (_fault_groups_page, r"^transient: .*/api/v1/groups answered 503"),
    "502 on members page 2": (_fault_members_page, r"^transient: .*00gEditors/users answered 502"),
    "429 for ages": (_fault_rate_limited, r"^transient: .*answered 429.*asks to wait"),
    "group deleted mid-run": (_fault_deleted_group, r"^data: group 'SOM Editors'.*disappeared"),
    "token revoked": (_fault_token_revoked, r"^configuration: .*refused the credentials \(401\)"),
    "a page that is not JSON": (
        _fault_not_json,
        r"^data: GET .*/api/v1/users returned a body that is not JSON",
    ),
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_fault_on_any_listing_removes_no_one_and_the_run_says_why(
    session_factory: sessionmaker[Session], okta: FakeOkta, fault: str
) -> None:
    """After a good sync, eve leaves Okta; a faulty run must not act on a partial read."""
    org_id, source_id = _setup(session_factory, okta)
    assert _pull(session_factory, source_id).outcome == "applied"
    mirror_before = mirror_size(session_factory, source_id)
    del okta.state.users["00u5"]
    okta.state.members["00gViewers"].remove("00u5")
    inject, why = FAULTS[fault]
    inject(okta)
    result = _pull(session_factory, source_id)
    assert result.outcome == "failed"
    assert result.error is not None
    assert re.search(why, result.error), result.error
    assert roles(session_factory, org_id) == SOM, "nobody was removed or changed"
    assert mirror_size(session_factory, source_id) == mirror_before
    assert _runs(session_factory)[-1] == ("failed", result.error)


def test_transient_faults_within_the_retry_budget_give_a_correct_complete_sync(
    session_factory: sessionmaker[Session], okta: FakeOkta
) -> None:
    """A 500, a short 429 and an empty page with a next link: the removal still happens."""
    org_id, source_id = _setup(session_factory, okta)
    assert _pull(session_factory, source_id).outcome == "applied"
    del okta.state.users["00u5"]
    okta.state.members["00gViewers"].remove("00u5")
    okta.add_fault("/api/v1/users", page=2, status=500, times=2)
    okta.add_fault("/api/v1/groups", page=1, status=429, headers={"X-Rate-Limit-Reset": "0"})
    okta.add_fault("/api/v1/groups/00gEditors/users", page=1, status=0)
    result = _pull(session_factory, source_id)
    assert result.outcome == "applied", result.error
    assert "eve@acme.com" not in roles(session_factory, org_id)


def test_an_emptied_group_is_held_until_an_admin_forces_it(
    session_factory: sessionmaker[Session], okta: FakeOkta
) -> None:
    """Editors suddenly empty: nothing changes; with --force the demotions go through."""
    org_id, source_id = _setup(session_factory, okta)
    assert _pull(session_factory, source_id).outcome == "applied"
    okta.state.members["00gEditors"] = []
    held = _pull(session_factory, source_id)
    assert held.outcome == "suspicious"
    assert held.error and "group 'SOM Editors' had 3 members and now has none" in held.error
    assert roles(session_factory, org_id) == SOM
    forced = _pull(session_factory, source_id, force=True)
    assert forced.outcome == "applied"
    assert roles(session_factory, org_id) == {
        "ann@acme.com": ("owner", "invited"),
        "dan@acme.com": ("viewer", "invited"),
        "eve@acme.com": ("viewer", "invited"),
    }


def test_a_user_count_drop_past_the_limit_is_held_and_an_admin_flag_releases_it(
    session_factory: sessionmaker[Session], okta: FakeOkta
) -> None:
    """Two of five users gone (40% > 25%): held; the source's force_next lets one run through."""
    org_id, source_id = _setup(session_factory, okta)
    assert _pull(session_factory, source_id).outcome == "applied"
    for uid, gid in (("00u2", "00gEditors"), ("00u3", "00gEditors")):
        del okta.state.users[uid]
        okta.state.members[gid].remove(uid)
    held = _pull(session_factory, source_id)
    assert held.outcome == "suspicious" and "dropped from 5 to 3" in (held.error or "")
    assert roles(session_factory, org_id) == SOM
    with session_factory.begin() as s:
        source = s.get(Source, source_id)
        assert source is not None
        source.force_next = True
    assert _pull(session_factory, source_id).outcome == "applied"
    assert set(roles(session_factory, org_id)) == {"ann@acme.com", "dan@acme.com", "eve@acme.com"}
    with session_factory() as s:
        source = s.get(Source, source_id)
        assert source is not None and source.force_next is False


def test_a_renamed_group_is_an_update_of_the_same_group(
    session_factory: sessionmaker[Session], okta: FakeOkta
) -> None:
    """The mirror keeps the group (same Okta id) and only its name changes."""
    _, source_id = _setup(session_factory, okta)
    _pull(session_factory, source_id)
    okta.add_group("00gViewers", "SOM Viewers (all)", ["00u5", "00u4"])
    # the mapping selects the group by name: an admin forces the renamed group through
    result = _pull(session_factory, source_id, dry_run=True, force=True)
    changes = _pull(session_factory, source_id, force=True).counts["mirror"]
    assert result.outcome == "planned"
    assert (changes["groups_updated"], changes["groups_added"], changes["groups_removed"]) == (
        1,
        0,
        0,
    )


def test_a_changed_email_is_a_rename_and_not_a_removal_plus_invite(
    session_factory: sessionmaker[Session], okta: FakeOkta
) -> None:
    """Same Okta id, new email: the plan renames the member."""
    org_id, source_id = _setup(session_factory, okta)
    _pull(session_factory, source_id)
    okta.add_user("00u2", "robert@acme.com")
    result = _pull(session_factory, source_id)
    assert result.plan is not None
    assert [op.op for op in result.plan.operations] == ["rename_member"]
    assert roles(session_factory, org_id)["robert@acme.com"] == ("editor", "invited")


def test_a_login_differing_only_in_case_changes_nothing(
    session_factory: sessionmaker[Session], okta: FakeOkta
) -> None:
    """Ann@Acme.com and ann@acme.com are the same person."""
    _, source_id = _setup(session_factory, okta)
    _pull(session_factory, source_id)
    okta.add_user("00u1", "Ann@Acme.COM")
    assert _pull(session_factory, source_id).outcome == "empty"


def test_deprovisioned_members_are_deactivated_not_kept(
    session_factory: sessionmaker[Session], okta: FakeOkta
) -> None:
    """A DEPROVISIONED user still listed in a group loses access (a pending invite is revoked)."""
    org_id, source_id = _setup(session_factory, okta)
    _pull(session_factory, source_id)
    okta.add_user("00u3", "cat@acme.com", status="DEPROVISIONED")
    result = _pull(session_factory, source_id)
    assert result.outcome == "applied", result.error
    assert result.plan is not None
    assert [(op.op, op.user) for op in result.plan.operations] == [
        ("revoke_invite", "cat@acme.com")
    ]
    assert "cat@acme.com" not in roles(session_factory, org_id)


def test_a_dry_run_fetches_and_plans_but_changes_nothing(
    session_factory: sessionmaker[Session], okta: FakeOkta
) -> None:
    """Members and mirror stay as they were; the run says 'planned'."""
    org_id, source_id = _setup(session_factory, okta)
    result = _pull(session_factory, source_id, dry_run=True)
    assert result.outcome == "planned"
    assert result.plan is not None and result.plan.summary["invite"] == 5
    assert roles(session_factory, org_id) == {}
    assert mirror_size(session_factory, source_id) == (0, 0)


def test_a_run_left_running_by_a_dead_process_is_closed_as_abandoned(
    session_factory: sessionmaker[Session], okta: FakeOkta
) -> None:
    """The next run of the source closes it, so run history never shows a ghost 'running'."""
    org_id, source_id = _setup(session_factory, okta)
    with session_factory.begin() as s:
        s.add(SyncRun(org_id=org_id, source_id=source_id, trigger="schedule:okta"))
    assert _pull(session_factory, source_id).outcome == "applied"
    runs = _runs(session_factory)
    assert runs[0][0] == "abandoned" and "stopped before it recorded" in (runs[0][1] or "")
    assert runs[1] == ("applied", None)


def test_a_pull_that_fails_in_its_reconcile_leaves_one_run_row_that_says_why(
    session_factory: sessionmaker[Session], okta: FakeOkta
) -> None:
    """Pulled before its mapping is saved, the reconcile fails; the pull's one row says so."""
    with session_factory.begin() as s:
        org = create_org(s, "no mapping yet", "shareofmodel")
        config = {"org_url": okta.url, "auth": "token", "page_size": 2}
        secret = seal_secret(okta.state.api_token, SECRET_KEY)
        source = Source(org_id=org.id, name="okta", kind="okta", config=config, secret=secret)
        s.add(source)
        s.flush()
        source_id = source.id
    result = _pull(session_factory, source_id)
    assert result.outcome == "failed"
    assert _runs(session_factory) == [("failed", result.error)]


def test_an_applied_pull_leaves_one_run_row_holding_the_plan(
    session_factory: sessionmaker[Session], okta: FakeOkta
) -> None:
    """The reconcile writes into the pull's run: one row, with the plan it applied."""
    _, source_id = _setup(session_factory, okta)
    result = _pull(session_factory, source_id)
    with session_factory() as s:
        runs = s.scalars(select(SyncRun)).all()
        assert [(r.id, r.outcome, r.plan_id) for r in runs] == [
            (result.run_id, "applied", result.plan_id)
        ]
        assert result.plan is not None
        assert runs[0].counts["plan"] == dict(result.plan.summary)


def test_a_first_pull_leaves_statistics_that_know_the_new_org(
    engine: Engine, session_factory: sessionmaker[Session], bare_okta: FakeOkta
) -> None:
    """PostgreSQL's statistics taken before an org's first pull say it has no rows (its
    SCIM writes and pulls would then pick indexes as for an empty org); the pull leaves
    statistics that count the rows it wrote (sync/planner_stats.py)."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite plans without statistics of this kind")
    people = [f"u{i:03d}" for i in range(300)]
    for uid in people:
        bare_okta.add_user(uid, f"{uid}@acme.com")
    bare_okta.add_group("g-all", "Everyone", people)
    config = {"org_url": bare_okta.url, "auth": "token", "page_size": 200}
    token = bare_okta.state.api_token
    _, first = pull_org(session_factory, "aihub", "okta", config, token)
    assert _pull(session_factory, first).outcome in ("applied", "empty")
    with engine.connect() as connection:
        connection.execute(text("ANALYZE"))  # the second org has no rows yet
        connection.commit()

    second, source_id = pull_org(session_factory, "shareofmodel", "okta", config, token)
    assert _pull(session_factory, source_id).outcome in ("applied", "empty")

    with engine.connect() as connection:
        explained = connection.execute(
            text("EXPLAIN (FORMAT JSON) SELECT id FROM directory_users WHERE org_id = :org"),
            {"org": second},
        ).scalar_one()
    assert explained[0]["Plan"]["Plan Rows"] >= 100, explained
