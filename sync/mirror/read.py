"""Reading the mirror back: an org's sources merged into one ``Directory``, or one source."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, select
from sqlalchemy.orm import Session

from mappings.directory import Directory, GroupMember
from mappings.directory import DirectoryGroup as DirGroup
from mappings.directory import DirectoryUser as DirUser
from sync.bulk import chunks
from sync.models import DirectoryGroup, DirectoryMembership, DirectoryUser

__all__ = ["load_directory", "members_of", "source_directory"]


def load_directory(session: Session, org_id: int, source_id: int | None = None) -> Directory:
    """Every source of the org merged into one ``Directory`` (sorted by id, so stable), or
    only ``source_id``'s when given.

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
        .where(*_scope(DirectoryUser, org_id, source_id))
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
        .where(*_scope(DirectoryGroup, org_id, source_id))
        .order_by(DirectoryMembership.member_type.desc(), DirectoryMembership.member_value)
    ):
        members.setdefault(group_id, []).append(GroupMember(value, kind))
    groups: dict[str, DirGroup] = {}
    for g in session.execute(
        select(DirectoryGroup.id, DirectoryGroup.ext_id, DirectoryGroup.display_name)
        .add_columns(DirectoryGroup.external_id)
        .where(*_scope(DirectoryGroup, org_id, source_id))
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


def source_directory(session: Session, org_id: int, source_id: int) -> Directory | None:
    """The mirror of one source (None before its first snapshot)."""
    directory = load_directory(session, org_id, source_id)
    return directory if directory.users or directory.groups else None


def members_of(db: Session | Connection, group_ids: Sequence[int]) -> Iterator[Any]:
    """(group id, member type, value, display) of these groups' direct members, by group
    and value; ``db`` may be a bare connection (a SCIM read)."""
    for chunk in chunks(group_ids):
        yield from db.execute(
            select(
                DirectoryMembership.group_id,
                DirectoryMembership.member_type,
                DirectoryMembership.member_value,
                DirectoryMembership.display,
            )
            .where(DirectoryMembership.group_id.in_(chunk))
            .order_by(DirectoryMembership.group_id, DirectoryMembership.member_value)
        )


def _scope(
    table: type[DirectoryUser] | type[DirectoryGroup], org_id: int, source_id: int | None
) -> list[ColumnElement[bool]]:
    if source_id is None:
        return [table.org_id == org_id]
    return [table.source_id == source_id]
