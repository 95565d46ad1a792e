"""The platform store loads an org's actual state and applies plans atomically."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, event, select, text
from sqlalchemy.orm import Session, sessionmaker

from mappings import apply_to_state, load_role_model
from mappings.operations import Operation, Plan, Reason
from mappings.state import Member, Organisation, PlatformState, Workspace
from sync.errors import PlanError
from sync.models import AuditEntry, Base, OutboxMessage
from sync.models import Member as MemberRow
from sync.models import Organisation as OrgRow
from sync.store.platform import apply_plan, load_state

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
R = (Reason(0, ("Staff",)),)


def _org(session_factory: sessionmaker[Session]) -> int:
    with session_factory.begin() as s:
        org = OrgRow(name="Acme", role_model="annotation", plan="enterprise")
        s.add(org)
        s.flush()
        return org.id


def _plan(*ops: Operation) -> Plan:
    return Plan(operations=tuple(sorted(ops, key=Operation.sort_key)), fingerprint="sha256:x")


FIRST = _plan(
    Operation("create_workspace", workspace="labs", credits=0, reason=R),
    Operation("create_workspace", workspace="ops", credits=0, reason=R),
    Operation("invite", "ann@acme.com", org_role="member", notify=True, idp_id="u1", reason=R),
    Operation("invite", "bob@acme.com", org_role="member", notify=False, idp_id="u2", reason=R),
    Operation("invite", "cid@acme.com", org_role="member", notify=True, idp_id="u3", reason=R),
    Operation("add_to_workspace", "ann@acme.com", workspace="labs", roles=("admin",), reason=R),
    Operation("add_to_workspace", "bob@acme.com", workspace="labs", roles=("developer", "member")),
    Operation("add_to_workspace", "bob@acme.com", workspace="ops", roles=("member",)),
)


def test_an_applied_plan_is_what_the_state_then_shows(
    session_factory: sessionmaker[Session],
) -> None:
    """Workspaces, invites and workspace roles land as the plan said, with audit and outbox."""
    org_id = _org(session_factory)
    with session_factory.begin() as s:
        result = apply_plan(s, org_id, FIRST, actor="test", now=NOW)
    assert (result.applied, result.messages) == (8, 2)
    with session_factory() as s:
        state = load_state(s, org_id)
        audit = s.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
        outbox = s.scalars(select(OutboxMessage).order_by(OutboxMessage.recipient)).all()
    assert state == PlatformState(
        organisation=Organisation("Acme", "enterprise"),
        workspaces=(Workspace("labs"), Workspace("ops")),
        members=(
            Member("ann@acme.com", "member", "invited", "idp", "u1", NOW, {"labs": ("admin",)}),
            Member(
                "bob@acme.com",
                "member",
                "invited",
                "idp",
                "u2",
                NOW,
                {"labs": ("developer", "member"), "ops": ("member",)},
            ),
            Member("cid@acme.com", "member", "invited", "idp", "u3", NOW, {}),
        ),
    )
    assert [a.op for a in audit] == [o.op for o in FIRST.operations]
    assert audit[2].detail["reason"] == [{"rule": 0, "groups": ["Staff"]}]
    assert {a.actor for a in audit} == {"test"}
    assert [m.recipient for m in outbox] == ["ann@acme.com", "cid@acme.com"]


def test_every_other_operation_changes_the_state_as_named(
    session_factory: sessionmaker[Session],
) -> None:
    """Rename, role changes, workspace moves, suspend, reactivate, revoke and remove."""
    org_id = _org(session_factory)
    with session_factory.begin() as s:
        apply_plan(s, org_id, FIRST, actor="test", now=NOW)
        s.execute(text("UPDATE members SET status = 'joined', joined_at = invited_at"))
        s.execute(text("UPDATE members SET status = 'invited' WHERE email = 'cid@acme.com'"))
    second = _plan(
        Operation("rename_member", "ann@new.com", from_="ann@acme.com", to="ann@new.com"),
        Operation(
            "set_workspace_roles", "ann@new.com", workspace="labs", from_=("admin",), to=("member",)
        ),
        Operation("remove_from_workspace", "bob@acme.com", workspace="ops"),
        Operation("suspend", "bob@acme.com"),
        Operation("revoke_invite", "cid@acme.com"),
    )
    with session_factory.begin() as s:
        apply_plan(s, org_id, second, actor="test", now=NOW)
    with session_factory() as s:
        members = {m.email: m for m in load_state(s, org_id).members}
    assert sorted(members) == ["ann@new.com", "bob@acme.com"]
    assert members["ann@new.com"].workspaces == {"labs": ("member",)}
    assert members["ann@new.com"].idp_id == "u1"
    assert members["bob@acme.com"].status == "suspended"
    assert members["bob@acme.com"].workspaces == {"labs": ("developer", "member")}
    third = _plan(
        Operation("reactivate", "bob@acme.com"),
        Operation("set_org_role", "bob@acme.com", from_="member", to="member"),
        Operation("remove_from_org", "ann@new.com"),
    )
    with session_factory.begin() as s:
        apply_plan(s, org_id, third, actor="test", now=NOW)
    with session_factory() as s:
        state = load_state(s, org_id)
        roles = s.execute(text("SELECT count(*) FROM workspace_roles")).scalar_one()
    assert [(m.email, m.status) for m in state.members] == [("bob@acme.com", "joined")]
    assert roles == 2  # ann's workspace roles went with her


def test_a_plan_that_does_not_fit_the_state_is_refused_and_changes_nothing(
    session_factory: sessionmaker[Session],
) -> None:
    """Inviting an existing member names the operation; the whole apply is undone."""
    org_id = _org(session_factory)
    with session_factory.begin() as s:
        apply_plan(s, org_id, FIRST, actor="test", now=NOW)
    bad = _plan(
        Operation("invite", "new@acme.com", org_role="member", notify=True),
        Operation("invite", "ann@acme.com", org_role="member", notify=True),
    )
    expected = r"invite ann@acme.com: already a member"
    with pytest.raises(PlanError, match=expected), session_factory.begin() as s:
        apply_plan(s, org_id, bad, actor="test", now=NOW)
    with session_factory() as s:
        assert len(load_state(s, org_id).members) == 3
        assert len(s.scalars(select(OutboxMessage)).all()) == 2


class _Crash(Exception):
    """The injected failure."""


@contextmanager
def _crash_after(engine: Engine, statements: int) -> Iterator[list[int]]:
    """Raise before the statement after the first ``statements`` ones (counts them too)."""
    seen = [0]

    def before(*_args: Any) -> None:
        seen[0] += 1
        if seen[0] > statements:
            raise _Crash

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", before)


def _dump(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    with engine.connect() as conn:
        return {
            t.name: sorted(map(tuple, conn.execute(t.select())), key=repr)
            for t in Base.metadata.sorted_tables
        }


EVERY_KIND = _plan(
    Operation("create_workspace", workspace="new", credits=0),
    Operation("rename_member", "ann@new.com", from_="ann@acme.com", to="ann@new.com"),
    Operation("invite", "dan@acme.com", org_role="member", notify=True, idp_id="u4"),
    Operation("resend_invite", "cid@acme.com", invited_at=NOW),
    Operation("reactivate", "eve@acme.com"),
    Operation("set_org_role", "bob@acme.com", from_="member", to="member"),
    Operation("add_to_workspace", "dan@acme.com", workspace="new", roles=("member",)),
    Operation(
        "set_workspace_roles", "ann@new.com", workspace="labs", from_=("admin",), to=("member",)
    ),
    Operation("remove_from_workspace", "bob@acme.com", workspace="ops"),
    Operation("suspend", "bob@acme.com"),
    Operation("revoke_invite", "cid@acme.com"),
    Operation("remove_from_org", "old@acme.com"),
)


def test_a_crash_between_any_two_statements_leaves_the_database_as_it_was(
    engine: Engine, session_factory: sessionmaker[Session]
) -> None:
    """Whichever statement of an apply fails, every table is as before and no email waits."""
    org_id = _org(session_factory)
    with session_factory.begin() as s:
        apply_plan(s, org_id, FIRST, actor="test", now=NOW)
        s.execute(text("DELETE FROM outbox"))
        s.execute(text("UPDATE members SET status = 'joined' WHERE email <> 'cid@acme.com'"))
        for email, status in (("old@acme.com", "joined"), ("eve@acme.com", "suspended")):
            s.add(
                MemberRow(
                    org_id=org_id,
                    email=email,
                    org_role="member",
                    status=status,
                    origin="idp",
                    idp_id=email,
                )
            )
    before = _dump(engine)
    with _crash_after(engine, 10**6) as seen, session_factory() as s, s.begin():
        result = apply_plan(s, org_id, EVERY_KIND, actor="test", now=NOW)
        total = seen[0]
        s.rollback()
    assert (result.applied, result.messages) == (12, 2)  # one welcome, one reminder
    assert total >= 12
    for n in range(total):
        with pytest.raises(_Crash), _crash_after(engine, n), session_factory.begin() as s:
            apply_plan(s, org_id, EVERY_KIND, actor="test", now=NOW)
        assert _dump(engine) == before, f"after {n} statements"
    with session_factory() as s:
        assert s.scalars(select(OutboxMessage)).all() == []
    with session_factory.begin() as s:  # and without a crash, it all goes through
        expected = apply_to_state(
            load_state(s, org_id), EVERY_KIND, load_role_model("annotation"), now=NOW
        )
        apply_plan(s, org_id, EVERY_KIND, actor="test", now=NOW)
    with session_factory() as s:
        by_name = tuple(sorted(expected.workspaces, key=lambda w: w.name))
        assert load_state(s, org_id) == replace(expected, workspaces=by_name)  # agrees with core
        state = {m.email: m for m in load_state(s, org_id).members}
    assert sorted(state) == ["ann@new.com", "bob@acme.com", "dan@acme.com", "eve@acme.com"]
    assert state["eve@acme.com"].status == "joined"
    assert state["bob@acme.com"].status == "suspended"
    assert state["dan@acme.com"].workspaces == {"new": ("member",)}
