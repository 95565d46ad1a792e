"""Replacing a source's whole snapshot in the mirror, in bulk statements.

A pull (Okta, Graph, SCIM server) fetches everything and hands it over here: users and
groups are matched by the source's ids (so renames are updates), and only the rows that
differ are inserted, updated or deleted, a few statements per table.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, bindparam, delete, select, update
from sqlalchemy.orm import Session

from mappings.directory import Directory
from mappings.directory import DirectoryGroup as DirGroup
from mappings.directory import DirectoryUser as DirUser
from sync.bulk import chunks, insert_rows
from sync.mirror.values import group_values, member_type, user_values
from sync.models import DirectoryGroup, DirectoryMembership, DirectoryUser, Source, utcnow

__all__ = ["SnapshotChanges", "replace_snapshot"]


@dataclass(frozen=True, slots=True)
class SnapshotChanges:
    """What ``replace_snapshot`` changed, in rows."""

    users_added: int = 0
    users_updated: int = 0
    users_removed: int = 0
    groups_added: int = 0
    groups_updated: int = 0
    groups_removed: int = 0
    memberships_added: int = 0
    memberships_removed: int = 0

    @property
    def changed(self) -> bool:
        """Whether anything changed at all."""
        return any(getattr(self, name) for name in self.__slots__)


def replace_snapshot(
    session: Session, org_id: int, source_id: int, directory: Directory
) -> SnapshotChanges:
    """Make the source's mirror equal ``directory``, in bulk statements, in the caller's
    transaction: users and groups are matched by id, so renames are updates."""
    users = _replace_users(session, org_id, source_id, directory.users)
    (added_g, changed_g, gone), group_ids = _replace_groups(
        session, org_id, source_id, directory.groups
    )
    added, removed = _replace_memberships(session, source_id, directory, group_ids)
    for chunk in chunks(gone):  # after the memberships, so that those are counted too
        session.execute(delete(DirectoryGroup).where(DirectoryGroup.id.in_(chunk)))
    groups = (added_g, changed_g, len(gone))
    source = session.get(Source, source_id)
    if source is not None:
        source.last_user_count = len(directory.users)
    return SnapshotChanges(*users, *groups, added, removed)


def _table(name: str) -> Table:
    return DirectoryUser.metadata.tables[name]


_USER_FIELDS = ("user_name", "external_id", "display_name", "emails", "roles", "active")
_GROUP_FIELDS = ("display_name", "external_id")


def _diff_rows(
    existing: Mapping[str, Any],
    items: Sequence[DirUser] | Sequence[DirGroup],
    values_of: Callable[[Any], dict[str, Any]],
    fields: Sequence[str],
    common: Mapping[str, Any],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], set[str]]:
    """Rows to insert and rows to update (by the source's id), and the ids seen: an item
    is new, changed in one of ``fields``, or left alone; a repeated id counts once."""
    now = utcnow()
    new_rows: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    seen: set[str] = set()
    for item in items:
        if item.id in seen:
            continue
        seen.add(item.id)
        values = values_of(item)
        old = existing.get(item.id)
        if old is None:
            new_rows.append(
                {**common, "ext_id": item.id, **values, "version": 1, "created_at": now,
                 "updated_at": now}
            )  # fmt: skip
        elif any(getattr(old, f) != values[f] for f in fields):
            changed.append({"id": old.id, **values, "version": old.version + 1, "updated_at": now})
    return new_rows, changed, seen


def _replace_users(
    session: Session, org_id: int, source_id: int, users: Sequence[DirUser]
) -> tuple[int, int, int]:
    existing = {
        row.ext_id: row
        for row in session.execute(
            select(DirectoryUser.id, DirectoryUser.ext_id, DirectoryUser.version)
            .add_columns(*(getattr(DirectoryUser, f) for f in _USER_FIELDS))
            .where(DirectoryUser.source_id == source_id)
        )
    }
    new_rows, changed, seen = _diff_rows(
        existing, users, user_values, _USER_FIELDS, {"org_id": org_id, "source_id": source_id}
    )
    gone = [row.id for ext_id, row in existing.items() if ext_id not in seen]
    insert_rows(session, _table("directory_users"), new_rows)
    if changed:
        session.execute(update(DirectoryUser), changed)
    for chunk in chunks(gone):
        session.execute(delete(DirectoryUser).where(DirectoryUser.id.in_(chunk)))
    return len(new_rows), len(changed), len(gone)


def _replace_groups(
    session: Session, org_id: int, source_id: int, groups: Sequence[DirGroup]
) -> tuple[tuple[int, int, list[int]], dict[str, int]]:
    existing = {
        row.ext_id: row
        for row in session.execute(
            select(
                DirectoryGroup.id,
                DirectoryGroup.ext_id,
                DirectoryGroup.version,
                DirectoryGroup.display_name,
                DirectoryGroup.external_id,
            ).where(DirectoryGroup.source_id == source_id)
        )
    }
    new_rows, changed, seen = _diff_rows(
        existing, groups, group_values, _GROUP_FIELDS, {"org_id": org_id, "source_id": source_id}
    )
    gone = [row.id for ext_id, row in existing.items() if ext_id not in seen]
    insert_rows(session, _table("directory_groups"), new_rows)
    if changed:
        session.execute(update(DirectoryGroup), changed)
    ids = {
        ext_id: group_id
        for ext_id, group_id in session.execute(
            select(DirectoryGroup.ext_id, DirectoryGroup.id).where(
                DirectoryGroup.source_id == source_id
            )
        )
    }
    return (len(new_rows), len(changed), gone), ids


def _replace_memberships(
    session: Session, source_id: int, directory: Directory, group_ids: dict[str, int]
) -> tuple[int, int]:
    group_ext_ids = {g.id for g in directory.groups}
    wanted: set[tuple[int, str, str]] = set()
    for group in directory.groups:
        for m in group.members:
            wanted.add((group_ids[group.id], member_type(m, group_ext_ids), m.value))
    groups = select(DirectoryGroup.id).where(DirectoryGroup.source_id == source_id)
    have = set(
        session.execute(
            select(
                DirectoryMembership.group_id,
                DirectoryMembership.member_type,
                DirectoryMembership.member_value,
            ).where(DirectoryMembership.group_id.in_(groups))
        )
    )
    added = sorted(wanted - have)
    removed = sorted(have - wanted)
    table = _table("directory_memberships")
    insert_rows(
        session, table, [{"group_id": g, "member_type": t, "member_value": v} for g, t, v in added]
    )
    if removed:
        session.connection().execute(
            table.delete().where(
                table.c.group_id == bindparam("g"),
                table.c.member_type == bindparam("t"),
                table.c.member_value == bindparam("v"),
            ),
            [{"g": g, "t": t, "v": v} for g, t, v in removed],
        )
    return len(added), len(removed)
