"""Admin API: who may approve and apply a plan, for each preset's lowest and top role."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from mappings.directory import Directory
from sync.models import Member, WorkspaceRole
from tests.e2e.admin.conftest import Seeded, directory_of

# preset -> (read-only roles, the admin role, the member's org role, the workspace role given)
CASES = {
    "aihub": (("user",), "admin", "user", "user"),
    "shareofmodel": (("guest", "viewer"), "owner", "guest", "viewer"),
    "annotation": (("member",), "admin", "member", "developer"),
    "generic": (("member",), "owner", "member", "editor"),
}


def _mapping(preset: str, org_role: str, workspace_role: str) -> str:
    return f"""\
role_model: {preset}
rules:
  - group: "Staff"
    org_role: {org_role}
  - group: "Team"
    workspace: w1
    workspace_role: {workspace_role}
policy:
  unmapped: keep
  max_removals: 5
"""


def _workspace_only_plan(
    client: FlaskClient,
    seed: Callable[..., Seeded],
    put_directory: Callable[[int, Directory], None],
    save_version: Callable[[int, str], int],
    preset: str,
) -> tuple[Seeded, int, str]:
    """An org whose pending plan only gives ana a workspace role in w1."""
    low, admin, org_role, ws_role = CASES[preset]
    org = seed(
        preset,
        preset,
        [*low, admin],
        [("ana@corp.com", org_role, "joined", "idp", {})],
        workspaces={"w1": 0},
    )
    put_directory(org.id, directory_of({"ana@corp.com": ["Staff", "Team"]}))
    save_version(org.id, _mapping(preset, org_role, ws_role))
    made = client.post(f"/api/v1/orgs/{preset}/plans", headers=org.auth(admin), json={})
    assert (made.status_code, made.json["status"]) == (201, "pending"), made.json
    assert {op["op"] for op in made.json["plan"]["operations"]} == {"add_to_workspace"}
    return org, made.json["id"], made.json["fingerprint"]


def _workspace_roles(session_factory: sessionmaker[Session]) -> list[str]:
    with session_factory.begin() as s:
        return list(s.scalars(select(WorkspaceRole.role).join(Member)))


@pytest.mark.parametrize("preset", sorted(CASES))
def test_a_role_that_manages_no_one_never_approves_or_applies_a_workspace_plan(
    client: FlaskClient,
    seed: Callable[..., Seeded],
    put_directory: Callable[[int, Directory], None],
    save_version: Callable[[int, str], int],
    session_factory: sessionmaker[Session],
    preset: str,
) -> None:
    """Each read-only role gets 403 on approve and apply; the plan stays pending."""
    org, plan_id, fp = _workspace_only_plan(client, seed, put_directory, save_version, preset)
    base = f"/api/v1/orgs/{preset}/plans/{plan_id}"
    for role in CASES[preset][0]:
        approve = client.post(f"{base}/approve", headers=org.auth(role), json={"fingerprint": fp})
        apply = client.post(f"{base}/apply", headers=org.auth(role))
        assert (approve.status_code, apply.status_code) == (403, 403), (role, approve.json)
        assert "manages no one" in approve.json["detail"]
    shown = client.get(base, headers=org.auth(CASES[preset][1]))
    assert shown.json["status"] == "pending"
    assert _workspace_roles(session_factory) == []


@pytest.mark.parametrize("preset", sorted(CASES))
def test_the_admin_role_approves_and_applies_the_same_workspace_plan(
    client: FlaskClient,
    seed: Callable[..., Seeded],
    put_directory: Callable[[int, Directory], None],
    save_version: Callable[[int, str], int],
    session_factory: sessionmaker[Session],
    preset: str,
) -> None:
    """The role that manages every role the plan touches approves and applies it."""
    org, plan_id, fp = _workspace_only_plan(client, seed, put_directory, save_version, preset)
    base, admin = f"/api/v1/orgs/{preset}/plans/{plan_id}", CASES[preset][1]
    approve = client.post(f"{base}/approve", headers=org.auth(admin), json={"fingerprint": fp})
    assert approve.status_code == 200, approve.json
    apply = client.post(f"{base}/apply", headers=org.auth(admin))
    assert (apply.status_code, apply.json["status"]) == (200, "applied"), apply.json
    assert CASES[preset][3] in _workspace_roles(session_factory)


def test_a_soterai_member_key_never_approves_a_plan(
    client: FlaskClient,
    seed: Callable[..., Seeded],
    put_directory: Callable[[int, Directory], None],
    save_version: Callable[[int, str], int],
) -> None:
    """soterai has no workspaces: a member key is refused an org-role plan it cannot manage."""
    org = seed("sot", "soterai", ["member", "owner"])
    put_directory(org.id, directory_of({"ana@corp.com": ["Staff"]}))
    save_version(
        org.id,
        'role_model: soterai\nrules:\n  - group: "Staff"\n    org_role: member\n'
        "policy:\n  unmapped: keep\n  max_removals: 5\n",
    )
    made = client.post("/api/v1/orgs/sot/plans", headers=org.auth("owner"), json={})
    base = f"/api/v1/orgs/sot/plans/{made.json['id']}"
    fp = {"fingerprint": made.json["fingerprint"]}
    approve = client.post(f"{base}/approve", headers=org.auth("member"), json=fp)
    apply = client.post(f"{base}/apply", headers=org.auth("member"))
    assert (approve.status_code, apply.status_code) == (403, 403)
    assert client.post(f"{base}/approve", headers=org.auth("owner"), json=fp).status_code == 200
