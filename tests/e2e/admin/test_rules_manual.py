"""The role model's rules on changes made by hand, through the live paths: the admin API,
the CLI (click's runner) and the admin pages, on SQLite and PostgreSQL. Each test is
named after the rule it shows."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from datetime import timedelta
from email import message_from_bytes
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from flask.testing import FlaskClient
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session, sessionmaker

from mappings.authority import Caller
from mappings.directory import Directory, DirectoryGroup, DirectoryUser, GroupMember
from mappings.presets import PRESETS
from rolebridge.cli import main
from sync.errors import Refused
from sync.models import AuditEntry, Member, Organisation, OutboxMessage, utcnow
from sync.services.members import set_member
from sync.settings import record_served_url
from sync.store.platform import losses_since
from tests.e2e.admin.conftest import Seeded, sign_in

_LINK = re.compile(r"https?://\S+/invite/(\S+)")


def _run(cli: CliRunner, *args: str, code: int = 0) -> Result:
    result = cli.invoke(main, list(args))
    assert result.exit_code == code, result.output
    if code:
        assert len(result.output.strip().splitlines()) == 1, result.output
        assert result.output.startswith("error: "), result.output
    return result


def _members(session_factory: sessionmaker[Session], org: str) -> dict[str, tuple[str, str]]:
    with session_factory() as s:
        rows = s.execute(
            select(Member.email, Member.org_role, Member.status)
            .join(Organisation, Organisation.id == Member.org_id)
            .where(Organisation.name == org)
        )
        return {e: (r, st) for e, r, st in rows}


def _outbox(session_factory: sessionmaker[Session]) -> list[tuple[str, str]]:
    with session_factory() as s:
        return [
            (m.kind, m.recipient)
            for m in s.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
        ]


def _audit(session_factory: sessionmaker[Session]) -> list[tuple[str, str, str]]:
    with session_factory() as s:
        return [
            (a.op, a.user, a.actor) for a in s.scalars(select(AuditEntry).order_by(AuditEntry.id))
        ]


def _boss(seed: Callable[..., Seeded], name: str = "solo") -> Seeded:
    return seed(
        name,
        "soterai",
        ["owner", "manager"],
        [
            ("boss@acme.com", "owner", "joined", "manual", {}),
            ("mia@acme.com", "member", "joined", "manual", {}),
            ("ida@acme.com", "member", "joined", "idp", {}),
        ],
    )


# who may do what ------------------------------------------------------------------


@pytest.mark.xfail(
    "editor" in PRESETS["shareofmodel"].manages,
    reason="the shareofmodel preset still lets editors manage members",
    strict=True,
)
def test_rule_shareofmodel_editor_cannot_invite(
    client: FlaskClient, seed: Callable[..., Seeded], session_factory: sessionmaker[Session]
) -> None:
    """Share of Model: only organisation owners manage members; an editor's key is a 403."""
    org = seed("som", "shareofmodel", ["owner", "editor"], workspaces={"a": 0})
    r = client.put(
        "/api/v1/orgs/som/members",
        headers=org.auth("editor"),
        json={"email": "new@x.com", "org_role": "guest"},
    )
    assert (r.status_code, r.json["reason"]) == (403, "not_permitted")
    assert _members(session_factory, "som") == {}


def test_rule_soterai_manager_never_manages_owners(
    client: FlaskClient, seed: Callable[..., Seeded], session_factory: sessionmaker[Session]
) -> None:
    """SoterAI: a manager's key neither invites an owner nor removes one (403, nothing
    changes), and may invite a member."""
    org = _boss(seed)
    invite = client.put(
        "/api/v1/orgs/solo/members",
        headers=org.auth("manager"),
        json={"email": "o2@acme.com", "org_role": "owner"},
    )
    remove = client.delete("/api/v1/orgs/solo/members/boss@acme.com", headers=org.auth("manager"))
    for r in (invite, remove):
        assert (r.status_code, r.json["reason"]) == (403, "not_permitted"), r.json
    assert remove.json["field"] == "email" and invite.json["field"] == "org_role"
    ok = client.put(
        "/api/v1/orgs/solo/members",
        headers=org.auth("manager"),
        json={"email": "m2@acme.com", "org_role": "member"},
    )
    assert ok.status_code == 201
    assert _members(session_factory, "solo")["boss@acme.com"] == ("owner", "joined")
    assert "o2@acme.com" not in _members(session_factory, "solo")


