"""The directory mirror keeps each source's users, groups and memberships, keyed by source id."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from mappings.directory import Directory, DirectoryGroup, DirectoryUser, GroupMember
from sync import mirror
from sync.models import DirectoryUser as UserRow
from sync.models import Organisation


def _org(session_factory: sessionmaker[Session], name: str = "Acme") -> int:
    with session_factory.begin() as s:
        org = Organisation(name=name, role_model="soterai")
        s.add(org)
        s.flush()
        return org.id


def _user(uid: str, email: str, active: bool = True) -> DirectoryUser:
    return DirectoryUser(id=uid, user_name=email, emails=(email,), active=active)


def _snapshot(*, alice: str = "alice@acme.com", group: str = "Engineers") -> Directory:
    return Directory(
        users=(_user("u1", alice), _user("u2", "bob@acme.com"), _user("u3", "carol@acme.com")),
        groups=(
            DirectoryGroup("g1", group, members=(GroupMember("u1"), GroupMember("g2"))),
            DirectoryGroup("g2", "Leads", members=(GroupMember("u2", "User"),)),
        ),
    )


def test_a_replaced_snapshot_reads_back_as_the_same_directory(
    session_factory: sessionmaker[Session],
) -> None:
    """What a source says is exactly what load_directory returns, nested groups typed."""
    org_id = _org(session_factory)
    with session_factory.begin() as s:
        source = mirror.ensure_source(s, org_id, "okta", "okta")
        changes = mirror.replace_snapshot(s, org_id, source.id, _snapshot())
    assert (changes.users_added, changes.groups_added, changes.memberships_added) == (3, 2, 3)
    with session_factory() as s:
        loaded = mirror.load_directory(s, org_id)
    assert [u.key for u in loaded.users] == ["alice@acme.com", "bob@acme.com", "carol@acme.com"]
    assert loaded.groups[0].members == (GroupMember("u1", "User"), GroupMember("g2", "Group"))
    assert loaded.groups[1] == DirectoryGroup("g2", "Leads", members=(GroupMember("u2", "User"),))


def test_a_renamed_email_and_group_are_updates_not_delete_and_create(
    session_factory: sessionmaker[Session],
) -> None:
    """Same ids with new names keep their rows; only the changed rows are counted."""
    org_id = _org(session_factory)
    with session_factory.begin() as s:
        source = mirror.ensure_source(s, org_id, "okta", "okta")
        mirror.replace_snapshot(s, org_id, source.id, _snapshot())
        before = s.scalar(select(UserRow.id).where(UserRow.ext_id == "u1"))
    with session_factory.begin() as s:
        changes = mirror.replace_snapshot(
            s, org_id, source.id, _snapshot(alice="alice.smith@acme.com", group="Platform")
        )
    assert changes == mirror.SnapshotChanges(users_updated=1, groups_updated=1)
    with session_factory() as s:
        row = s.scalars(select(UserRow).where(UserRow.ext_id == "u1")).one()
        assert (row.id, row.emails, row.version) == (before, ["alice.smith@acme.com"], 2)
        assert mirror.load_directory(s, org_id).groups[0].display_name == "Platform"


def test_an_unchanged_snapshot_changes_nothing(session_factory: sessionmaker[Session]) -> None:
    """Replaying the same snapshot reports no change at all."""
    org_id = _org(session_factory)
    with session_factory.begin() as s:
        source = mirror.ensure_source(s, org_id, "graph", "entra")
        mirror.replace_snapshot(s, org_id, source.id, _snapshot())
    with session_factory.begin() as s:
        assert not mirror.replace_snapshot(s, org_id, source.id, _snapshot()).changed


def test_users_and_members_gone_from_the_snapshot_are_removed(
    session_factory: sessionmaker[Session],
) -> None:
    """A user, group or membership the source no longer lists leaves the mirror."""
    org_id = _org(session_factory)
    with session_factory.begin() as s:
        source = mirror.ensure_source(s, org_id, "okta", "okta")
        mirror.replace_snapshot(s, org_id, source.id, _snapshot())
    smaller = Directory(
        users=(_user("u1", "alice@acme.com"),),
        groups=(DirectoryGroup("g1", "Engineers", members=(GroupMember("u1"),)),),
    )
    with session_factory.begin() as s:
        changes = mirror.replace_snapshot(s, org_id, source.id, smaller)
    assert (changes.users_removed, changes.groups_removed, changes.memberships_removed) == (2, 1, 2)
    with session_factory() as s:
        assert mirror.load_directory(s, org_id) == Directory(
            users=smaller.users,
            groups=(DirectoryGroup("g1", "Engineers", members=(GroupMember("u1", "User"),)),),
        )


def test_sources_are_merged_and_orgs_are_kept_apart(
    session_factory: sessionmaker[Session],
) -> None:
    """Two sources of one org appear together; another org's directory never leaks in."""
    acme, other = _org(session_factory), _org(session_factory, "Other")
    with session_factory.begin() as s:
        okta = mirror.ensure_source(s, acme, "okta", "okta")
        scim = mirror.ensure_source(s, acme, "scim", "scim")
        theirs = mirror.ensure_source(s, other, "scim", "scim")
        mirror.replace_snapshot(s, acme, okta.id, Directory(users=(_user("a", "a@acme.com"),)))
        mirror.upsert_user(s, acme, scim.id, _user("b", "b@acme.com"), {"userName": "b"})
        mirror.upsert_user(s, other, theirs.id, _user("c", "c@other.com"))
    with session_factory() as s:
        assert [u.id for u in mirror.load_directory(s, acme).users] == ["a", "b"]
        assert [u.id for u in mirror.load_directory(s, other).users] == ["c"]


