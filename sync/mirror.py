"""The directory mirror: what each source (SCIM push, Okta, Graph, SCIM pull) says, per org.

Rows are keyed by the source's immutable ids (``ext_id``), so a renamed group or a changed
email is an update, never a delete and a create. Every function takes a Session and joins
the caller's transaction; ``replace_snapshot`` (in ``sync.snapshot``, re-exported here)
swaps a whole source in bulk statements.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from mappings.directory import Directory, GroupMember
from mappings.directory import DirectoryGroup as DirGroup
from mappings.directory import DirectoryUser as DirUser
from mappings.errors import InputError
from sync.errors import Conflict, NotFound
from sync.models import DirectoryGroup, DirectoryMembership, DirectoryUser, Source, utcnow
from sync.snapshot import SnapshotChanges, chunks, group_values, replace_snapshot, user_values

__all__ = [
    "SOURCE_KINDS",
    "SnapshotChanges",
    "add_group_members",
    "delete_group",
    "delete_user",
    "ensure_source",
    "load_directory",
    "remove_group_members",
    "replace_snapshot",
    "upsert_group",
    "upsert_user",
]

SOURCE_KINDS = ("scim", "okta", "graph", "scim-pull")


def ensure_source(session: Session, org_id: int, kind: str, name: str) -> Source:
    """The org's source called ``name``, created with ``kind`` if missing."""
    if kind not in SOURCE_KINDS:
        raise InputError(f"must be one of {', '.join(SOURCE_KINDS)}, not {kind!r}", "kind")
    found = session.scalar(select(Source).where(Source.org_id == org_id, Source.name == name))
    if found is not None:
        if found.kind != kind:
            raise Conflict(f"source {name!r} exists with kind {found.kind!r}, not {kind!r}")
        return found
    source = Source(org_id=org_id, name=name, kind=kind, config={})
    session.add(source)
    session.flush()
    return source


def upsert_user(
    session: Session,
    org_id: int,
    source_id: int,
    user: DirUser,
    resource: dict[str, Any] | None = None,
) -> DirectoryUser:
    """Insert or update one user by its source id (``user.id``); returns the row."""
    row = session.scalar(
        select(DirectoryUser).where(
            DirectoryUser.source_id == source_id, DirectoryUser.ext_id == user.id
        )
    )
    values = user_values(user)
    if row is None:
        row = DirectoryUser(org_id=org_id, source_id=source_id, ext_id=user.id, **values)
        row.resource = resource
        session.add(row)
    else:
        for key, value in values.items():
            setattr(row, key, value)
        row.resource = resource
        row.version += 1
        row.updated_at = utcnow()
    session.flush()
    return row


def delete_user(session: Session, source_id: int, ext_id: str) -> bool:
    """Delete a user and its group memberships in that source; False if it was not there."""
    return _delete(session, DirectoryUser, "User", source_id, ext_id)


def upsert_group(
    session: Session,
    org_id: int,
    source_id: int,
    group: DirGroup,
    resource: dict[str, Any] | None = None,
) -> DirectoryGroup:
    """Insert or update one group by its source id and replace its direct members."""
    row = session.scalar(
        select(DirectoryGroup).where(
            DirectoryGroup.source_id == source_id, DirectoryGroup.ext_id == group.id
        )
    )
    if row is None:
        row = DirectoryGroup(
            org_id=org_id, source_id=source_id, ext_id=group.id, **group_values(group)
        )
        session.add(row)
    else:
        for key, value in group_values(group).items():
            setattr(row, key, value)
        row.version += 1
        row.updated_at = utcnow()
    row.resource = resource
    session.flush()
    session.execute(delete(DirectoryMembership).where(DirectoryMembership.group_id == row.id))
    _insert_members(session, source_id, row.id, group.members)
    return row


def delete_group(session: Session, source_id: int, ext_id: str) -> bool:
    """Delete a group (its memberships go with it, and it leaves its parent groups)."""
    return _delete(session, DirectoryGroup, "Group", source_id, ext_id)


def _delete(
    session: Session,
    model: type[DirectoryUser] | type[DirectoryGroup],
    kind: str,
    source_id: int,
    ext_id: str,
) -> bool:
    """Delete one mirrored resource and every membership that names it."""
    result = session.execute(
        delete(model).where(model.source_id == source_id, model.ext_id == ext_id)
    )
    _delete_references(session, source_id, kind, [ext_id])
    return bool(getattr(result, "rowcount", 0))


def add_group_members(
    session: Session, source_id: int, group_ext_id: str, members: Iterable[GroupMember]
) -> None:
    """Add direct members to a group (those already there are left as they are)."""
    group_id = _group_id(session, source_id, group_ext_id)
    existing = set(
        session.execute(
            select(DirectoryMembership.member_type, DirectoryMembership.member_value).where(
                DirectoryMembership.group_id == group_id
            )
        )
    )
    new = [m for m in members if (_member_type(session, source_id, m), m.value) not in existing]
    _insert_members(session, source_id, group_id, new)
    _touch_group(session, group_id)