def test_rule_shareofmodel_workspace_roles_only_for_guests(
    client: FlaskClient,
    seed: Callable[..., Seeded],
    session_factory: sessionmaker[Session],
    cli: CliRunner,
) -> None:
    """Share of Model: an org viewer already sees every workspace; a workspace role for
    them is a 422 by the API and one line by the CLI, and nothing is stored."""
    org = seed(
        "som",
        "shareofmodel",
        ["owner"],
        [("v@x.com", "viewer", "joined", "manual", {})],
        workspaces={"brand-a": 0},
    )
    r = client.put(
        "/api/v1/orgs/som/members",
        headers=org.auth("owner"),
        json={"email": "v@x.com", "workspaces": {"brand-a": ["viewer"]}},
    )
    assert (r.status_code, r.json["reason"], r.json["field"]) == (
        422,
        "covered_by_org_role",
        "workspaces.brand-a",
    )
    args = ("member", "add", "--org", "som", "o@x.com", "--role", "owner")
    refused = _run(cli, *args, "--workspace", "brand-a=viewer", code=1)
    assert "workspace roles are for guest" in refused.output
    assert _members(session_factory, "som") == {"v@x.com": ("viewer", "joined")}
    guest = _run(
        cli,
        "member",
        "add",
        "--org",
        "som",
        "g@x.com",
        "--role",
        "guest",
        "--workspace",
        "brand-a=viewer",
    )
    assert "invite, add_to_workspace" in guest.output


def test_rule_idp_managed_members_are_changed_in_the_idp(
    client: FlaskClient, seed: Callable[..., Seeded], cli: CliRunner
) -> None:
    """A member the IdP provisioned keeps the roles its groups give: a change or removal
    by hand is a 409 ``idp_managed`` (API) and one line (CLI)."""
    org = _boss(seed)
    r = client.delete("/api/v1/orgs/solo/members/ida@acme.com", headers=org.auth("owner"))
    assert (r.status_code, r.json["reason"]) == (409, "idp_managed")
    out = _run(cli, "member", "set", "--org", "solo", "ida@acme.com", "--role", "manager", code=1)
    assert "identity provider manages this member" in out.output


# the top role -----------------------------------------------------------------------


def test_rule_soterai_last_owner_counts_joined_owners_only(
    client: FlaskClient, seed: Callable[..., Seeded], session_factory: sessionmaker[Session]
) -> None:
    """With boss the only joined owner, inviting newowner as owner does not let boss be
    demoted or removed: 409 ``last_owner``, boss stays owner."""
    org = _boss(seed)
    invited = client.put(
        "/api/v1/orgs/solo/members",
        headers=org.auth("owner"),
        json={"email": "newowner@acme.com", "org_role": "owner"},
    )
    assert (invited.status_code, invited.json["status"]) == (201, "invited")
    demote = client.put(
        "/api/v1/orgs/solo/members",
        headers=org.auth("owner"),
        json={"email": "boss@acme.com", "org_role": "member"},
    )
    remove = client.delete("/api/v1/orgs/solo/members/boss@acme.com", headers=org.auth("owner"))
    for r in (demote, remove):
        assert (r.status_code, r.json["reason"]) == (409, "last_owner"), r.json
    assert "boss@acme.com is the last owner who has joined" in demote.json["detail"]
    assert _members(session_factory, "solo")["boss@acme.com"] == ("owner", "joined")


def test_rule_the_last_owner_may_step_down_once_another_owner_has_joined(
    cli: CliRunner, seed: Callable[..., Seeded], session_factory: sessionmaker[Session]
) -> None:
    """Once the second owner has joined (accepted the invite), boss may be demoted."""
    _boss(seed)
    _run(cli, "member", "add", "--org", "solo", "newowner@acme.com", "--role", "owner")
    _run(cli, "member", "set", "--org", "solo", "boss@acme.com", "--role", "member", code=1)
    link = _run(cli, "invite", "link", "--org", "solo", "newowner@acme.com").output.strip()
    token = link.rsplit("/", 1)[1]
    _run(cli, "invite", "accept", token)
    _run(cli, "member", "set", "--org", "solo", "boss@acme.com", "--role", "member")
    assert _members(session_factory, "solo")["boss@acme.com"] == ("member", "joined")


