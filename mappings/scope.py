"""What a plan of a few users reads: the scoped inputs of ``make_plan(..., users=...)``.

A plan restricted to some users (a SCIM write's) decides from their directory users, the
groups above them, their members, and a few org-wide facts. ``reach`` is the closure of
identities those decisions look at:

- the directory users with one of the ids, or whose key or userName's key is one of the
  keys (two users claiming one identity are a conflict, decided from all claimants);
- the members whose key is one of the keys, or whose IdP id is one of the ids (a rename
  is found by IdP id; a deactivated IdP user is found by a member's IdP id);

each found user and member adds its keys and ids, until nothing new is found.
``scoped_directory`` keeps those users and every group above them (through nesting), each
group with only its members among those; ``scoped_state`` keeps those members, the joined
holders of the top org role (the last-owner rule weighs them all) and every workspace
(the workspace limits count them all). The member count a percentage ``max_removals``
needs is the one fact left out; ``make_plan`` takes it as ``member_count``.

A plan made from the scoped inputs equals the plan of the whole org restricted to the same
users (``tests/unit/test_scope_properties.py``); only its fingerprint and warnings differ.
``sync.scoped`` reads the same selection from the store with index lookups.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

from mappings.directory import Directory, DirectoryGroup, DirectoryUser, identity_key
from mappings.rules import REACHABLE
from mappings.state import Member, PlatformState

__all__ = ["Reach", "reach", "scoped", "scoped_directory", "scoped_state", "user_keys"]


@dataclass(frozen=True, slots=True)
class Reach:
    """The directory user ids and identity keys a plan of some users reads."""

    ids: frozenset[str]
    keys: frozenset[str]


def user_keys(user: DirectoryUser) -> tuple[str, str]:
    """A directory user's key and its userName's key (the identity it may claim)."""
    return user.key, identity_key(user.user_name)


def start(users: Iterable[str]) -> Reach:
    """The first step of the closure: ``users`` taken as IdP ids and as keys."""
    values = set(users)
    return Reach(frozenset(values), frozenset(identity_key(u) for u in values))


def grow(found: Reach, users: Iterable[DirectoryUser], members: Iterable[Member]) -> Reach:
    """``found`` with the ids and keys of the users and members read for it."""
    ids, keys = set(found.ids), set(found.keys)
    for u in users:
        ids.add(u.id)
        keys.update(user_keys(u))
    for m in members:
        keys.add(m.key)
        if m.idp_id is not None:
            ids.add(m.idp_id)
    return Reach(frozenset(ids), frozenset(keys))


def user_reached(u: DirectoryUser, found: Reach) -> bool:
    """Whether a directory user is read for ``found``."""
    key, named = user_keys(u)
    return u.id in found.ids or key in found.keys or named in found.keys


def member_reached(m: Member, found: Reach) -> bool:
    """Whether a member is read for ``found``."""
    return m.key in found.keys or (m.idp_id is not None and m.idp_id in found.ids)


def reach(directory: Directory, state: PlatformState, users: Collection[str]) -> Reach:
    """The closure of ids and keys a plan of ``users`` (IdP ids or emails) reads."""
    found = start(users)
    while True:
        more = grow(
            found,
            (u for u in directory.users if user_reached(u, found)),
            (m for m in state.members if member_reached(m, found)),
        )
        if more == found:
            return found
        found = more


def scoped_directory(directory: Directory, found: Reach) -> Directory:
    """The reached users and the groups above them, each with its members among those."""
    users = tuple(u for u in directory.users if user_reached(u, found))
    kept = {u.id for u in users}
    above: set[str] = set()
    frontier = set(kept)
    while frontier:
        parents = {
            g.id
            for g in directory.groups
            if g.id not in above and any(m.value in frontier for m in g.members)
        }
        above |= parents
        frontier = parents
    values = kept | above
    groups = tuple(
        DirectoryGroup(
            g.id,
            g.display_name,
            g.external_id,
            tuple(m for m in g.members if m.value in values),
        )
        for g in directory.groups
        if g.id in above
    )
    return Directory(users=users, groups=groups)


def scoped_state(state: PlatformState, found: Reach, top_role: str) -> PlatformState:
    """The reached members, the joined holders of ``top_role``, and every workspace."""
    members = tuple(
        m
        for m in state.members
        if member_reached(m, found) or (m.org_role == top_role and m.status == REACHABLE)
    )
    return PlatformState(state.organisation, state.workspaces, members)


def scoped(
    directory: Directory, state: PlatformState, users: Collection[str], top_role: str
) -> tuple[Directory, PlatformState]:
    """The inputs a plan of ``users`` reads, taken from the whole org's."""
    found = reach(directory, state, users)
    return scoped_directory(directory, found), scoped_state(state, found, top_role)
