"""Reconcile gathers the mirror, state and mapping, and applies plans safely."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, event, func, select
from sqlalchemy.orm import Session, sessionmaker

from mappings.directory import Directory
from mappings.operations import Plan
from sync.errors import PlanError, StalePlan
from sync.models import AuditEntry, Member, OutboxMessage, SavedPlan, SyncRun
from sync.reconcile import reconcile
from sync.samples import SAMPLES
from sync.store.mappings import save_mapping
from sync.store.plans import apply_saved, approve_plan, create_plan
from sync.store.platform import load_state
from tests.integration.orgsetup import sample_org, set_directory

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize("preset", sorted(SAMPLES))
def test_apply_then_replan_gives_an_empty_plan(
    session_factory: sessionmaker[Session], preset: str
) -> None:
    """For every preset, after the first apply there is nothing left to do."""
    org_id, _ = sample_org(session_factory, preset)
    first = reconcile(session_factory, org_id, dry_run=False, trigger="test", now=NOW)
    assert first.status == "applied"
    assert first.plan.summary["invite"] == 12
    again = reconcile(session_factory, org_id, dry_run=True, trigger="test", now=NOW)
    assert again.plan.operations == ()
    with session_factory() as s:
        assert len(load_state(s, org_id).members) == 12
        audit = s.scalar(select(func.count()).select_from(AuditEntry))
        runs = s.scalars(select(SyncRun)).all()
    assert audit == len(first.plan.operations)
    assert [(r.outcome, r.plan_id) for r in runs] == [("applied", first.plan_id)]


def test_a_dry_run_changes_nothing(session_factory: sessionmaker[Session]) -> None:
    """A dry run returns the plan and leaves members, plans and runs untouched."""
    org_id, _ = sample_org(session_factory, "soterai")
    result = reconcile(session_factory, org_id, dry_run=True, trigger="test", now=NOW)
    assert (result.status, len(result.plan.operations)) == ("planned", 12)
    with session_factory() as s:
        for table in (Member, SavedPlan, SyncRun):
            assert s.scalar(select(func.count()).select_from(table)) == 0


def test_two_concurrent_reconciles_never_invite_twice(
    session_factory: sessionmaker[Session],
) -> None:
    """Two threads reconciling one org at once: each person is invited and mailed once."""
    org_id, _ = sample_org(session_factory, "soterai")
    barrier = threading.Barrier(2)
    results: list[str] = []
    errors: list[BaseException] = []

    def run() -> None:
        barrier.wait()
        try:
            results.append(
                reconcile(session_factory, org_id, dry_run=False, trigger="t", now=NOW).status
            )
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert sorted(results) == ["applied", "empty"]
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(Member)) == 12
        assert s.scalar(select(func.count()).select_from(OutboxMessage)) == 12


def test_a_stale_saved_plan_is_refused(session_factory: sessionmaker[Session]) -> None:
    """When the directory changes after `plan`, `apply` says "stale plan" and does nothing."""
    org_id, directory = sample_org(session_factory, "soterai")
    saved = create_plan(session_factory, org_id, trigger="cli", now=NOW)
    set_directory(session_factory, org_id, replace(directory, users=directory.users[:-1]))
    with pytest.raises(StalePlan, match="stale plan"):
        apply_saved(session_factory, org_id, saved.id, actor="cli", now=NOW)
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(Member)) == 0
        assert s.get(SavedPlan, saved.id).status == "stale"  # type: ignore[union-attr]


def test_a_saved_plan_applies_exactly_once(session_factory: sessionmaker[Session]) -> None:
    """A fresh saved plan applies by id; applying it again is refused as already done."""
    org_id, _ = sample_org(session_factory, "soterai")
    saved = create_plan(session_factory, org_id, trigger="cli", now=NOW)
    plan_id, result = apply_saved(session_factory, org_id, saved.id, actor="cli", now=NOW)
    assert (plan_id, result.applied) == (saved.id, 12)
    with pytest.raises(StalePlan):  # the members changed, so the fingerprint did too
        apply_saved(session_factory, org_id, saved.id, actor="cli", now=NOW)


def _shrink(directory: Directory, keep: int) -> Directory:
    """The directory with only the first ``keep`` users (groups keep their member lists)."""
    return replace(directory, users=directory.users[:keep])


def test_a_held_plan_applies_only_after_approval_of_its_fingerprint(
    session_factory: sessionmaker[Session],
) -> None:
    """Removals over max_removals wait; approval of that fingerprint applies them at once."""
    org_id, directory = sample_org(session_factory, "soterai")
    reconcile(session_factory, org_id, dry_run=False, trigger="t", now=NOW)
    set_directory(session_factory, org_id, _shrink(directory, 4))  # 8 of 12 leave: over 50%
    held = reconcile(session_factory, org_id, dry_run=False, trigger="t", now=NOW)
    assert held.status == "held" and held.plan.held is not None
    assert held.plan.held.why == "max_removals"
    again = reconcile(session_factory, org_id, dry_run=False, trigger="t", now=NOW)
    assert again.plan_id == held.plan_id  # the same waiting plan, not a second one
    assert held.plan_id is not None
    with pytest.raises(PlanError, match="held"):
        apply_saved(session_factory, org_id, held.plan_id, actor="cli", now=NOW)
    with session_factory.begin() as s, pytest.raises(PlanError, match="fingerprint"):
        approve_plan(s, org_id, held.plan_id, approver="admin", fingerprint="sha256:other")
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(Member)) == 12
    with session_factory.begin() as s:
        row = approve_plan(
            s, org_id, held.plan_id, approver="admin", fingerprint=held.plan.fingerprint
        )
        assert (row.id, row.status, row.approved_by) == (held.plan_id, "applied", "admin")
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(Member)) == 4
    after = reconcile(session_factory, org_id, dry_run=False, trigger="t", now=NOW)
    assert after.status == "empty"


def test_an_approval_does_not_carry_over_to_a_changed_plan(
    session_factory: sessionmaker[Session],
) -> None:
    """The directory changes again before approval and the fresh plan removes one more:
    approving the old plan applies nothing, and the fresh plan is held saying why."""
    org_id, directory = sample_org(session_factory, "soterai")
    reconcile(session_factory, org_id, dry_run=False, trigger="t", now=NOW)
    set_directory(session_factory, org_id, _shrink(directory, 4))
    held = reconcile(session_factory, org_id, dry_run=False, trigger="t", now=NOW)
    assert held.plan_id is not None
    set_directory(session_factory, org_id, _shrink(directory, 3))
    with session_factory.begin() as s:
        fresh = approve_plan(s, org_id, held.plan_id, approver="admin", now=NOW)
        assert fresh.status == "held" and fresh.id != held.plan_id
        assert (
            f"the approval of plan {held.plan_id} by admin lapsed" in fresh.body["held"]["detail"]
        )
    second = reconcile(session_factory, org_id, dry_run=False, trigger="t", now=NOW)
    assert (second.status, second.plan_id) == ("held", fresh.id)
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(Member)) == 12
        statuses = dict(s.execute(select(SavedPlan.id, SavedPlan.status)).all())
    assert statuses[held.plan_id] == "stale"  # no longer offered for approval
    with pytest.raises(StalePlan):
        apply_saved(session_factory, org_id, held.plan_id, actor="cli", now=NOW)


def test_review_mode_stores_the_plan_pending_until_approved(
    session_factory: sessionmaker[Session],
) -> None:
    """`apply: review` keeps every plan waiting; approving it applies it."""
    org_id, _ = sample_org(session_factory, "soterai")
    with session_factory.begin() as s:
        doc = SAMPLES["soterai"].mapping.replace('max_removals: "50%"', "apply: review")
        save_mapping(s, org_id, doc)
    pending = reconcile(session_factory, org_id, dry_run=False, trigger="t", now=NOW)
    assert pending.status == "pending" and pending.plan_id is not None
    with session_factory.begin() as s:
        row = approve_plan(s, org_id, pending.plan_id, approver="admin")
        assert (row.id, row.status) == (pending.plan_id, "applied")
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(Member)) == 12


def test_in_review_mode_a_write_for_one_user_keeps_everyone_elses_changes_waiting(
    session_factory: sessionmaker[Session],
) -> None:
    """A reconcile for one user (a SCIM write) under `apply: review` still plans the whole org."""
    org_id, _ = sample_org(session_factory, "soterai")
    with session_factory.begin() as s:
        doc = SAMPLES["soterai"].mapping.replace('max_removals: "50%"', "apply: review")
        save_mapping(s, org_id, doc)
    first = reconcile(session_factory, org_id, dry_run=False, trigger="t", now=NOW)
    second = reconcile(
        session_factory, org_id, dry_run=False, users=["person3@example.com"], trigger="scim",
        now=NOW,
    )  # fmt: skip
    assert second.status == "pending"
    assert len(second.plan.operations) == len(first.plan.operations) == 12
    with session_factory() as s:
        waiting = s.scalars(
            select(SavedPlan).where(SavedPlan.org_id == org_id, SavedPlan.status == "pending")
        ).all()
    assert [len(p.body["operations"]) for p in waiting] == [12]


def test_a_changed_email_is_a_rename_not_a_removal_and_an_invite(
    session_factory: sessionmaker[Session],
) -> None:
    """The IdP changes a user's email: the plan renames the member and keeps everything else."""
    org_id, directory = sample_org(session_factory, "soterai")
    reconcile(session_factory, org_id, dry_run=False, trigger="t", now=NOW)
    u = directory.users[5]
    renamed = replace(u, user_name="renamed@example.com", emails=("renamed@example.com",))
    users = tuple(renamed if x.id == u.id else x for x in directory.users)
    set_directory(session_factory, org_id, replace(directory, users=users))
    result = reconcile(session_factory, org_id, dry_run=False, trigger="t", now=NOW)
    assert [o.to_dict()["op"] for o in result.plan.operations] == ["rename_member"]
    assert (result.plan.operations[0].from_, result.plan.operations[0].to) == (
        "person5@example.com",
        "renamed@example.com",
    )
    with session_factory() as s:
        emails = {m.email for m in load_state(s, org_id).members}
    assert "renamed@example.com" in emails and "person5@example.com" not in emails
    assert reconcile(session_factory, org_id, dry_run=True, trigger="t", now=NOW).plan.is_empty


