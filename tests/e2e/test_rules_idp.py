"""Every rule of the four platforms that the IdP path, the presets and the admin API's
authority decide, checked through the live paths: SCIM writes, /api/v1, the CLI and the
scheduler's housekeeping job. Each test is named after its rule (docs/rules.md)."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session, sessionmaker

from mappings.authority import Caller, key_roles
from mappings.presets import load_role_model
from mappings.state import Member
from rolebridge.cli import main
from sync.credentials.apikeys import create_api_key
from sync.credentials.tokens import create_token
from sync.housekeeping import housekeep
from sync.models import Member as MemberRow
from sync.models import OutboxMessage, SavedPlan, utcnow
from sync.scheduler import PullScheduler, run_housekeeping
from sync.services.members import invite_member
from sync.store.mappings import save_mapping
from sync.store.orgs import create_org, create_workspace
from sync.store.platform import load_state
from tests.e2e.conftest import Scim, group, user

PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


@dataclass
class Org:
    """An org made for a rule: its id, its SCIM client and an API client."""

    id: int
    name: str
    scim: Scim
    client: FlaskClient
    factory: sessionmaker[Session]

    def members(self) -> dict[str, Member]:
        """The platform's members by email."""
        with self.factory() as s:
            return {m.email: m for m in load_state(s, self.id).members}

    def key(self, role: str, workspaces: Mapping[str, str] | None = None) -> dict[str, str]:
        """Headers of a new API key of ``role`` (and workspace roles)."""
        return {"Authorization": f"Bearer {self.raw_key(role, workspaces)}"}

    def raw_key(self, role: str, workspaces: Mapping[str, str] | None = None) -> str:
        """A new API key of ``role`` (and workspace roles)."""
        with self.factory.begin() as s:
            model = load_role_model(_preset(s, self.id))
            roles = (*key_roles(model), role)
            _, key = create_api_key(s, self.id, role, roles, f"{role} key", workspaces)
        return key

    def push(self, email: str, *groups: str) -> str:
        """Push a user over SCIM, and add them to these groups (made when missing)."""
        made = self.scim.post("/Users", user(email)).json
        assert made is not None, email
        for name in groups:
            self.join(made["id"], name)
        return str(made["id"])

    def join(self, user_id: str, name: str) -> None:
        """Add a pushed user to the group ``name`` (created on first use)."""
        found = self.scim.get(f'/Groups?filter=displayName eq "{name}"').json
        assert found is not None
        if found["totalResults"] == 0:
            assert self.scim.post("/Groups", group(name, user_id)).status_code == 201
            return
        gid = found["Resources"][0]["id"]
        add = {"op": "add", "path": "members", "value": [{"value": user_id}]}
        assert self.scim.patch(
            f"/Groups/{gid}", {"schemas": [PATCH], "Operations": [add]}
        ).status_code in (200, 204)

    def deactivate(self, user_id: str) -> None:
        """The IdP's PATCH active:false."""
        off = {"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"active": False}}]}
        assert self.scim.patch(f"/Users/{user_id}", off).status_code == 200

    def mails(self) -> list[tuple[str, str]]:
        """(kind, recipient) of every email queued for the org."""
        with self.factory() as s:
            rows = s.execute(
                select(OutboxMessage.kind, OutboxMessage.recipient)
                .where(OutboxMessage.org_id == self.id)
                .order_by(OutboxMessage.id)
            ).all()
        return [(k, r) for k, r in rows]


def add_member(
    factory: Any,
    org_id: int,
    email: str,
    role: str,
    workspaces: dict[str, list[str]] | None = None,
) -> None:
    """A member added by hand (the operator's invite, a plan like any other) who has joined."""
    invite_member(factory, org_id, email, role, workspaces, caller=Caller("test", None))
    with factory.begin() as s:
        s.execute(
            update(MemberRow)
            .where(MemberRow.org_id == org_id, MemberRow.email == email)
            .values(status="joined")
        )


def _preset(s: Session, org_id: int) -> str:
    from sync.store.orgs import get_org

    return get_org(s, org_id).role_model


@pytest.fixture
def make_org(app: Flask, session_factory: sessionmaker[Session]) -> Any:
    """Make an org on a preset with a mapping, workspaces and a SCIM token."""

    def _make(
        preset: str,
        mapping: str,
        *,
        plan: str | None = None,
        credits: int | None = None,
        workspaces: Sequence[str] = (),
    ) -> Org:
        with session_factory.begin() as s:
            org = create_org(s, f"{preset}-org", preset, plan=plan, credits=credits)
            for ws in workspaces:
                create_workspace(s, org.id, ws)
            save_mapping(s, org.id, mapping)
            _, token = create_token(s, org.name)
            org_id, name = org.id, org.name
        return Org(org_id, name, Scim(app.test_client(), token), app.test_client(), session_factory)

    return _make


@pytest.fixture
def cli(engine: Engine, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> Iterator[CliRunner]:
    """The CLI on the test database."""
    monkeypatch.setenv("DATABASE_URL", engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("ROLEBRIDGE_INSTANCE", str(tmp_path / "instance"))
    yield CliRunner()


def _run(cli: CliRunner, *args: str, code: int = 0) -> Result:
    result = cli.invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result


# shareofmodel ------------------------------------------------------------------------

SOM = """
role_model: shareofmodel
rules:
  - group: "SOM Owners"
    org_role: owner
  - group: "SOM Editors"
    org_role: editor
  - group: "SOM Viewers"
    org_role: viewer
  - match: "^ws-(?P<workspace>[a-z0-9-]+)-(?P<role>viewer|editor)$"
    workspace: "{workspace}"
    workspace_role: "{role}"
policy:
  max_removals: 100
  acting_role: owner
"""


def test_rule_shareofmodel_only_owners_manage_members(make_org: Any) -> None:
    """An editor's key invites no one and creates no workspace (403); an owner's does."""
    org = make_org("shareofmodel", SOM, plan="enterprise", credits=100)
    editor, owner = org.key("editor"), org.key("owner")
    body = {"email": "new@acme.com", "org_role": "guest"}
    refused = org.client.put(f"/api/v1/orgs/{org.name}/members", headers=editor, json=body)
    assert refused.status_code == 403, refused.json
    ws = org.client.post(f"/api/v1/orgs/{org.name}/workspaces", headers=editor, json={"name": "a"})
    assert ws.status_code == 403, ws.json
    assert org.members() == {}
    ok = org.client.post(f"/api/v1/orgs/{org.name}/workspaces", headers=owner, json={"name": "a"})
    assert ok.status_code == 201, ok.json
    assert (
        org.client.put(f"/api/v1/orgs/{org.name}/members", headers=owner, json=body).status_code
        == 201
    )


def test_rule_shareofmodel_workspace_roles_only_for_guests(make_org: Any) -> None:
    """An org viewer in a workspace group gets no workspace role (the org role covers every
    workspace); a guest does; a manual workspace role for a viewer is refused (422)."""
    org = make_org("shareofmodel", SOM, workspaces=("brand-a",))
    org.push("vic@acme.com", "SOM Viewers", "ws-brand-a-viewer")
    org.push("gus@acme.com", "ws-brand-a-viewer")
    got = org.members()
    assert (got["vic@acme.com"].org_role, dict(got["vic@acme.com"].workspaces)) == ("viewer", {})
    assert (got["gus@acme.com"].org_role, dict(got["gus@acme.com"].workspaces)) == (
        "guest",
        {"brand-a": ("viewer",)},
    )
    body = {"email": "v2@acme.com", "org_role": "viewer", "workspaces": {"brand-a": ["viewer"]}}
    refused = org.client.put(
        f"/api/v1/orgs/{org.name}/members", headers=org.key("owner"), json=body
    )
    assert refused.status_code == 422, refused.json


def test_rule_shareofmodel_welcome_email_only_for_new_emails(make_org: Any) -> None:
    """A new email gets a welcome email; an existing guest given a workspace gets none."""
    org = make_org("shareofmodel", SOM, workspaces=("brand-a", "brand-b"))
    gus = org.push("gus@acme.com", "ws-brand-a-viewer")
    assert org.mails() == [("welcome", "gus@acme.com")]
    org.join(gus, "ws-brand-b-editor")
    assert dict(org.members()["gus@acme.com"].workspaces) == {
        "brand-a": ("viewer",),
        "brand-b": ("editor",),
    }
    assert org.mails() == [("welcome", "gus@acme.com")]


def test_rule_shareofmodel_pro_has_one_workspace_from_creation(cli: CliRunner) -> None:
    """`org create --plan pro` makes the org's one workspace; a second is refused."""
    _run(cli, "db", "upgrade")
    made = _run(
        cli,
        "org",
        "create",
        "Pro",
        "--role-model",
        "shareofmodel",
        "--plan",
        "pro",
        "--credits",
        "50",
    )
    assert "workspace: Pro (the pro plan's one workspace)" in made.output
    second = _run(cli, "workspace", "create", "--org", "Pro", "two", code=1)
    assert second.output.strip() == "error: the pro plan allows 1 workspace; the org has 1"


def test_rule_shareofmodel_org_create_says_its_default_plan_and_credits(cli: CliRunner) -> None:
    """Without --plan and --credits, the org's plan and pool are printed as defaults."""
    _run(cli, "db", "upgrade")
    made = _run(cli, "org", "create", "Som", "--role-model", "shareofmodel").output
    assert "plan: enterprise (the shareofmodel default; --plan: pro, enterprise)" in made
    assert "credits: unlimited (the default; --credits N caps the pool)" in made


def test_rule_shareofmodel_workspace_credits_come_from_the_org(make_org: Any) -> None:
    """A workspace's credits come out of the org's pool: past it, 422."""
    org = make_org("shareofmodel", SOM, credits=100)
    owner = org.key("owner")
    url = f"/api/v1/orgs/{org.name}/workspaces"
    assert org.client.post(url, headers=owner, json={"name": "a", "credits": 70}).status_code == 201
    over = org.client.post(url, headers=owner, json={"name": "b", "credits": 40})
    assert over.status_code == 422 and "70 of 100 in use" in over.json["detail"]


def test_rule_shareofmodel_unknown_plan_refused(cli: CliRunner) -> None:
    """`org create --plan gold` names the plans the preset has."""
    _run(cli, "db", "upgrade")
    bad = _run(cli, "org", "create", "X", "--role-model", "shareofmodel", "--plan", "gold", code=1)
    assert "'gold' is not a shareofmodel plan; one of: pro, enterprise" in bad.output
    assert len(bad.output.strip().splitlines()) == 1


def test_rule_shareofmodel_removed_in_the_idp_removed_from_the_org(make_org: Any) -> None:
    """A user deleted in the IdP is removed from the org; a deactivated one is suspended."""
    org = make_org("shareofmodel", SOM)
    org.push("own@acme.com", "SOM Owners")
    ed = org.push("ed@acme.com", "SOM Editors")
    vi = org.push("vi@acme.com", "SOM Viewers")
    with org.factory.begin() as s:  # they accepted their invites
        s.execute(update(MemberRow).values(status="joined"))
    assert org.scim.delete(f"/Users/{ed}").status_code == 204
    org.deactivate(vi)
    got = org.members()
    assert "ed@acme.com" not in got
    assert got["vi@acme.com"].status == "suspended"


SOM_KEEP = SOM.replace("max_removals: 100", "max_removals: 100\n  unmapped: keep")


def test_rule_shareofmodel_invite_expires_without_any_write(make_org: Any) -> None:
    """An invite nobody accepted, of a person no rule maps any more, is revoked once it
    is older than the preset's expiry, by the housekeeping round alone."""
    org = make_org("shareofmodel", SOM_KEEP)
    vid = org.push("vic@acme.com", "SOM Viewers")
    found = org.scim.get('/Groups?filter=displayName eq "SOM Viewers"').json
    assert found is not None
    gid = found["Resources"][0]["id"]
    drop = {"op": "remove", "path": f'members[value eq "{vid}"]'}
    assert org.scim.patch(
        f"/Groups/{gid}", {"schemas": [PATCH], "Operations": [drop]}
    ).status_code in (200, 204)
    assert org.members()["vic@acme.com"].status == "invited"  # unmapped: keep
    days = load_role_model("shareofmodel").invites.expire_after_days
    assert days is not None
    assert housekeep(org.factory)[org.name] == "idle"
    with org.factory.begin() as s:
        s.execute(update(MemberRow).values(invited_at=utcnow() - timedelta(days=days + 1)))
    assert housekeep(org.factory)[org.name] == "applied"
    assert "vic@acme.com" not in org.members()


# aihub -------------------------------------------------------------------------------

AIHUB = """
role_model: aihub
rules:
  - group: "AI Admins"
    org_role: admin
  - group: "AI Users"
    org_role: user
  - group: "Alpha Users"
    workspace: alpha
    workspace_role: user
policy:
  max_removals: 100
  acting_role: admin
"""


def _invite_token(cli: CliRunner, outbox: Path) -> str:
    """Deliver the outbox to files and read the invite link of the one email."""
    _run(cli, "outbox", "deliver")
    [eml] = outbox.glob("*.eml")
    body = message_from_bytes(eml.read_bytes()).get_payload(decode=True)
    assert isinstance(body, bytes)
    found = re.search(r"/invite/([A-Za-z0-9_-]+)", body.decode())
    assert found is not None
    return found.group(1)


def test_rule_aihub_invited_until_accepted_then_joined(
    make_org: Any, cli: CliRunner, tmp_path: Path
) -> None:
    """A pushed user shows Invited; `invite accept` makes them Joined and re-plans them."""
    org = make_org("aihub", AIHUB, workspaces=("alpha",))
    org.push("ann@acme.com", "AI Users")
    assert org.members()["ann@acme.com"].status == "invited"
    accepted = _run(cli, "invite", "accept", _invite_token(cli, tmp_path / "instance" / "outbox"))
    assert "ann@acme.com has joined" in accepted.output
    assert org.members()["ann@acme.com"].status == "joined"


def test_rule_aihub_reminders_without_any_write(make_org: Any) -> None:
    """In an org fed only by SCIM, the scheduler's housekeeping job sends the reminder
    once the invite is old enough, with no write at all."""
    org = make_org("aihub", AIHUB)
    org.push("ann@acme.com", "AI Users")
    assert org.mails() == [("welcome", "ann@acme.com")]
    days = load_role_model("aihub").invites.resend_after_days
    assert days is not None
    with org.factory.begin() as s:
        s.execute(update(MemberRow).values(invited_at=utcnow() - timedelta(days=days + 1)))
    scheduler = PullScheduler(org.factory, refresh_seconds=3600, housekeeping="1h")
    scheduler.start()
    try:
        assert scheduler.scheduler.get_job("housekeeping", jobstore="local") is not None
        run_housekeeping()
    finally:
        scheduler.shutdown()
    assert org.mails() == [("welcome", "ann@acme.com"), ("invite_resend", "ann@acme.com")]


def test_rule_aihub_admin_is_manager_in_every_workspace(make_org: Any) -> None:
    """An admin holds no explicit workspace role: a workspace group does not give them one,
    and a manual lower role is refused (422)."""
    org = make_org("aihub", AIHUB, workspaces=("alpha",))
    org.push("boss@acme.com", "AI Admins", "Alpha Users")
    assert dict(org.members()["boss@acme.com"].workspaces) == {}
    body = {"email": "adm@acme.com", "org_role": "admin", "workspaces": {"alpha": ["user"]}}
    put = org.client.put(f"/api/v1/orgs/{org.name}/members", headers=org.key("admin"), json=body)
    assert put.status_code == 422, put.json


def test_rule_aihub_admin_loses_a_lower_explicit_role_when_promoted(make_org: Any) -> None:
    """A user of alpha promoted to admin over SCIM no longer holds the explicit user role."""
    org = make_org("aihub", AIHUB, workspaces=("alpha",))
    ann = org.push("ann@acme.com", "AI Users", "Alpha Users")
    assert dict(org.members()["ann@acme.com"].workspaces) == {"alpha": ("user",)}
    org.join(ann, "AI Admins")
    got = org.members()["ann@acme.com"]
    assert (got.org_role, dict(got.workspaces)) == ("admin", {})


def test_rule_aihub_workspace_manager_manages_only_their_workspace(make_org: Any) -> None:
    """A key carrying manager in alpha adds users to alpha; beta, invites and new
    workspaces are refused (403)."""
    org = make_org("aihub", AIHUB, workspaces=("alpha", "beta"))
    add_member(org.factory, org.id, "ann@acme.com", "user")
    manager = org.key("user", {"alpha": "manager"})
    url = f"/api/v1/orgs/{org.name}/members"
    ok = org.client.put(
        url, headers=manager, json={"email": "ann@acme.com", "workspaces": {"alpha": ["user"]}}
    )
    assert ok.status_code == 200, ok.json
    beta = org.client.put(
        url, headers=manager, json={"email": "ann@acme.com", "workspaces": {"beta": ["user"]}}
    )
    assert beta.status_code == 403, beta.json
    invite = org.client.put(url, headers=manager, json={"email": "new@acme.com"})
    assert invite.status_code == 403, invite.json
    ws = org.client.post(f"/api/v1/orgs/{org.name}/workspaces", headers=manager, json={"name": "c"})
    assert ws.status_code == 403
    assert dict(org.members()["ann@acme.com"].workspaces) == {"alpha": ("user",)}


def test_rule_aihub_workspace_scoped_key_from_the_cli(make_org: Any, cli: CliRunner) -> None:
    """`apikey create --workspace-role manager --workspace alpha` makes a scoped key, which
    a rotation keeps scoped; an unknown workspace or a role that manages no one is one
    line, exit 1."""
    org = make_org("aihub", AIHUB, workspaces=("alpha",))
    made = _run(
        cli,
        "apikey",
        "create",
        "--org",
        org.name,
        "--workspace-role",
        "manager",
        "--workspace",
        "alpha",
    )
    assert "(role user, manager in alpha)" in made.output
    key = made.output.strip().splitlines()[-1]
    seen = org.client.get(f"/api/v1/orgs/{org.name}", headers={"Authorization": f"Bearer {key}"})
    assert seen.json is not None and seen.json["caller"]["workspaces"] == {"alpha": "manager"}
    assert "user (alpha=manager)\tactive" in _run(cli, "apikey", "list", "--org", org.name).output
    key_id = made.output.split()[2]
    rotated = org.client.post(
        f"/api/v1/orgs/{org.name}/keys/{key_id}/rotate", headers=org.key("admin"), json={}
    )
    assert rotated.status_code == 201, rotated.json
    bearer = {"Authorization": f"Bearer {rotated.json['key']}"}
    again = org.client.get(f"/api/v1/orgs/{org.name}", headers=bearer)
    assert again.json is not None and again.json["caller"]["workspaces"] == {"alpha": "manager"}
    nope = _run(
        cli,
        "apikey",
        "create",
        "--org",
        org.name,
        "--workspace-role",
        "manager",
        "--workspace",
        "zeta",
        code=1,
    )
    assert "no workspace 'zeta'" in nope.output
    low = _run(
        cli,
        "apikey",
        "create",
        "--org",
        org.name,
        "--workspace-role",
        "user",
        "--workspace",
        "alpha",
        code=1,
    )
    assert "not one a key may carry" in low.output


# soterai -----------------------------------------------------------------------------

SOTERAI = """
role_model: soterai
rules:
  - group: "Owners"
    org_role: owner
  - group: "Managers"
    org_role: manager
  - group: "Staff"
    org_role: member
policy:
  max_removals: 100
  acting_role: owner
"""


def test_rule_soterai_managers_never_manage_owners(make_org: Any) -> None:
    """A manager's key adds members and managers, never owners (403)."""
    org = make_org("soterai", SOTERAI)
    manager = org.key("manager")
    url = f"/api/v1/orgs/{org.name}/members"
    owner = org.client.put(url, headers=manager, json={"email": "o@acme.com", "org_role": "owner"})
    assert owner.status_code == 403, owner.json
    mem = org.client.put(url, headers=manager, json={"email": "m@acme.com", "org_role": "member"})
    assert mem.status_code == 201, mem.json


def test_rule_soterai_removal_revokes_access_at_once(make_org: Any) -> None:
    """A user deactivated in the IdP is removed at once (not suspended)."""
    org = make_org("soterai", SOTERAI)
    org.push("own@acme.com", "Owners")
    staff = org.push("sam@acme.com", "Staff")
    assert "sam@acme.com" in org.members()
    org.deactivate(staff)
    assert "sam@acme.com" not in org.members()


def test_rule_soterai_member_role_enterprise_only(make_org: Any) -> None:
    """On the team plan, a user mapped to member is not invited (role_not_on_plan) and a
    manual member is refused (422); managers are."""
    org = make_org("soterai", SOTERAI, plan="team")
    org.push("sam@acme.com", "Staff")
    org.push("max@acme.com", "Managers")
    assert {e: m.org_role for e, m in org.members().items()} == {"max@acme.com": "manager"}
    body = {"email": "m@acme.com", "org_role": "member"}
    put = org.client.put(f"/api/v1/orgs/{org.name}/members", headers=org.key("owner"), json=body)
    assert put.status_code == 422 and put.json is not None and "enterprise" in put.json["detail"]
    plain = {"email": "n@acme.com"}  # no role named: the lowest the team plan has
    added = org.client.put(f"/api/v1/orgs/{org.name}/members", headers=org.key("owner"), json=plain)
    assert added.status_code == 201 and added.json is not None
    assert added.json["org_role"] == "manager"


def test_rule_soterai_unknown_plan_refused(cli: CliRunner) -> None:
    """`org create --plan banana` is refused with the preset's plans."""
    _run(cli, "db", "upgrade")
    bad = _run(cli, "org", "create", "S", "--role-model", "soterai", "--plan", "banana", code=1)
    assert "'banana' is not a soterai plan; one of: team, enterprise" in bad.output


# annotation --------------------------------------------------------------------------

ANNOTATION = """
role_model: annotation
rules:
  - group: "Everyone"
    org_role: member
  - group: "W2 Labelers"
    workspace: w2
    workspace_role: member
  - group: "W1 Leads"
    workspace: w1
    workspace_role: annotation_manager
  - group: "W1 Labelers"
    workspace: w1
    workspace_role: member
policy:
  max_removals: 100
  acting_role: admin
"""


def test_rule_annotation_several_roles_per_workspace(make_org: Any) -> None:
    """Two rules on one workspace give a person both roles there."""
    org = make_org("annotation", ANNOTATION, workspaces=("w1", "w2"))
    org.push("lea@acme.com", "Everyone", "W1 Leads", "W1 Labelers")
    assert dict(org.members()["lea@acme.com"].workspaces) == {
        "w1": ("annotation_manager", "member")
    }


def test_rule_annotation_single_workspace_implicit_membership(make_org: Any) -> None:
    """In an org with a single workspace, a new user becomes a member of it."""
    org = make_org("annotation", ANNOTATION, workspaces=("main",))
    org.push("lab@acme.com", "Everyone")
    assert dict(org.members()["lab@acme.com"].workspaces) == {"main": ("member",)}


def test_rule_annotation_second_workspace_keeps_implicit_membership(make_org: Any) -> None:
    """Creating a second workspace strips no one of the implicit member role: the next
    reconcile (a SCIM write) keeps it, and removes no labeler."""
    org = make_org("annotation", ANNOTATION, workspaces=("main",))
    org.push("lab@acme.com", "Everyone")
    created = org.client.post(
        f"/api/v1/orgs/{org.name}/workspaces", headers=org.key("admin"), json={"name": "w2"}
    )
    assert created.status_code == 201, created.json
    org.push("bee@acme.com", "Everyone", "W2 Labelers")
    got = org.members()
    assert dict(got["lab@acme.com"].workspaces) == {"main": ("member",)}
    assert dict(got["bee@acme.com"].workspaces) == {"w2": ("member",)}


def test_rule_annotation_only_admins_create_workspaces(make_org: Any) -> None:
    """An annotation manager's key creates no workspace (403); an admin's does."""
    org = make_org("annotation", ANNOTATION, workspaces=("w1",))
    url = f"/api/v1/orgs/{org.name}/workspaces"
    am = org.key("member", {"w1": "annotation_manager"})
    assert org.client.post(url, headers=am, json={"name": "x"}).status_code == 403
    assert org.client.post(url, headers=org.key("admin"), json={"name": "x"}).status_code == 201


def test_rule_annotation_management_per_workspace(make_org: Any) -> None:
    """A project manager of w1 manages up to project manager in w1 only: developer and w2
    are refused (403)."""
    org = make_org("annotation", ANNOTATION, workspaces=("w1", "w2"))
    add_member(org.factory, org.id, "lab@acme.com", "member", workspaces={"w1": ["member"]})
    pm = org.key("member", {"w1": "project_manager"})
    url = f"/api/v1/orgs/{org.name}/members"

    def put(workspaces: dict[str, list[str]]) -> int:
        return org.client.put(
            url, headers=pm, json={"email": "lab@acme.com", "workspaces": workspaces}
        ).status_code

    assert put({"w1": ["member", "annotation_manager"]}) == 200
    assert put({"w1": ["developer"]}) == 403
    assert put({"w2": ["member"]}) == 403
    assert dict(org.members()["lab@acme.com"].workspaces) == {
        "w1": ("annotation_manager", "member")
    }


def test_rule_annotation_visibility_per_workspace(make_org: Any) -> None:
    """A project manager's key of w1 lists only w1's members, and not the roles above its
    own; an admin's key sees every role."""
    org = make_org("annotation", ANNOTATION, workspaces=("w1", "w2"))
    add_member(
        org.factory, org.id, "dev@acme.com", "member", workspaces={"w1": ["developer", "member"]}
    )
    add_member(org.factory, org.id, "far@acme.com", "member", workspaces={"w2": ["member"]})
    url = f"/api/v1/orgs/{org.name}/members"
    pm = org.client.get(url, headers=org.key("member", {"w1": "project_manager"})).json
    assert pm is not None
    assert {m["email"]: m["workspaces"] for m in pm["members"]} == {
        "dev@acme.com": {"w1": ["member"]}
    }
    admin = org.client.get(url, headers=org.key("admin")).json
    assert admin is not None
    assert {m["email"]: m["workspaces"] for m in admin["members"]} == {
        "dev@acme.com": {"w1": ["developer", "member"]},
        "far@acme.com": {"w2": ["member"]},
    }
    hidden = org.client.get(
        f"{url}/far@acme.com", headers=org.key("member", {"w1": "project_manager"})
    )
    assert hidden.status_code == 404


def test_rule_annotation_visibility_per_workspace_in_the_admin_pages(make_org: Any) -> None:
    """Signed in with a project manager's key of w1, the pages list only w1's members and
    a member of w2 is not found."""
    org = make_org("annotation", ANNOTATION, workspaces=("w1", "w2"))
    add_member(org.factory, org.id, "dev@acme.com", "member", workspaces={"w1": ["member"]})
    add_member(org.factory, org.id, "far@acme.com", "member", workspaces={"w2": ["member"]})
    page = org.client.get("/admin/sign-in").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None
    key = org.raw_key("member", {"w1": "project_manager"})
    signed = org.client.post("/admin/sign-in", data={"api_key": key, "csrf_token": token.group(1)})
    assert signed.status_code == 302
    overview = org.client.get("/admin/").get_data(as_text=True)
    assert "dev@acme.com" in overview and "far@acme.com" not in overview
    assert org.client.get("/admin/members/far@acme.com").status_code == 404


# every platform ----------------------------------------------------------------------

SMALL = """
role_model: soterai
rules:
  - group: "Owners"
    org_role: owner
  - group: "Staff"
    org_role: member
policy:
  max_removals: "10%"
  acting_role: owner
"""


def test_rule_policy_percent_max_removals_has_a_floor(make_org: Any) -> None:
    """In a five-person org, 10% rounds to nothing: the first removal still goes through."""
    org = make_org("soterai", SMALL)
    org.push("own@acme.com", "Owners")
    ids = [org.push(f"s{i}@acme.com", "Staff") for i in range(4)]
    assert org.scim.delete(f"/Users/{ids[0]}").status_code == 204
    assert "s0@acme.com" not in org.members()
    with org.factory() as s:
        assert "held" not in s.scalars(select(SavedPlan.status)).all()


def test_rule_policy_mapping_set_re_plans(make_org: Any, cli: CliRunner, tmp_path: Any) -> None:
    """`mapping set` reconciles the org under the new version at once."""
    org = make_org("soterai", SOTERAI)
    org.push("own@acme.com", "Owners")
    org.push("max@acme.com", "Managers")
    demoted = SOTERAI.replace(
        'group: "Managers"\n    org_role: manager', 'group: "Managers"\n    org_role: member'
    )
    path = tmp_path / "mapping.yaml"
    path.write_text(demoted)
    out = _run(cli, "mapping", "set", "--org", org.name, str(path)).output
    assert "reconciled: applied" in out
    assert org.members()["max@acme.com"].org_role == "member"