def test_rule_org_create_invites_the_first_holder_of_the_top_role(
    cli: CliRunner, session_factory: sessionmaker[Session]
) -> None:
    """``org create --owner`` (``--admin`` alike) invites the first owner, by email."""
    out = _run(cli, "org", "create", "Acme", "--role-model", "soterai", "--owner", "Ceo@Acme.com")
    assert "invited ceo@acme.com as owner" in out.output
    _run(cli, "org", "create", "Hub", "--role-model", "aihub", "--admin", "root@hub.com")
    assert _members(session_factory, "Acme") == {"ceo@acme.com": ("owner", "invited")}
    assert _members(session_factory, "Hub") == {"root@hub.com": ("admin", "invited")}
    assert _outbox(session_factory) == [("welcome", "ceo@acme.com"), ("welcome", "root@hub.com")]
    bad = _run(cli, "org", "create", "Bad", "--role-model", "soterai", "--owner", "nope", code=1)
    assert "not an email address" in bad.output
    with session_factory() as s:  # a refused invite creates no org
        assert s.scalar(select(Organisation).where(Organisation.name == "Bad")) is None


def _people(*users: tuple[str, bool]) -> Directory:
    dir_users = tuple(DirectoryUser(id=e, user_name=e, emails=(e,), active=a) for e, a in users)
    owners = DirectoryGroup(
        id="g-owners",
        display_name="Owners",
        members=tuple(GroupMember(e, "User") for e, _ in users),
    )
    return Directory(users=dir_users, groups=(owners,))


OWNERS = """\
role_model: shareofmodel
rules:
  - group: "Owners"
    org_role: owner
policy:
  max_removals: 5
"""


def test_rule_shareofmodel_deactivated_owner_is_suspended_while_another_owner_remains(
    client: FlaskClient,
    seed: Callable[..., Seeded],
    put_directory: Callable[[int, Directory], None],
    save_version: Callable[[int, str], int],
) -> None:
    """An owner deactivated in the IdP loses access (suspended) although owner is a
    protected role, when another joined owner remains; the last one holds the plan
    with ``last_owner``."""
    org = seed(
        "som",
        "shareofmodel",
        ["owner"],
        [("a@x.com", "owner", "joined", "idp", {}), ("b@x.com", "owner", "joined", "idp", {})],
    )
    save_version(org.id, OWNERS)
    put_directory(org.id, _people(("a@x.com", False), ("b@x.com", True)))
    plan = client.post("/api/v1/orgs/som/plans", headers=org.auth("owner"), json={}).json["plan"]
    assert [(o["op"], o["user"]) for o in plan["operations"]] == [("suspend", "a@x.com")]
    assert plan["held"] is None
    put_directory(org.id, _people(("a@x.com", False), ("b@x.com", False)))
    plan = client.post("/api/v1/orgs/som/plans", headers=org.auth("owner"), json={}).json["plan"]
    assert plan["held"]["why"] == "last_owner"
    assert "the last owner who has joined, is deactivated" in plan["held"]["detail"]


# invites by hand -----------------------------------------------------------------------


def test_rule_a_manual_invite_is_delivered_with_a_link_that_works(
    client: FlaskClient, seed: Callable[..., Seeded], cli: CliRunner, tmp_path: Path
) -> None:
    """An invite by hand queues the welcome email; delivered, the .eml holds the link in
    plain text at the port ``serve`` was given, and the link accepts the invite."""
    org = _boss(seed)
    record_served_url(tmp_path / "instance", "http://127.0.0.1:9123")
    r = client.put(
        "/api/v1/orgs/solo/members",
        headers=org.auth("owner"),
        json={"email": "New@Acme.com", "org_role": "manager"},
    )
    assert (r.status_code, r.json["status"], r.json["origin"]) == (201, "invited", "manual")
    _run(cli, "outbox", "deliver")
    (eml,) = (tmp_path / "instance" / "outbox").glob("*.eml")
    message = message_from_bytes(eml.read_bytes())
    assert message["To"] == "new@acme.com"
    assert message["Content-Transfer-Encoding"] in ("7bit", "8bit")
    link = _LINK.search(eml.read_text())
    assert link is not None and link.group(0).startswith("http://127.0.0.1:9123/invite/")
    assert "joined" in _run(cli, "invite", "accept", link.group(1)).output


