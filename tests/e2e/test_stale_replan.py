"""A stale plan never strands a decision: when a waiting plan's inputs move on, a fresh
plan is made at once from the current inputs and waits (or applies) in its place."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from sync.credentials.apikeys import create_api_key
from sync.models import Organisation, SavedPlan
from sync.store.mappings import save_mapping
from tests.e2e.conftest import Scim, group, user
from tests.e2e.test_scim_reconcile import PATCH, members, org_with_mapping

MAPPING = """
role_model: aihub
rules:
  - group: "AI Users"
    org_role: user
policy:
  unmapped: remove
  max_removals: {budget}
  acting_role: admin
"""


def _org(app: Flask, session_factory: sessionmaker[Session], people: int) -> tuple[Scim, list[str]]:
    scim = org_with_mapping(app, session_factory, "aihub", MAPPING.format(budget=5))
    ids = []
    for i in range(people):
        created = scim.post("/Users", user(f"p{i:02d}@acme.com")).json
        assert created is not None
        ids.append(created["id"])
    made = scim.post("/Groups", group("AI Users", *ids)).json
    assert made is not None
    with session_factory.begin() as s:
        s.execute(text("UPDATE members SET status = 'joined'"))
    return scim, [made["id"], *ids]


def _key(session_factory: sessionmaker[Session]) -> dict[str, str]:
    with session_factory.begin() as s:
        org = s.scalars(select(Organisation)).one()
        _, key = create_api_key(s, org.id, "admin", ["admin"], name="admin key")
    return {"Authorization": f"Bearer {key}"}


def _plans(session_factory: sessionmaker[Session]) -> dict[int, tuple[str, int | None, int]]:
    with session_factory() as s:
        rows = s.scalars(select(SavedPlan).order_by(SavedPlan.id)).all()
        return {r.id: (r.status, r.replaced_by, len(r.body["operations"])) for r in rows}


def test_a_held_plan_made_stale_by_an_unrelated_scim_write_is_replaced_and_still_applies(
    app: Flask, session_factory: sessionmaker[Session]
) -> None:
    """12 people leave the group (held over max_removals 5); a new, unrelated user arrives
    over SCIM; the 12 removals wait in a fresh held plan linked from the stale one, which the
    API lists, and approving it removes them."""
    scim, (gid, *ids) = _org(app, session_factory, 20)
    remove = [{"op": "remove", "path": f'members[value eq "{i}"]'} for i in ids[:12]]
    patched = scim.patch(f"/Groups/{gid}", {"schemas": [PATCH], "Operations": remove})
    assert patched.status_code == 204
    held = [pid for pid, (status, _, n) in _plans(session_factory).items() if status == "held"]
    assert len(held) == 1
    assert scim.post("/Users", user("newcomer@acme.com")).status_code == 201
    plans = _plans(session_factory)
    status, fresh, _ = plans[held[0]]
    assert status == "stale" and fresh is not None
    assert plans[fresh] == ("held", None, 12)
    api = app.test_client()
    headers = _key(session_factory)
    waiting = api.get("/api/v1/orgs/org-aihub/plans?status=held", headers=headers).json
    assert waiting is not None
    listed = waiting["plans"] if isinstance(waiting, dict) else waiting
    assert [p["id"] for p in listed] == [fresh]
    old = api.get(f"/api/v1/orgs/org-aihub/plans/{held[0]}", headers=headers).json
    assert old is not None and old["replaced_by"] == fresh
    shown = api.get(f"/api/v1/orgs/org-aihub/plans/{fresh}", headers=headers).json
    assert shown is not None
    approved = api.post(
        f"/api/v1/orgs/org-aihub/plans/{fresh}/approve",
        headers=headers,
        json={"fingerprint": shown["fingerprint"]},
    )
    assert approved.status_code == 200, approved.json
    left = members(session_factory)
    assert sorted(left) == sorted([f"p{i:02d}@acme.com" for i in range(12, 20)])


def test_an_approved_plan_made_stale_applies_in_its_fresh_plan_within_the_budget(
    app: Flask, session_factory: sessionmaker[Session]
) -> None:
    """A plan made and approved through the API (six removals after a mapping change)
    goes stale with a SCIM write; the fresh plan applies at once under ``apply: auto``."""
    scim, (_gid, *_ids) = _org(app, session_factory, 6)
    headers = _key(session_factory)
    api = app.test_client()
    with session_factory.begin() as s:
        org = s.scalars(select(Organisation)).one()
        save_mapping(s, org.id, MAPPING.format(budget=10).replace("AI Users", "Nobody"))
    made = api.post("/api/v1/orgs/org-aihub/plans", headers=headers, json={})
    assert made.status_code == 201, made.json
    plan = made.json
    assert plan is not None
    ok = api.post(
        f"/api/v1/orgs/org-aihub/plans/{plan['id']}/approve",
        headers=headers,
        json={"fingerprint": plan["fingerprint"]},
    )
    assert ok.status_code == 200, ok.json
    assert scim.post("/Users", user("newcomer@acme.com")).status_code == 201
    status, fresh, _ = _plans(session_factory)[plan["id"]]
    assert status == "stale" and fresh is not None
    assert _plans(session_factory)[fresh][0] == "applied"
    assert members(session_factory) == {}


def test_applying_a_stale_plan_names_the_plan_made_in_its_place(
    app: Flask, session_factory: sessionmaker[Session]
) -> None:
    """A waiting plan whose mapping changed is refused as stale; the refusal names the
    fresh plan, which waits."""
    _org(app, session_factory, 4)
    headers = _key(session_factory)
    api = app.test_client()
    with session_factory.begin() as s:
        org = s.scalars(select(Organisation)).one()
        save_mapping(s, org.id, MAPPING.format(budget=0))
    made = api.post("/api/v1/orgs/org-aihub/plans", headers=headers, json={}).json
    assert made is not None
    with session_factory.begin() as s:
        org = s.scalars(select(Organisation)).one()
        save_mapping(s, org.id, MAPPING.format(budget=0).replace("AI Users", "Nobody"))
    refused = api.post(f"/api/v1/orgs/org-aihub/plans/{made['id']}/apply", headers=headers)
    assert refused.status_code == 409
    status, fresh, _ = _plans(session_factory)[made["id"]]
    assert status == "stale" and fresh is not None
    assert f"plan {fresh} was made from the current inputs" in refused.json["detail"]  # type: ignore[index]
    assert _plans(session_factory)[fresh] == ("held", None, 4)
