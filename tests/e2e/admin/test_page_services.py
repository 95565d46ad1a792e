"""The admin pages' "sync this member" and "make a plan" are one service call each: the
service decides the caller's authority (docs/architecture.md section 2.3); the page
shows a refusal as the service words it and changes nothing."""

from __future__ import annotations

from collections.abc import Callable

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from mappings.directory import Directory, DirectoryGroup, DirectoryUser, GroupMember
from sync.models import AuditEntry, Member, SavedPlan, SyncRun
from tests.e2e.admin.conftest import GONE, MAPPING, MAX, OLGA, MemberSpec, Seeded, sign_in


def _written(factory: sessionmaker[Session]) -> tuple[int, int, int]:
    with factory() as s:
        return (
            len(s.scalars(select(AuditEntry.id)).all()),
            len(s.scalars(select(SavedPlan.id)).all()),
            len(s.scalars(select(SyncRun.id)).all()),
        )


def test_a_member_key_may_neither_sync_a_member_nor_make_a_plan(
    client: FlaskClient, acme: Seeded, session_factory: sessionmaker[Session]
) -> None:
    """Each is refused with the service's words, and no entry, plan or run is written."""
    csrf = sign_in(client, acme.keys["member"])
    before = _written(session_factory)
    for path in ("/admin/members/gone@acme.com/sync", "/admin/plans/new"):
        refused = client.post(path, data={"csrf_token": csrf}, follow_redirects=True)
        assert "role &#39;member&#39; manages no one" in refused.get_data(as_text=True)
    assert _written(session_factory) == before


def test_a_manager_syncs_a_member_and_the_owner_makes_a_plan(
    client: FlaskClient, acme: Seeded, session_factory: sessionmaker[Session]
) -> None:
    """The manager's sync removes gone@ (a member the IdP no longer has), audited under
    its key; the owner's plan is stored for review."""
    csrf = sign_in(client, acme.keys["manager"])
    synced = client.post("/admin/members/gone@acme.com/sync", data={"csrf_token": csrf})
    assert synced.status_code == 303, synced.get_data(as_text=True)
    with session_factory() as s:
        entries = s.scalars(select(AuditEntry).where(AuditEntry.user == "gone@acme.com")).all()
    assert [e.actor.split(":")[0] for e in entries] == ["apikey"]
    client.get("/admin/sign-out")
    csrf = sign_in(client, acme.keys["owner"])
    _, plans, _ = _written(session_factory)
    made = client.post("/admin/plans/new", data={"csrf_token": csrf})
    assert made.status_code == 303 and "/admin/plans/" in made.headers["Location"]
    assert _written(session_factory)[1] == plans + 1


def test_a_manager_may_not_sync_away_an_owner_and_nothing_is_written(
    client: FlaskClient,
    seed_acme: Callable[..., Seeded],
    session_factory: sessionmaker[Session],
) -> None:
    """boss@, an owner the IdP no longer has: the manager's "sync this member" would
    remove an owner, which a manager does not manage. The plan is checked under the org
    lock, right before it would be acted on, so the refusal writes no entry, plan or run;
    the owner's sync then removes boss@."""
    boss: MemberSpec = ("boss@acme.com", "owner", "joined", "idp", {})
    org = seed_acme(["owner", "manager"], (OLGA, MAX, GONE, boss))
    csrf = sign_in(client, org.keys["manager"])
    before = _written(session_factory)
    refused = client.post(
        "/admin/members/boss@acme.com/sync", data={"csrf_token": csrf}, follow_redirects=True
    )
    assert "owner" in refused.get_data(as_text=True)
    assert _written(session_factory) == before
    with session_factory() as s:
        assert s.scalar(select(Member.status).where(Member.email == "boss@acme.com")) == "joined"
    client.get("/admin/sign-out")
    csrf = sign_in(client, org.keys["owner"])
    synced = client.post("/admin/members/boss@acme.com/sync", data={"csrf_token": csrf})
    assert synced.status_code == 303, synced.get_data(as_text=True)
    with session_factory() as s:
        assert s.scalar(select(Member.id).where(Member.email == "boss@acme.com")) is None


def test_a_member_is_synced_by_a_case_sensitive_idp_id(
    client: FlaskClient,
    seed: Callable[..., Seeded],
    put_directory: Callable[[int, Directory], None],
    save_version: Callable[[int, str], int],
    session_factory: sessionmaker[Session],
) -> None:
    """Okta's and Entra's ids are case-sensitive: "sync this member" given nina's id
    ``00uAbC123`` (she is in Staff, not yet a member) finds her by that id, invites her,
    audits it, and lands on her page."""
    nina_id = "00uAbC123"
    org = seed("acme", "soterai", ["owner"], [OLGA])
    olga = DirectoryUser(id="u-olga", user_name="olga@acme.com", emails=("olga@acme.com",))
    nina = DirectoryUser(id=nina_id, user_name="nina@acme.com", emails=("nina@acme.com",))
    owners = DirectoryGroup("g-owners", "Owners", members=(GroupMember("u-olga", "User"),))
    staff = DirectoryGroup("g-staff", "Staff", members=(GroupMember(nina_id, "User"),))
    put_directory(org.id, Directory(users=(olga, nina), groups=(owners, staff)))
    save_version(org.id, MAPPING)
    csrf = sign_in(client, org.keys["owner"])
    synced = client.post(f"/admin/members/{nina_id}/sync", data={"csrf_token": csrf})
    assert synced.status_code == 303, synced.get_data(as_text=True)
    with session_factory() as s:
        row = s.execute(
            select(Member.status, Member.org_role, Member.idp_id).where(
                Member.email == "nina@acme.com"
            )
        ).one_or_none()
        ops = s.scalars(select(AuditEntry.op).where(AuditEntry.user == "nina@acme.com")).all()
    assert row is not None and tuple(row) == ("invited", "member", nina_id)
    assert ops == ["invite"]
    page = client.get(synced.headers["Location"])
    assert page.status_code == 200 and "nina@acme.com" in page.get_data(as_text=True)
