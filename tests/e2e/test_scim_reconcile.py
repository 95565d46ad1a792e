"""SCIM writes reconcile the users they touch: roles follow groups, in the write's transaction."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from sync.credentials.tokens import create_token, scim_source
from sync.models import DirectoryUser, Member, Organisation, SavedPlan, SyncRun, utcnow
from sync.store.mappings import save_mapping
from sync.store.orgs import create_org
from tests.e2e.conftest import Scim, group, user
from tests.e2e.replay import replay

PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"

AIHUB = """
role_model: aihub
rules:
  - group: "AI Admins"
    org_role: admin
  - role: "Admin"
    org_role: admin
  - group: "AI Users"
    org_role: user
policy:
  unmapped: remove
  max_removals: 5000
  acting_role: admin
  apply: {apply}
"""

SHAREOFMODEL = """
role_model: shareofmodel
scope:
  groups: ["SOM Users"]
rules:
  - group: "SOM Owners"
    org_role: owner
  - group: "SOM Analysts"
    org_role: editor
policy:
  unmapped: remove
  max_removals: 10
  acting_role: owner
"""


def org_with_mapping(
    app: Flask, session_factory: sessionmaker[Session], role_model: str, mapping: str
) -> Scim:
    """An org on a preset with a saved mapping, and a SCIM client with its token."""
    with session_factory.begin() as session:
        org = create_org(session, f"org-{role_model}", role_model)
        save_mapping(session, org.id, mapping)
        _, token = create_token(session, org.name)
    return Scim(app.test_client(), token)


def members(session_factory: sessionmaker[Session]) -> dict[str, tuple[str, str]]:
    """email -> (org role, status) of every platform member."""
    with session_factory() as session:
        rows = session.execute(select(Member.email, Member.org_role, Member.status)).all()
    return {email: (role, status) for email, role, status in rows}


def add_members(ids: list[str]) -> dict[str, Any]:
    """A PatchOp adding these members."""
    value = [{"value": i} for i in ids]
    return {"schemas": [PATCH], "Operations": [{"op": "add", "path": "members", "value": value}]}


def test_group_membership_pushed_over_scim_becomes_org_roles(
    app: Flask, session_factory: sessionmaker[Session]
) -> None:
    """Users in AI Admins become admins, users in AI Users become users, at once."""
    scim = org_with_mapping(app, session_factory, "aihub", AIHUB.format(apply="auto"))
    ann = scim.post("/Users", user("ann@acme.com")).json
    bob = scim.post("/Users", user("bob@acme.com")).json
    assert ann is not None and bob is not None
    assert members(session_factory) == {}
    assert scim.post("/Groups", group("AI Admins", ann["id"])).status_code == 201
    assert scim.post("/Groups", group("AI Users", bob["id"])).status_code == 201
    assert members(session_factory) == {
        "ann@acme.com": ("admin", "invited"),
        "bob@acme.com": ("user", "invited"),
    }


def test_deactivating_a_user_over_scim_suspends_or_removes_the_member(
    app: Flask, session_factory: sessionmaker[Session]
) -> None:
    """Okta's PATCH active:false takes the member out as the role model says."""
    scim = org_with_mapping(app, session_factory, "aihub", AIHUB.format(apply="auto"))
    ann = scim.post("/Users", user("ann@acme.com")).json
    assert ann is not None
    scim.post("/Groups", group("AI Users", ann["id"]))
    assert "ann@acme.com" in members(session_factory)
    off = {"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"active": False}}]}
    assert scim.patch(f"/Users/{ann['id']}", off).status_code == 200
    after = members(session_factory).get("ann@acme.com")
    assert after is None or after[1] == "suspended"


def test_with_apply_review_a_scim_write_leaves_a_pending_plan_and_no_member(
    app: Flask, session_factory: sessionmaker[Session]
) -> None:
    """The directory changes, the platform waits for an admin's approval."""
    scim = org_with_mapping(app, session_factory, "aihub", AIHUB.format(apply="review"))
    ann = scim.post("/Users", user("ann@acme.com")).json
    assert ann is not None
    assert scim.post("/Groups", group("AI Admins", ann["id"])).status_code == 201
    assert members(session_factory) == {}
    with session_factory() as session:
        statuses = session.scalars(select(SavedPlan.status)).all()
    assert statuses == ["pending"]


def test_a_user_whose_email_folds_onto_another_users_identity_merges_with_no_one(
    app: Flask, session_factory: sessionmaker[Session]
) -> None:
    """Eve's primary email straße@ folds onto Sam's userName: neither becomes a member, the
    plan says identity_conflict, and Eve's admin group never promotes Sam."""
    scim = org_with_mapping(app, session_factory, "aihub", AIHUB.format(apply="review"))
    sam = scim.post("/Users", user("strasse@acme.com")).json
    eve = scim.post(
        "/Users",
        user("eve@acme.com", emails=[{"value": "straße@acme.com", "primary": True}]),
    ).json
    ok = scim.post("/Users", user("ok@acme.com")).json
    assert sam is not None and eve is not None and ok is not None
    assert scim.post("/Groups", group("AI Users", sam["id"], ok["id"])).status_code == 201
    assert scim.post("/Groups", group("AI Admins", eve["id"])).status_code == 201
    with session_factory() as session:
        body = session.scalars(select(SavedPlan.body).order_by(SavedPlan.id.desc())).first()
    assert body is not None
    assert [(o["op"], o["user"]) for o in body["operations"]] == [("invite", "ok@acme.com")]
    ids = ", ".join(sorted([sam["id"], eve["id"]]))
    assert body["skipped"] == [
        {
            "op": "invite",
            "user": "strasse@acme.com",
            "why": "identity_conflict",
            "detail": f"directory users {ids} claim strasse@acme.com; no one is invited "
            "until the IdP tells them apart",
        }
    ]


def test_a_group_patch_adding_a_thousand_members_reconciles_them_in_one_pass(
    app: Flask, session_factory: sessionmaker[Session]
) -> None:
    """One PATCH, one reconcile run, a thousand invitations."""
    scim = org_with_mapping(app, session_factory, "aihub", AIHUB.format(apply="auto"))
    made = scim.post("/Groups", group("AI Users")).json
    assert made is not None
    ids = [f"{n:032x}" for n in range(1000)]
    with session_factory.begin() as session:
        org_id = session.scalars(select(Organisation.id)).one()
        source = scim_source(session, org_id)
        now = utcnow()
        session.add_all(
            DirectoryUser(
                org_id=org_id,
                source_id=source.id,
                ext_id=i,
                user_name=f"u{i}@acme.com",
                user_name_key=f"u{i}@acme.com",
                emails=[f"u{i}@acme.com"],
                resource={"userName": f"u{i}@acme.com"},
                created_at=now,
                updated_at=now,
            )
            for i in ids
        )
    with session_factory() as session:
        runs_before = session.scalar(select(func.count()).select_from(SyncRun))
    response = scim.patch(f"/Groups/{made['id']}?excludedAttributes=members", add_members(ids))
    assert response.status_code == 200
    with session_factory() as session:
        runs_after = session.scalar(select(func.count()).select_from(SyncRun))
    assert runs_after == (runs_before or 0) + 1
    found = members(session_factory)
    assert len(found) == 1000 and set(found.values()) == {("user", "invited")}


def test_entra_app_roles_and_groups_give_aihub_roles(
    app: Flask, session_factory: sessionmaker[Session]
) -> None:
    """Entra's replayed requests: an app role Admin makes an admin, a group makes users."""
    scim = org_with_mapping(app, session_factory, "aihub", AIHUB.format(apply="auto"))
    replay(scim, "entra-app-roles.json")
    saved = replay(scim, "entra-groups-aadOptscim062020.json")
    scim.patch(
        f"/Groups/{saved['group']}",
        {
            "schemas": [PATCH],
            "Operations": [{"op": "replace", "value": {"displayName": "AI Users"}}],
        },
    )
    assert members(session_factory) == {
        "role.user@contoso.com": ("admin", "invited"),
        "flag_user_2@testuser.com": ("user", "invited"),
    }


def test_okta_group_push_gives_shareofmodel_roles(
    app: Flask, session_factory: sessionmaker[Session]
) -> None:
    """Okta's replayed users and pushed groups: in scope and analyst makes an editor.

    The other user is in scope but matches no rule, and ``unmapped: remove`` gives
    such a user no seat.
    """
    scim = org_with_mapping(app, session_factory, "shareofmodel", SHAREOFMODEL)
    saved = replay(scim, "okta-group-push.json")
    scope = scim.post("/Groups", group("SOM Users", saved["user"], saved["other"])).json
    analysts = scim.post("/Groups", group("SOM Analysts", saved["user"])).json
    assert scope is not None and analysts is not None
    assert members(session_factory) == {
        "test.user@okta.local": ("editor", "invited"),
    }
