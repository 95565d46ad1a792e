"""One loss budget per org across SCIM writes: deactivations one PATCH at a time."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from sync.models import SavedPlan
from tests.e2e.conftest import Scim, group, user
from tests.e2e.test_scim_reconcile import PATCH, members, org_with_mapping

MAPPING = """
role_model: aihub
rules:
  - group: "AI Users"
    org_role: user
policy:
  unmapped: remove
  max_removals: 5
  acting_role: admin
"""


def _held(session_factory: sessionmaker[Session]) -> list[SavedPlan]:
    """The org's held plans."""
    with session_factory() as s:
        return list(s.scalars(select(SavedPlan).where(SavedPlan.status == "held")))


def _deactivate(
    app: Flask, session_factory: sessionmaker[Session], mapping: str, people: int, gone: int
) -> tuple[Scim, list[str]]:
    """An aihub org under ``mapping`` whose IdP pushes ``people`` joined people (p00@,
    p01@, ...) in "AI Users", then deactivates the first ``gone`` of them one PATCH each:
    the SCIM client and the people's ids."""
    scim = org_with_mapping(app, session_factory, "aihub", mapping)
    ids = []
    for i in range(people):
        created = scim.post("/Users", user(f"p{i:02d}@acme.com")).json
        assert created is not None
        ids.append(created["id"])
    assert scim.post("/Groups", group("AI Users", *ids)).status_code == 201
    with session_factory.begin() as s:
        s.execute(text("UPDATE members SET status = 'joined'"))
    off = {"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"active": False}}]}
    for uid in ids[:gone]:
        assert scim.patch(f"/Users/{uid}", off).status_code == 200
    return scim, ids


def test_twelve_deactivations_one_patch_each_apply_five_and_hold_seven_in_one_plan(
    app: Flask, session_factory: sessionmaker[Session]
) -> None:
    """Entra deactivates 12 of 20 joined people as 12 PATCHes: the first 5 take effect,
    the other 7 wait in one held plan, the earlier ones counted from the window."""
    _deactivate(app, session_factory, MAPPING, people=20, gone=12)
    statuses = {email: status for email, (_, status) in members(session_factory).items()}
    assert statuses == {f"p{i:02d}@acme.com": "suspended" if i < 5 else "joined" for i in range(20)}
    held = _held(session_factory)
    assert len(held) == 1
    body = held[0].body
    assert sorted(o["user"] for o in body["operations"]) == [
        f"p{i:02d}@acme.com" for i in range(5, 12)
    ]
    assert body["held"]["detail"] == (
        "7 user(s) lose access or a role (7 suspended); with 5 already applied in the last "
        "24h that is 12; max_removals 5 allows 5"
    )


def test_a_reactivation_drops_the_person_from_the_held_plan(
    app: Flask, session_factory: sessionmaker[Session]
) -> None:
    """After 5 applied and 7 held, the IdP reactivates one of the 7: the held plan keeps
    the other 6, and the reactivated person stays joined."""
    scim, ids = _deactivate(app, session_factory, MAPPING, people=20, gone=12)
    on = {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "active", "value": True}]}
    assert scim.patch(f"/Users/{ids[7]}", on).status_code == 200
    held = _held(session_factory)
    assert len(held) == 1
    assert sorted(o["user"] for o in held[0].body["operations"]) == [
        f"p{i:02d}@acme.com" for i in (5, 6, 8, 9, 10, 11)
    ]
    statuses = {email: status for email, (_, status) in members(session_factory).items()}
    assert statuses["p07@acme.com"] == "joined"


def test_a_percentage_budget_weighs_each_write_against_the_whole_org(
    app: Flask, session_factory: sessionmaker[Session]
) -> None:
    """``max_removals: 10%`` of 60 joined people allows 6: of 8 deactivations sent one
    PATCH at a time, 6 take effect and 2 wait in one held plan, although each write reads
    only the people it touches (the org is counted only as far as the budget needs)."""
    mapping = MAPPING.replace("max_removals: 5", 'max_removals: "10%"')
    _deactivate(app, session_factory, mapping, people=60, gone=8)
    statuses = {email: status for email, (_, status) in members(session_factory).items()}
    assert statuses == {f"p{i:02d}@acme.com": "suspended" if i < 6 else "joined" for i in range(60)}
    held = _held(session_factory)
    assert len(held) == 1
    assert sorted(o["user"] for o in held[0].body["operations"]) == ["p06@acme.com", "p07@acme.com"]
    assert held[0].body["held"]["detail"].endswith("allows 6")
