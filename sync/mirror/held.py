"""A pulled snapshot kept in memory as the mirror holds it, so reconcile need not read it back.

A pull has the whole directory in hand when it writes the mirror; reading 100,000 users
and 300,000 memberships back for the reconcile right after costs seconds. ``hold`` takes
the snapshot in exactly the form ``load_directory`` would return (first of each id,
member types resolved, members de-duplicated and ordered, everything sorted by id),
together with a stamp of the org's mirror (row counts, last updates). ``held_directory``
gives it to the reconcile only while the stamp is unchanged and the source is the org's
only one; otherwise the reconcile reads the merged mirror as always.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mappings.directory import Directory, DirectoryGroup, DirectoryUser, GroupMember
from sync import models
from sync.mirror.values import member_type

__all__ = ["HeldSnapshot", "held_directory", "hold", "mirrored"]


@dataclass(frozen=True, slots=True)
class HeldSnapshot:
    """A snapshot as the org's mirror holds it, and the mirror's stamp when it was taken."""

    directory: Directory
    stamp: tuple[Any, ...]


def mirrored(directory: Directory) -> Directory:
    """``directory`` as ``load_directory`` reads it back once it is a source's whole mirror."""
    users: dict[str, DirectoryUser] = {}
    for user in directory.users:
        users.setdefault(user.id, user)
    group_ids = {g.id for g in directory.groups}
    firsts: dict[str, DirectoryGroup] = {}
    # per group: its user members and its nested groups, each by id (first one kept)
    members: dict[str, tuple[dict[str, GroupMember], dict[str, GroupMember]]] = {}
    for group in directory.groups:
        firsts.setdefault(group.id, group)
        found = members.setdefault(group.id, ({}, {}))
        for m in group.members:
            kind = member_type(m, group_ids)
            bucket = found[0] if kind == "User" else found[1]
            if m.value not in bucket:
                bucket[m.value] = m if m.type == kind else GroupMember(m.value, kind)
    groups = []
    for key in sorted(firsts):
        g, (user_members, group_members) = firsts[key], members[key]
        ordered = [user_members[v] for v in sorted(user_members)]  # the mirror's read order
        ordered += [group_members[v] for v in sorted(group_members)]
        groups.append(DirectoryGroup(g.id, g.display_name, g.external_id, tuple(ordered)))
    return Directory(users=tuple(users[k] for k in sorted(users)), groups=tuple(groups))


def hold(session: Session, org_id: int, directory: Directory) -> HeldSnapshot | None:
    """The snapshot a pull just mirrored in this transaction, or None when other sources
    of the org have rows too (the reconcile then reads the merged mirror)."""
    stamp = _stamp(session, org_id)
    held = mirrored(directory)
    sizes = (len(held.users), len(held.groups), sum(len(g.members) for g in held.groups))
    if (stamp[0], stamp[2], stamp[4]) != sizes:
        return None
    return HeldSnapshot(held, stamp)


def held_directory(session: Session, org_id: int, held: HeldSnapshot) -> Directory | None:
    """The held directory while the org's mirror is unchanged since ``hold``, else None."""
    return held.directory if _stamp(session, org_id) == held.stamp else None


def _stamp(session: Session, org_id: int) -> tuple[Any, ...]:
    """Row counts and last updates of the org's whole mirror."""
    u, g, m = models.DirectoryUser, models.DirectoryGroup, models.DirectoryMembership
    users = session.execute(
        select(func.count(), func.max(u.updated_at)).where(u.org_id == org_id)
    ).one()
    groups = session.execute(
        select(func.count(), func.max(g.updated_at)).where(g.org_id == org_id)
    ).one()
    memberships = session.scalar(
        select(func.count()).select_from(m).join(g, g.id == m.group_id).where(g.org_id == org_id)
    )
    return (users[0], users[1], groups[0], groups[1], memberships)