def test_rule_an_invite_is_resendable_at_any_time(
    client: FlaskClient, seed: Callable[..., Seeded], session_factory: sessionmaker[Session]
) -> None:
    """Resend (the platform's bell) queues a reminder at once, audited; a joined member
    has no invite to resend (409)."""
    org = _boss(seed)
    client.put(
        "/api/v1/orgs/solo/members",
        headers=org.auth("owner"),
        json={"email": "new@acme.com", "org_role": "member"},
    )
    r = client.post("/api/v1/orgs/solo/members/new@acme.com/resend", headers=org.auth("manager"))
    assert (r.status_code, r.json["status"]) == (200, "invited")
    assert _outbox(session_factory) == [
        ("welcome", "new@acme.com"),
        ("invite_resend", "new@acme.com"),
    ]
    assert _audit(session_factory)[-1][:2] == ("resend_invite", "new@acme.com")
    joined = client.post("/api/v1/orgs/solo/members/mia@acme.com/resend", headers=org.auth("owner"))
    assert joined.status_code == 409 and "not a pending invite" in joined.json["detail"]


def test_rule_an_expired_invite_is_reinvited(
    cli: CliRunner, seed: Callable[..., Seeded], session_factory: sessionmaker[Session]
) -> None:
    """Share of Model invites expire after 30 days; resending renews it, and the link works."""
    seed("som", "shareofmodel", ["owner"], [("o@x.com", "owner", "joined", "manual", {})])
    _run(cli, "member", "add", "--org", "som", "g@x.com", "--role", "viewer")
    with session_factory.begin() as s:
        s.execute(update(Member).values(invited_at=utcnow() - timedelta(days=40)))
    old = _run(cli, "invite", "link", "--org", "som", "g@x.com").output.strip()
    expired = _run(cli, "invite", "accept", old.rsplit("/", 1)[1], code=1)
    assert "expired" in expired.output
    assert (
        "resend_invite; 1 email(s) queued"
        in _run(cli, "invite", "resend", "--org", "som", "g@x.com").output
    )
    new = _run(cli, "invite", "link", "--org", "som", "g@x.com").output.strip()
    _run(cli, "invite", "accept", new)
    assert _members(session_factory, "som")["g@x.com"] == ("viewer", "joined")


def test_rule_a_revoked_invite_stops_working(
    client: FlaskClient, seed: Callable[..., Seeded], cli: CliRunner
) -> None:
    """Revoking a pending invite removes it; its link no longer accepts, and a joined
    member cannot be "revoked" (409)."""
    org = _boss(seed)
    _run(cli, "member", "add", "--org", "solo", "new@acme.com", "--role", "member")
    link = _run(cli, "invite", "link", "--org", "solo", "new@acme.com").output.strip()
    r = client.post("/api/v1/orgs/solo/members/new@acme.com/revoke", headers=org.auth("owner"))
    assert (r.status_code, [o["op"] for o in r.json["operations"]]) == (200, ["revoke_invite"])
    assert "not valid" in _run(cli, "invite", "accept", link.rsplit("/", 1)[1], code=1).output
    again = _run(cli, "invite", "revoke", "--org", "solo", "mia@acme.com", code=1)
    assert "not a pending invite" in again.output


def test_rule_soterai_removal_revokes_access_at_once_and_counts_as_a_loss(
    client: FlaskClient, seed: Callable[..., Seeded], session_factory: sessionmaker[Session]
) -> None:
    """A removal by hand deletes the member at once, is audited with its loss, and counts
    in the org's removal window like the IdP path's."""
    org = _boss(seed)
    r = client.delete("/api/v1/orgs/solo/members/mia@acme.com", headers=org.auth("manager"))
    assert (r.status_code, [o["op"] for o in r.json["operations"]]) == (200, ["remove_from_org"])
    assert "mia@acme.com" not in _members(session_factory, "solo")
    with session_factory() as s:
        entry = s.scalars(select(AuditEntry)).one()
        assert (entry.op, entry.actor, entry.detail["loss"]) == (
            "remove_from_org",
            entry.actor,
            "removal",
        )
        assert entry.actor.endswith("manager key")
        assert losses_since(s, org.id, utcnow() - timedelta(hours=1)) == 1
    missing = client.delete("/api/v1/orgs/solo/members/mia@acme.com", headers=org.auth("owner"))
    assert missing.status_code == 404