def test_single_writes_upsert_and_delete_users_groups_and_members(
    session_factory: sessionmaker[Session],
) -> None:
    """SCIM-style writes: upsert, add and remove members, delete a user and its memberships."""
    org_id = _org(session_factory)
    with session_factory.begin() as s:
        src = mirror.ensure_source(s, org_id, "scim", "scim").id
        mirror.upsert_user(s, org_id, src, _user("u1", "alice@acme.com"))
        mirror.upsert_user(s, org_id, src, _user("u2", "bob@acme.com"))
        mirror.upsert_group(s, org_id, src, DirectoryGroup("g1", "Eng", members=()))
        mirror.add_group_members(s, src, "g1", [GroupMember("u1"), GroupMember("u2")])
        mirror.add_group_members(s, src, "g1", [GroupMember("u1")])  # already there
        mirror.upsert_user(s, org_id, src, _user("u1", "alice@new.com", active=False))
    with session_factory() as s:
        d = mirror.load_directory(s, org_id)
        assert d.users[0] == _user("u1", "alice@new.com", active=False)
        assert [m.value for m in d.groups[0].members] == ["u1", "u2"]
    with session_factory.begin() as s:
        mirror.remove_group_members(s, src, "g1", ["u1"])
        assert mirror.delete_user(s, src, "u2")
        assert not mirror.delete_user(s, src, "nobody")
    with session_factory() as s:
        d = mirror.load_directory(s, org_id)
        assert [u.id for u in d.users] == ["u1"]
        assert d.groups[0].members == ()
    with session_factory.begin() as s:
        assert mirror.delete_group(s, src, "g1")
        assert s.scalar(select(func.count()).select_from(UserRow)) == 1


def test_a_large_snapshot_is_replaced_in_bulk(session_factory: sessionmaker[Session]) -> None:
    """Two thousand users in one group go in and half come out again, counted exactly."""
    org_id = _org(session_factory)
    users = tuple(_user(f"u{i:05}", f"user{i}@acme.com") for i in range(2000))
    group = DirectoryGroup("g", "All", members=tuple(GroupMember(u.id) for u in users))
    with session_factory.begin() as s:
        src = mirror.ensure_source(s, org_id, "okta", "okta").id
        mirror.replace_snapshot(s, org_id, src, Directory(users=users, groups=(group,)))
    half = users[:1000]
    smaller = DirectoryGroup("g", "All", members=tuple(GroupMember(u.id) for u in half))
    with session_factory.begin() as s:
        changes = mirror.replace_snapshot(s, org_id, src, Directory(users=half, groups=(smaller,)))
    assert (changes.users_removed, changes.memberships_removed) == (1000, 1000)
    with session_factory() as s:
        assert len(mirror.load_directory(s, org_id).groups[0].members) == 1000