def remove_group_members(
    session: Session, source_id: int, group_ext_id: str, values: Iterable[str]
) -> None:
    """Remove direct members (user or group ids) from a group."""
    group_id = _group_id(session, source_id, group_ext_id)
    session.execute(
        delete(DirectoryMembership).where(
            DirectoryMembership.group_id == group_id,
            DirectoryMembership.member_value.in_(list(values)),
        )
    )
    _touch_group(session, group_id)


def _group_id(session: Session, source_id: int, ext_id: str) -> int:
    group_id = session.scalar(
        select(DirectoryGroup.id).where(
            DirectoryGroup.source_id == source_id, DirectoryGroup.ext_id == ext_id
        )
    )
    if group_id is None:
        raise NotFound(f"no group {ext_id!r} in this source")
    return group_id


def _touch_group(session: Session, group_id: int) -> None:
    session.execute(
        update(DirectoryGroup)
        .where(DirectoryGroup.id == group_id)
        .values(version=DirectoryGroup.version + 1, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )


def _member_type(session: Session, source_id: int, member: GroupMember) -> str:
    if member.type in ("User", "Group"):
        return member.type
    is_group = session.scalar(
        select(DirectoryGroup.id).where(
            DirectoryGroup.source_id == source_id, DirectoryGroup.ext_id == member.value
        )
    )
    return "Group" if is_group is not None else "User"


def _insert_members(
    session: Session, source_id: int, group_id: int, members: Iterable[GroupMember]
) -> None:
    rows = {
        (_member_type(session, source_id, m), m.value): {
            "group_id": group_id,
            "member_type": _member_type(session, source_id, m),
            "member_value": m.value,
        }
        for m in members
    }
    if rows:
        session.execute(insert(DirectoryMembership), list(rows.values()))


def _delete_references(session: Session, source_id: int, kind: str, values: Sequence[str]) -> None:
    groups = select(DirectoryGroup.id).where(DirectoryGroup.source_id == source_id)
    for chunk in chunks(values):
        session.execute(
            delete(DirectoryMembership).where(
                DirectoryMembership.group_id.in_(groups),
                DirectoryMembership.member_type == kind,
                DirectoryMembership.member_value.in_(chunk),
            )
        )


def load_directory(session: Session, org_id: int) -> Directory:
    """Every source of the org merged into one ``Directory`` (sorted by id, so stable).

    Ids are the sources' own; when two sources use one id, the older source wins.
    """
    users: dict[str, DirUser] = {}
    for row in session.execute(
        # columns, not entities: no ORM identity map and no full SCIM ``resource`` per row
        select(
            DirectoryUser.ext_id,
            DirectoryUser.user_name,
            DirectoryUser.emails,
            DirectoryUser.external_id,
            DirectoryUser.active,
            DirectoryUser.display_name,
            DirectoryUser.roles,
        )
        .where(DirectoryUser.org_id == org_id)
        .order_by(DirectoryUser.source_id, DirectoryUser.ext_id)
    ):
        users.setdefault(
            row.ext_id,
            DirUser(
                id=row.ext_id,
                user_name=row.user_name,
                emails=tuple(row.emails or ()),
                external_id=row.external_id,
                active=row.active,
                display_name=row.display_name,
                roles=tuple(row.roles or ()),
            ),
        )
    members: dict[int, list[GroupMember]] = {}
    for group_id, kind, value in session.execute(
        select(
            DirectoryMembership.group_id,
            DirectoryMembership.member_type,
            DirectoryMembership.member_value,
        )
        .join(DirectoryGroup, DirectoryGroup.id == DirectoryMembership.group_id)
        .where(DirectoryGroup.org_id == org_id)
        .order_by(DirectoryMembership.member_type.desc(), DirectoryMembership.member_value)
    ):
        members.setdefault(group_id, []).append(GroupMember(value, kind))
    groups: dict[str, DirGroup] = {}
    for g in session.execute(
        select(DirectoryGroup.id, DirectoryGroup.ext_id, DirectoryGroup.display_name)
        .add_columns(DirectoryGroup.external_id)
        .where(DirectoryGroup.org_id == org_id)
        .order_by(DirectoryGroup.source_id, DirectoryGroup.ext_id)
    ):
        groups.setdefault(
            g.ext_id,
            DirGroup(g.ext_id, g.display_name, g.external_id, tuple(members.get(g.id, ()))),
        )
    return Directory(
        users=tuple(users[k] for k in sorted(users)),
        groups=tuple(groups[k] for k in sorted(groups)),
    )