def test_rule_cli_member_commands_change_members_as_plans(
    cli: CliRunner, seed: Callable[..., Seeded], session_factory: sessionmaker[Session]
) -> None:
    """member add, set and remove through the CLI; each writes its operations' audit."""
    seed("lab", "annotation", [], workspaces={"w1": 0, "w2": 0})
    _run(
        cli,
        "member",
        "add",
        "--org",
        "lab",
        "a@lab.com",
        "--role",
        "member",
        "--workspace",
        "w1=admin,member",
    )
    set_out = _run(
        cli,
        "member",
        "set",
        "--org",
        "lab",
        "a@lab.com",
        "--workspace",
        "w1=",
        "--workspace",
        "w2=developer",
    )
    assert "add_to_workspace, remove_from_workspace" in set_out.output
    _run(cli, "member", "remove", "--org", "lab", "a@lab.com")
    assert _members(session_factory, "lab") == {}
    ops = [op for op, _, actor in _audit(session_factory) if actor == "cli"]
    assert ops == [
        "invite",
        "add_to_workspace",
        "add_to_workspace",
        "remove_from_workspace",
        "revoke_invite",
    ]
    _run(cli, "member", "remove", "--org", "lab", "ghost@lab.com", code=1)
    _run(cli, "member", "add", "--org", "lab", "b@lab.com", "--role", "boss", code=1)


# the admin pages ----------------------------------------------------------------------


def test_rule_the_member_page_resends_and_removes_through_the_same_rules(
    client: FlaskClient, seed: Callable[..., Seeded], session_factory: sessionmaker[Session]
) -> None:
    """The member page's Resend and Remove call the services: a manager resends an
    invite and removes a member; removing an owner is refused with the rule's words."""
    org = seed(
        "solo",
        "soterai",
        ["manager"],
        [
            ("boss@acme.com", "owner", "joined", "manual", {}),
            ("new@acme.com", "member", "invited", "manual", {}),
        ],
    )
    csrf = sign_in(client, org.keys["manager"])
    page = client.get("/admin/members/new@acme.com").get_data(as_text=True)
    assert "Resend invite" in page and "Revoke invite" in page
    r = client.post("/admin/members/new@acme.com/resend", data={"csrf_token": csrf})
    assert r.status_code == 303
    assert _outbox(session_factory) == [("invite_resend", "new@acme.com")]
    no_csrf = client.post("/admin/members/new@acme.com/remove", data={})
    assert no_csrf.status_code == 400
    r = client.post("/admin/members/new@acme.com/remove", data={"csrf_token": csrf})
    assert r.status_code == 303 and "new@acme.com" not in _members(session_factory, "solo")
    refused = client.post(
        "/admin/members/boss@acme.com/remove",
        data={"csrf_token": csrf},
        headers={"Referer": "http://localhost/admin/members/boss@acme.com"},
        follow_redirects=True,
    )
    assert "may not manage members with role owner" in refused.get_data(as_text=True)
    assert _members(session_factory, "solo")["boss@acme.com"] == ("owner", "joined")


# concurrency --------------------------------------------------------------------------


def test_rule_concurrent_changes_keep_a_joined_owner(
    engine: Engine, session_factory: sessionmaker[Session], seed: Callable[..., Seeded]
) -> None:
    """16 changes at once, each demoting or removing one of four joined owners: the org
    lock serialises them, so at least one joined owner remains and every refusal says
    ``last_owner``."""
    if engine.dialect.name != "postgresql":
        pytest.skip("concurrent writers are a PostgreSQL matter (SQLite has one writer)")
    owners = [f"o{n}@acme.com" for n in range(4)]
    seed("busy", "soterai", [], [(e, "owner", "joined", "manual", {}) for e in owners])
    operator = Caller("cli", None)
    outcomes: list[str] = []
    start = threading.Barrier(16)

    def change(n: int) -> None:
        start.wait()
        try:
            set_member(session_factory, "busy", owners[n % 4], "member", caller=operator)
            outcomes.append("ok")
        except Refused as exc:
            outcomes.append(exc.reason)

    threads = [threading.Thread(target=change, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    joined_owners = [
        e
        for e, (role, status) in _members(session_factory, "busy").items()
        if role == "owner" and status == "joined"
    ]
    assert len(joined_owners) == 1
    assert sorted(set(outcomes)) == ["last_owner", "ok"] and len(outcomes) == 16