def test_a_reconcile_for_some_users_plans_only_them(
    session_factory: sessionmaker[Session],
) -> None:
    """`users=` (as after a SCIM write) touches only the named people."""
    org_id, _ = sample_org(session_factory, "soterai")
    result = reconcile(
        session_factory,
        org_id,
        dry_run=False,
        users=["person3@example.com"],
        trigger="scim",
        now=NOW,
    )
    assert [o.user for o in result.plan.operations] == ["person3@example.com"]
    with session_factory() as s:
        assert [m.email for m in load_state(s, org_id).members] == ["person3@example.com"]


def test_an_incomplete_snapshot_removes_no_one(session_factory: sessionmaker[Session]) -> None:
    """With complete=False the departed users are skipped, not removed."""
    org_id, directory = sample_org(session_factory, "soterai")
    reconcile(session_factory, org_id, dry_run=False, trigger="t", now=NOW)
    set_directory(session_factory, org_id, _shrink(directory, 11))
    result = reconcile(session_factory, org_id, dry_run=False, trigger="t", now=NOW, complete=False)
    assert result.status == "empty"
    assert [s.why for s in result.plan.skipped] == ["incomplete_snapshot"]


def test_a_failed_reconcile_is_recorded_and_changes_nothing(
    engine: Engine, session_factory: sessionmaker[Session]
) -> None:
    """The database fails mid-apply: nothing is kept, and the run history says why."""
    org_id, _ = sample_org(session_factory, "soterai")

    def fail(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if statement.startswith(("INSERT INTO audit_log", "COPY audit_log")):
            raise RuntimeError("disk full")

    event.listen(engine, "before_cursor_execute", fail)
    try:
        with pytest.raises(RuntimeError, match="disk full"):
            reconcile(session_factory, org_id, dry_run=False, trigger="t", now=NOW)
    finally:
        event.remove(engine, "before_cursor_execute", fail)
    with session_factory() as s:
        runs = s.scalars(select(SyncRun)).all()
        assert [(r.outcome, r.error) for r in runs] == [("error", "RuntimeError: disk full")]
        for table in (Member, OutboxMessage, AuditEntry):
            assert s.scalar(select(func.count()).select_from(table)) == 0


def test_an_edited_plan_file_is_refused(session_factory: sessionmaker[Session]) -> None:
    """A plan file with an operation added by hand is not applied, fingerprint or not."""
    org_id, _ = sample_org(session_factory, "soterai", users=3)
    plan = reconcile(session_factory, org_id, dry_run=True, trigger="t", now=NOW).plan
    extra = replace(plan.operations[0], user="intruder@example.com", idp_id=None)
    edited = replace(plan, operations=(*plan.operations, extra))
    with pytest.raises(PlanError, match="not what the current inputs give"):
        apply_saved(session_factory, org_id, edited, actor="cli", now=NOW)
    _, result = apply_saved(session_factory, org_id, plan, actor="cli", now=NOW)
    assert result.applied == 3
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(Member)) == 3


def test_a_plan_file_cannot_drop_its_own_hold(session_factory: sessionmaker[Session]) -> None:
    """A held plan saved to a file with `held` removed still needs an approval."""
    org_id, directory = sample_org(session_factory, "soterai")
    reconcile(session_factory, org_id, dry_run=False, trigger="t", now=NOW)
    set_directory(session_factory, org_id, _shrink(directory, 4))
    held = create_plan(session_factory, org_id, trigger="cli", now=NOW)
    assert held.status == "held"
    unheld = replace(Plan.from_dict(held.body), held=None)
    with pytest.raises(PlanError, match="held"):
        apply_saved(session_factory, org_id, unheld, actor="cli", now=NOW)
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(Member)) == 12
