"""A pull's snapshot held in memory stands in for the mirror only while it is the mirror."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from mappings.directory import Directory, DirectoryGroup, DirectoryUser, GroupMember
from sync import mirror
from sync.mirror.held import held_directory, hold, mirrored
from sync.models import Organisation


def _org(session_factory: sessionmaker[Session]) -> tuple[int, int]:
    with session_factory.begin() as s:
        org = Organisation(name="Acme", role_model="soterai")
        s.add(org)
        s.flush()
        source = mirror.ensure_source(s, org.id, "okta", "okta")
        return org.id, source.id


def _user(uid: str, email: str, **kw: object) -> DirectoryUser:
    return DirectoryUser(id=uid, user_name=email, emails=(email,), **kw)  # type: ignore[arg-type]


def _untidy() -> Directory:
    """Out of order, an id twice, untyped and repeated members, nesting, a gone user."""
    return Directory(
        users=(
            _user("u3", "Carol@Acme.com", display_name="Carol", roles=("admin",)),
            _user("u1", "alice@acme.com", external_id="00x1", active=False),
            _user("u2", "bob@acme.com"),
            _user("u1", "alice.again@acme.com"),
            _user("U0", "zed@acme.com"),
        ),
        groups=(
            DirectoryGroup(
                "g2",
                "Leads",
                "ext-2",
                (GroupMember("u3"), GroupMember("g1"), GroupMember("u1", "User")),
            ),
            DirectoryGroup(
                "g1",
                "Engineers",
                members=(
                    GroupMember("u2", "User"),
                    GroupMember("u2"),
                    GroupMember("g2", "Group"),
                    GroupMember("u9-deprovisioned", "User"),
                    GroupMember("U0"),
                ),
            ),
            DirectoryGroup("g1", "Engineers (again)", members=(GroupMember("u1"),)),
            DirectoryGroup("g3", "Empty"),
        ),
    )


def test_a_held_snapshot_is_exactly_what_the_mirror_reads_back(
    session_factory: sessionmaker[Session],
) -> None:
    """Duplicates, member types, member order and sorting all come out as the mirror's."""
    org_id, source_id = _org(session_factory)
    with session_factory.begin() as s:
        mirror.replace_snapshot(s, org_id, source_id, _untidy())
        held = hold(s, org_id, _untidy())
    with session_factory() as s:
        loaded = mirror.load_directory(s, org_id)
        assert held is not None
        assert held_directory(s, org_id, held) == loaded
    assert mirrored(_untidy()) == loaded
    assert loaded.groups[0].members[-1] == GroupMember("g2", "Group"), "users, then groups"


def test_a_held_snapshot_is_not_used_once_the_mirror_changed(
    session_factory: sessionmaker[Session],
) -> None:
    """A write to the mirror after the pull (a changed user, a removed member) makes it stale."""
    org_id, source_id = _org(session_factory)

    def rename(s: Session) -> None:
        mirror.upsert_user(s, org_id, source_id, _user("u2", "robert@acme.com"))

    def leave(s: Session) -> None:
        mirror.remove_group_members(s, source_id, "g1", ["u2"])

    for change in (rename, leave):
        with session_factory.begin() as s:
            mirror.replace_snapshot(s, org_id, source_id, _untidy())
            held = hold(s, org_id, _untidy())
        assert held is not None
        with session_factory() as s:
            assert held_directory(s, org_id, held) is not None
        with session_factory.begin() as s:
            change(s)
        with session_factory() as s:
            assert held_directory(s, org_id, held) is None, change.__name__


def test_no_snapshot_is_held_when_the_org_has_another_source(
    session_factory: sessionmaker[Session],
) -> None:
    """With a second source's users in the mirror the reconcile must read the merged mirror."""
    org_id, source_id = _org(session_factory)
    with session_factory.begin() as s:
        scim = mirror.ensure_source(s, org_id, "scim", "scim")
        mirror.upsert_user(s, org_id, scim.id, _user("s1", "sam@acme.com"))
    with session_factory.begin() as s:
        mirror.replace_snapshot(s, org_id, source_id, _untidy())
        assert hold(s, org_id, _untidy()) is None
