"""Writing the mirror one row at a time: the SCIM service's creates, replaces, PATCHes and
deletes, and the same per-row writes for tests and the demo.

Rows are keyed by the source's immutable ids (``ext_id``), so a renamed group or a changed
email is an update, never a delete and a create. Every function takes a Session and joins
the caller's transaction; the caller holds the org's lock (``sync.reconcile.locked``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, cast

from sqlalchemy import (
    bindparam,
    delete,
    exists,
    literal_column,
    select,
    union_all,
    update,
)
from sqlalchemy.orm import Session

from mappings.directory import DirectoryGroup as DirGroup
from mappings.directory import DirectoryUser as DirUser
from mappings.directory import GroupMember
from mappings.errors import InputError
from sync.bulk import OneOf, chunks, insert_one, insert_rows
from sync.errors import Conflict, NotFound
from sync.mirror.values import MEMBER_TYPES, group_values, member_type, user_values
from sync.models import Base, DirectoryGroup, DirectoryMembership, DirectoryUser, Source, utcnow
from sync.sources.registry import PULL_KINDS

__all__ = [
    "SOURCE_KINDS",
    "Members",
    "add_group_members",
    "add_members",
    "bump",
    "delete_group",
    "delete_row",
    "delete_user",
    "ensure_source",
    "insert_members",
    "insert_row",
    "member_types",
    "member_types_in",
    "remove_group_members",
    "remove_members",
    "replace_members",
    "update_row",
    "upsert_group",
    "upsert_user",
    "users_under",
]

SOURCE_KINDS = ("scim", *PULL_KINDS)  # pushed to /scim/v2, or pulled (sync.sources.registry)

Row = DirectoryUser | DirectoryGroup
Members = Mapping[str, tuple[str, str | None]]
"""Direct members of a group: member value -> (``User`` or ``Group``, display)."""


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


# -- users and groups ---------------------------------------------------------------


def insert_row(
    session: Session,
    table: type[Row],
    ids: tuple[int, int, str],
    values: Mapping[str, Any],
    resource: dict[str, Any] | None,
    now: Any,
) -> Row:
    """Add a new user or group row; ``ids``: its org, source and the source's id for it.
    Returns the row as stored, not tracked by the session (read it again to change it)."""
    org_id, source_id, ext_id = ids
    columns = {
        "org_id": org_id,
        "source_id": source_id,
        "ext_id": ext_id,
        **values,
        "resource": resource,
        "version": 1,
        "created_at": now,
        "updated_at": now,
    }
    return insert_one(session, table, columns)  # a first push inserts a row per user


def update_row(
    session: Session, row: Row, values: Mapping[str, Any], resource: dict[str, Any] | None
) -> None:
    """Replace a user's or group's columns and stored resource, and bump its version."""
    for name, value in values.items():
        setattr(row, name, value)
    row.resource = resource
    bump(row)
    session.flush()


def bump(row: Row) -> None:
    """A new version of the row (its ETag) as of now."""
    row.version += 1
    row.updated_at = utcnow()


def delete_row(session: Session, row: Row) -> None:
    """Delete a user or group; it leaves every group of its source that held it."""
    _leave_groups(session, row.source_id, row.ext_id)
    session.delete(row)
    session.flush()


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
        ids = (org_id, source_id, user.id)
        return cast(
            DirectoryUser, insert_row(session, DirectoryUser, ids, values, resource, utcnow())
        )
    update_row(session, row, values, resource)
    return row


def delete_user(session: Session, source_id: int, ext_id: str) -> bool:
    """Delete a user and its group memberships in that source; False if it was not there."""
    return _delete(session, DirectoryUser, source_id, ext_id)


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
    values = group_values(group)
    if row is None:
        ids = (org_id, source_id, group.id)
        row = cast(
            DirectoryGroup, insert_row(session, DirectoryGroup, ids, values, resource, utcnow())
        )
    else:
        update_row(session, row, values, resource)
    session.execute(delete(DirectoryMembership).where(DirectoryMembership.group_id == row.id))
    insert_members(session, row.id, _typed(session, source_id, group.members))
    return row


def delete_group(session: Session, source_id: int, ext_id: str) -> bool:
    """Delete a group (its memberships go with it, and it leaves its parent groups)."""
    return _delete(session, DirectoryGroup, source_id, ext_id)


def _delete(
    session: Session,
    model: type[DirectoryUser] | type[DirectoryGroup],
    source_id: int,
    ext_id: str,
) -> bool:
    query = select(model).where(model.source_id == source_id, model.ext_id == ext_id)
    row = session.scalar(query)
    if row is None:
        return False
    delete_row(session, cast(Row, row))
    return True


# -- memberships ----------------------------------------------------------------------


def add_group_members(
    session: Session, source_id: int, group_ext_id: str, members: Iterable[GroupMember]
) -> None:
    """Add direct members to a group (those already there are left as they are)."""
    row = _group(session, source_id, group_ext_id)
    add_members(session, row.id, _typed(session, source_id, members))
    bump(row)
    session.flush()


def remove_group_members(
    session: Session, source_id: int, group_ext_id: str, values: Iterable[str]
) -> None:
    """Remove direct members (user or group ids) from a group."""
    row = _group(session, source_id, group_ext_id)
    remove_members(session, row.id, frozenset(values))
    bump(row)
    session.flush()


def member_types(session: Session, source_id: int, values: Sequence[str]) -> dict[str, str]:
    """``User`` or ``Group`` for each value that is a user or group id of the source."""
    return member_types_in(session, source_id, values)[0]


def member_types_in(
    session: Session, source_id: int, values: Sequence[str], group_id: int | None = None
) -> tuple[dict[str, str], set[str]]:
    """``member_types``, and with ``group_id`` which of those values are direct members of
    that group already, asked in the same statement (a member-adding PATCH's two lookups
    in one round trip; ``add_members(present=...)`` takes the answer)."""
    kinds: dict[str, str] = {}
    present: set[str] = set()
    statement = _KINDS_OF if group_id is None else _KINDS_AND_PRESENT
    for chunk in chunks(values):
        # both kinds in one round trip; an id that is both is a group, as it always was
        params = {"source": source_id, "values": list(chunk), "group": group_id}
        for value, kind, *there in session.execute(statement, params):
            if kind == "Group":
                kinds[value] = kind
            else:
                kinds.setdefault(value, kind)
            if there and there[0]:
                present.add(value)
    return kinds, present


def insert_members(session: Session, group_id: int, members: Members) -> None:
    """Insert direct members of a group (none of them there yet)."""
    rows = [
        {"group_id": group_id, "member_type": kind, "member_value": value, "display": display}
        for value, (kind, display) in members.items()
    ]
    # one multi-row INSERT or COPY on PostgreSQL, not one pipelined statement per member
    insert_rows(session, _MEMBERSHIPS, rows)


def add_members(
    session: Session, group_id: int, members: Members, present: set[str] | None = None
) -> dict[str, str]:
    """Add direct members to a group; returns those that were not there (value -> type).
    ``present``: which of them are there already, when the caller asked in this
    transaction (``member_types_in``); looked up here otherwise."""
    if present is None:
        present = set()
        for chunk in chunks(list(members)):
            params = {"group": group_id, "values": list(chunk)}
            present.update(session.scalars(_PRESENT_VALUES, params))
    new = {value: entry for value, entry in members.items() if value not in present}
    insert_members(session, group_id, new)
    return {value: kind for value, (kind, _) in new.items()}


_MEMBERSHIPS = Base.metadata.tables[DirectoryMembership.__tablename__]

# Built once, bound per call (group, values): building a statement costs about as much
# CPU as running it. ``group_id + 0`` so that a lookup of some members of a group goes
# through the members' value index (a few rows per value) instead of walking every
# membership of the group (100,000 in a big one) on the primary key's prefix.
_SOME_MEMBERS = (
    (_MEMBERSHIPS.c.group_id + 0) == bindparam("group"),
    OneOf(_MEMBERSHIPS.c.member_value, "values"),
)
_PRESENT_VALUES = select(_MEMBERSHIPS.c.member_value).where(*_SOME_MEMBERS)
_PRESENT_MEMBERS = select(_MEMBERSHIPS.c.member_value, _MEMBERSHIPS.c.member_type).where(
    *_SOME_MEMBERS
)
_DELETE_MEMBERS = delete(_MEMBERSHIPS).where(*_SOME_MEMBERS)


def _kinds(present: bool) -> Any:
    """Each of the listed values that is a user or group id of the source, with its kind,
    both kinds in one statement; with ``present``, also whether it is a direct member of
    the bound group already (through the members' value index, as ``_SOME_MEMBERS``)."""
    selects = []
    for table, kind in ((DirectoryUser.__table__, "User"), (DirectoryGroup.__table__, "Group")):
        columns: list[Any] = [table.c.ext_id, literal_column(f"'{kind}'")]
        if present:
            member = (_MEMBERSHIPS.c.group_id + 0) == bindparam("group")
            columns.append(exists().where(member, _MEMBERSHIPS.c.member_value == table.c.ext_id))
        where = (table.c.source_id == bindparam("source"), OneOf(table.c.ext_id, "values"))
        selects.append(select(*columns).where(*where))
    return union_all(*selects)


_KINDS_OF = _kinds(present=False)
_KINDS_AND_PRESENT = _kinds(present=True)


def remove_members(session: Session, group_id: int, values: frozenset[str]) -> dict[str, str]:
    """Remove direct members from a group; returns those that were there (value -> type)."""
    removed: dict[str, str] = {}
    for chunk in chunks(sorted(values)):
        params = {"group": group_id, "values": list(chunk)}
        found = session.execute(_PRESENT_MEMBERS, params).all()
        removed.update((value, kind) for value, kind in found)
        session.execute(_DELETE_MEMBERS, params)
    return removed


def replace_members(session: Session, group_id: int, wanted: Members) -> dict[str, str]:
    """Make a group's direct members ``wanted``; returns those added or removed (value ->
    type)."""
    rows = session.execute(
        select(DirectoryMembership.member_value, DirectoryMembership.member_type).where(
            DirectoryMembership.group_id == group_id
        )
    )
    existing = {value: kind for value, kind in rows}
    changed = remove_members(session, group_id, frozenset(existing) - frozenset(wanted))
    added = {value: entry for value, entry in wanted.items() if value not in existing}
    changed.update(add_members(session, group_id, added))
    return changed


def users_under(session: Session, source_id: int, groups: set[str]) -> set[str]:
    """The users in these groups of the source, directly or through nested groups."""
    users: set[str] = set()
    seen: set[str] = set()
    frontier = set(groups)
    while frontier:
        seen |= frontier
        next_frontier: set[str] = set()
        for chunk in chunks(sorted(frontier)):
            ids = select(DirectoryGroup.id).where(
                DirectoryGroup.source_id == source_id, DirectoryGroup.ext_id.in_(chunk)
            )
            rows = session.execute(
                select(DirectoryMembership.member_type, DirectoryMembership.member_value).where(
                    DirectoryMembership.group_id.in_(ids)
                )
            )
            for kind, value in rows:
                if kind == "User":
                    users.add(value)
                elif value not in seen:
                    next_frontier.add(value)
        frontier = next_frontier
    return users


def _leave_groups(session: Session, source_id: int, ext_id: str) -> None:
    """Remove a deleted resource from its source's groups, changing their versions."""
    groups = select(DirectoryGroup.id).where(DirectoryGroup.source_id == source_id)
    holders = list(
        session.scalars(
            select(DirectoryMembership.group_id).where(
                DirectoryMembership.member_value == ext_id,
                DirectoryMembership.group_id.in_(groups),
            )
        )
    )
    if not holders:
        return
    session.execute(
        delete(DirectoryMembership).where(
            DirectoryMembership.member_value == ext_id,
            DirectoryMembership.group_id.in_(holders),
        )
    )
    session.execute(
        update(DirectoryGroup)
        .where(DirectoryGroup.id.in_(holders))
        .values(version=DirectoryGroup.version + 1, updated_at=utcnow())
    )


def _group(session: Session, source_id: int, ext_id: str) -> DirectoryGroup:
    row = session.scalar(
        select(DirectoryGroup).where(
            DirectoryGroup.source_id == source_id, DirectoryGroup.ext_id == ext_id
        )
    )
    if row is None:
        raise NotFound(f"no group {ext_id!r} in this source")
    return row


def _typed(session: Session, source_id: int, members: Iterable[GroupMember]) -> Members:
    """Members typed by ``member_type`` against the source's groups (first of each value)."""
    listed = list(members)
    untyped = [m.value for m in listed if m.type not in MEMBER_TYPES]
    kinds = member_types(session, source_id, untyped) if untyped else {}
    groups = {value for value, kind in kinds.items() if kind == "Group"}
    typed: dict[str, tuple[str, str | None]] = {}
    for m in listed:
        typed.setdefault(m.value, (member_type(m, groups), None))
    return typed
