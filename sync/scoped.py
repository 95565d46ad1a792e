"""Reading the scoped inputs of a plan of a few users (a SCIM write's) from the store.

The same selection as ``mappings.scope.scoped`` on the whole org's directory and state,
made with index lookups only (docs/architecture.md section 3.1): directory users by id,
key or userName key, members by email or IdP id, the groups above the users through the
memberships' value index, the joined holders of the top org role by role, and the
workspaces. ``tests/integration/test_scoped_gather.py`` checks it equals the pure one.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any, NamedTuple

from sqlalchemy import CompoundSelect, Select, bindparam, exists, func, select, union_all
from sqlalchemy.orm import Session

from mappings.directory import Directory, GroupMember
from mappings.directory import DirectoryGroup as DirGroup
from mappings.directory import DirectoryUser as DirUser
from mappings.rules import REACHABLE
from mappings.scope import Reach, grow, member_reached, start, user_reached
from mappings.state import Member as StateMember
from mappings.state import Organisation as StateOrganisation
from mappings.state import PlatformState
from mappings.state import Workspace as StateWorkspace
from sync.bulk import OneOf, chunks
from sync.models import (
    DirectoryGroup,
    DirectoryMembership,
    DirectoryUser,
    Member,
    Organisation,
    Workspace,
    WorkspaceRole,
)

__all__ = ["MemberRow", "load_scoped", "member_count"]

# The lookups are built once, with their values bound at each call: building a SELECT
# (coercing its clauses, keying the compiled cache) cost about as much CPU as running it.
_u = DirectoryUser.__table__.c
_m = Member.__table__.c
_g = DirectoryGroup.__table__.c
_gm = DirectoryMembership.__table__.c
_USER_COLUMNS = (
    _u.ext_id,
    _u.source_id,
    _u.user_name,
    _u.emails,
    _u.external_id,
    _u.active,
    _u.display_name,
    _u.roles,
)
_MEMBER_COLUMNS = (_m.id, _m.email, _m.org_role, _m.status, _m.origin, _m.idp_id, _m.invited_at)


def _user_ids_by(column: Any, name: str = "keys") -> Select[Any]:
    return select(_u.ext_id).where(_u.org_id == bindparam("org"), OneOf(column, name))


def _members_by(column: Any, name: str) -> Select[Any]:
    return select(*_MEMBER_COLUMNS).where(_m.org_id == bindparam("org"), OneOf(column, name))


_USER_IDS_BY_KEY = _user_ids_by(_u.user_key)
_USER_IDS_BY_NAME_KEY = _user_ids_by(_u.user_name_key)
# a write's few keys: by key and by userName key in one round trip (two index lookups)
_USER_IDS_BY_EITHER_KEY = union_all(_USER_IDS_BY_KEY, _user_ids_by(_u.user_name_key, "name_keys"))
_USERS_BY_ID = select(*_USER_COLUMNS).where(_u.org_id == bindparam("org"), OneOf(_u.ext_id, "ids"))
# a round's few ids and keys: the rows by id, by key and by userName key in one round trip
# (three index lookups, each returning its rows whole); the rows of ids read in an
# earlier round are not returned again (a 100-member PATCH's second round found its 100
# users again by key and by userName key: 200 rows read and decoded for nothing)
_USERS_BY_ID_OR_EITHER_KEY = union_all(
    _USERS_BY_ID,
    *(
        select(*_USER_COLUMNS).where(
            _u.org_id == bindparam("org"), OneOf(column, name), ~OneOf(_u.ext_id, "known")
        )
        for column, name in ((_u.user_key, "keys"), (_u.user_name_key, "name_keys"))
    ),
)
_MEMBERS_BY_EMAIL = _members_by(_m.email, "keys")
_MEMBERS_BY_IDP_ID = _members_by(_m.idp_id, "ids")
_MEMBERS_BY_EMAIL_OR_IDP_ID = union_all(_MEMBERS_BY_EMAIL, _MEMBERS_BY_IDP_ID)
_TOP_HOLDERS = select(*_MEMBER_COLUMNS).where(
    _m.org_id == bindparam("org"), _m.org_role == bindparam("role"), _m.status == REACHABLE
)
# a gather's first members lookup brings the joined holders of the top role with it (they
# are kept aside until the state is made: one statement fewer per write)
_MEMBERS_AND_TOP_HOLDERS: CompoundSelect[Any] = union_all(
    _MEMBERS_BY_EMAIL, _MEMBERS_BY_IDP_ID, _TOP_HOLDERS
)
_older = DirectoryGroup.__table__.alias("older")
# of the groups of one ext id in several sources, the oldest source's wins
# (``mirror.load_directory``'s rule): another source's is not read
_OLDEST = ~exists().where(
    _older.c.org_id == _g.org_id, _older.c.ext_id == _g.ext_id, _older.c.source_id < _g.source_id
)
_GROUP_COLUMNS = (_g.ext_id, _g.display_name, _g.external_id)
# The memberships of some values with their groups' rows. SQLite: ``+ 0`` so that they are
# found from the members' value index, not by walking every membership of every group
# of the org.
_GROUPS_OF_VALUES_SQLITE = (
    select(*_GROUP_COLUMNS, _gm.member_type, _gm.member_value)
    .join_from(DirectoryMembership.__table__, DirectoryGroup.__table__, _g.id == _gm.group_id)
    .where((_g.org_id + 0) == bindparam("org"), OneOf(_gm.member_value, "values"), _OLDEST)
)
# PostgreSQL: the memberships are looked up first, on their own (``MATERIALIZED``), then
# their groups by id. Joined in one query, the planner estimated one group for the org
# and walked each group's memberships (its primary key) beside the value index: 33 ms
# for 100 values in a 100,000-member org, 2.5 ms this way (0.2 for one value).
_FOUND = (
    select(_gm.group_id, _gm.member_type, _gm.member_value)
    .where(OneOf(_gm.member_value, "values"))
    .cte("found")
    .prefix_with("MATERIALIZED")
)
_GROUPS_OF_VALUES_POSTGRES = (
    select(*_GROUP_COLUMNS, _FOUND.c.member_type, _FOUND.c.member_value)
    .join_from(_FOUND, DirectoryGroup.__table__, _g.id == _FOUND.c.group_id)
    .where(_g.org_id == bindparam("org"), _OLDEST)
)
_w = Workspace.__table__.c
_WORKSPACES = (
    select(_w.id, _w.name, _w.credits).where(_w.org_id == bindparam("org")).order_by(_w.name)
)
_r = WorkspaceRole.__table__.c
_ROLES_OF = select(_r.member_id, _r.workspace_id, _r.role).where(OneOf(_r.member_id, "ids"))
_COUNT = select(func.count()).where(_m.org_id == bindparam("org"))
_COUNT_UP_TO = select(func.count()).select_from(
    select(_m.id).where(_m.org_id == bindparam("org")).limit(bindparam("at_most")).subquery()
)
_ONE_QUERY = 500  # keys and ids a scoped lookup reads in one statement (a write's few)


class MemberRow(NamedTuple):
    """What an apply needs of a member row the scoped gather read."""

    id: int
    status: str
    org_role: str
    idp_id: str | None


def member_count(session: Session, org_id: int, at_most: int | None = None) -> int:
    """The org's members (for a percentage ``max_removals``), counted up to ``at_most``:
    a bounded count reads that many index entries, not the whole org's."""
    if at_most is None:
        return session.scalar(_COUNT, {"org": org_id}) or 0
    return session.scalar(_COUNT_UP_TO, {"org": org_id, "at_most": at_most}) or 0


def load_scoped(
    session: Session,
    org_id: int,
    users: Collection[str],
    top_role: str,
    workspace_ids: dict[str, int] | None = None,
    members_seen: dict[str, MemberRow | None] | None = None,
) -> tuple[Directory, PlatformState]:
    """The directory and state a plan of ``users`` (IdP ids or emails) reads.
    ``workspace_ids``: filled with the org's workspaces (name -> row id) read on the way,
    for the apply that follows in the same transaction; ``members_seen`` likewise with
    each member row read (email -> ``MemberRow``) and each email looked up and not found
    (email -> None)."""
    reader = _Reader(session, org_id, top_role)
    found = start(users)
    while True:
        dir_users = reader.users(found)
        # the members are looked up by the keys of the users just read too, so the round
        # that then finds no new user reads no member either
        members = reader.members(grow(found, dir_users, ()))
        more = grow(found, dir_users, (m for _, m in members))
        if more == found:
            break
        found = more
    kept = sorted((u for u in dir_users if user_reached(u, found)), key=lambda u: u.id)
    directory = Directory(users=tuple(kept), groups=reader.groups_above({u.id for u in kept}))
    state = reader.state(found)
    if workspace_ids is not None:
        workspace_ids.update(reader.workspace_ids)
    if members_seen is not None:
        members_seen.update(dict.fromkeys(reader.member_keys))
        members_seen.update(
            (m.email, MemberRow(i, m.status, m.org_role, m.idp_id))
            for i, m in reader.member_rows.items()
        )
    return directory, state


class _Reader:
    """Index lookups of one org, each id or key looked up once."""

    def __init__(self, session: Session, org_id: int, top_role: str) -> None:
        self.session, self.org_id, self.top_role = session, org_id, top_role
        self.top_holders_read = False
        # the lookups are Core statements: run on the session's connection, without the
        # ORM session's execute around them (about 15 us of CPU each on SQLite, 28 on
        # PostgreSQL; it would not flush for them either)
        self.connection = session.connection()
        postgres = self.connection.dialect.name == "postgresql"
        self.groups_of_values = _GROUPS_OF_VALUES_POSTGRES if postgres else _GROUPS_OF_VALUES_SQLITE
        self.rows: dict[str, tuple[int, DirUser]] = {}  # ext id -> (source, user), oldest wins
        self.asked_ids: set[str] = set()
        self.asked_keys: set[str] = set()
        self.member_rows: dict[int, Any] = {}
        self.member_ids: set[str] = set()
        self.member_keys: set[str] = set()
        self.workspace_ids: dict[str, int] = {}

    def _read(self, statement: Any, **values: Any) -> Any:
        # fetched whole (one ``fetchall`` of the driver), not row by row as iterating the
        # result does: a 100-member PATCH reads some 1,300 rows
        return self.connection.execute(statement, {"org": self.org_id, **values}).all()

    def _keep_users(self, rows: Iterable[Any]) -> None:
        # rows unpacked by position (``_USER_COLUMNS``): a Row's attribute costs about
        # 0.4 us, and a 100-member PATCH reads some 2,000 of them
        for ext_id, source_id, user_name, emails, external_id, active, name, roles in rows:
            held = self.rows.get(ext_id)
            if held is not None and held[0] <= source_id:
                continue
            self.rows[ext_id] = (
                source_id,
                DirUser(
                    id=ext_id,
                    user_name=user_name,
                    emails=tuple(emails or ()),
                    external_id=external_id,
                    active=active,
                    display_name=name,
                    roles=tuple(roles or ()),
                ),
            )

    def users(self, found: Reach) -> list[DirUser]:
        """The directory users (the oldest source's row of each id) reached so far."""
        keys = sorted(found.keys - self.asked_keys)
        self.asked_keys |= found.keys
        ids = sorted((found.ids | self.rows.keys()) - self.asked_ids)
        by_key: set[str] = set()  # the ids of the rows with these keys, read whole next
        if len(keys) + len(ids) <= _ONE_QUERY:
            # a write's few: the rows by id and by either key in one statement; of the ids
            # its keys found, only new ones are read again below
            known = sorted(self.asked_ids)  # every row of these ids is held already
            self.asked_ids |= set(ids)
            rows = self._read(
                _USERS_BY_ID_OR_EITHER_KEY, ids=ids, keys=keys, name_keys=keys, known=known
            )
            self._keep_users(rows)
            by_key.update(row[0] for row in rows)
        elif len(keys) <= _ONE_QUERY:
            # The rows are read by id next, once each: a subquery here let PostgreSQL,
            # with the statistics of a freshly pushed org, plan a nested loop over the
            # whole org per row.
            if keys:
                by_key.update(
                    row[0] for row in self._read(_USER_IDS_BY_EITHER_KEY, keys=keys, name_keys=keys)
                )
        else:
            for chunk in chunks(keys):
                for statement in (_USER_IDS_BY_KEY, _USER_IDS_BY_NAME_KEY):
                    by_key.update(row[0] for row in self._read(statement, keys=list(chunk)))
        # every row of a found id, so that the oldest source's row is the one kept
        ids = sorted((found.ids | by_key | self.rows.keys()) - self.asked_ids)
        self.asked_ids |= set(ids)
        for chunk in chunks(ids):
            self._keep_users(self._read(_USERS_BY_ID, ids=list(chunk)))
        return [u for _, u in self.rows.values() if user_reached(u, found)]

    def members(self, found: Reach) -> list[tuple[int, StateMember]]:
        """The members reached so far, by row id."""
        keys = sorted(found.keys - self.member_keys)
        ids = sorted(found.ids - self.member_ids)
        self.member_keys |= found.keys
        self.member_ids |= found.ids
        if keys and ids and len(keys) + len(ids) <= _ONE_QUERY:
            # one round trip for both lookups (each keeps its index; a row found twice
            # is kept once), and the first one's for the top role's holders too
            if self.top_holders_read:
                rows = self._read(_MEMBERS_BY_EMAIL_OR_IDP_ID, keys=keys, ids=ids)
            else:
                self.top_holders_read = True
                rows = self._read(_MEMBERS_AND_TOP_HOLDERS, keys=keys, ids=ids, role=self.top_role)
            self._keep_members(rows)
            return [(i, m) for i, m in self.member_rows.items() if member_reached(m, found)]
        for chunk in chunks(keys):
            self._keep_members(self._read(_MEMBERS_BY_EMAIL, keys=list(chunk)))
        for chunk in chunks(ids):
            self._keep_members(self._read(_MEMBERS_BY_IDP_ID, ids=list(chunk)))
        return [(i, m) for i, m in self.member_rows.items() if member_reached(m, found)]

    def _keep_members(self, rows: Iterable[Any]) -> None:
        kept = self.member_rows
        for member_id, email, org_role, status, origin, idp_id, invited_at in rows:
            if member_id not in kept:  # by position, ``_MEMBER_COLUMNS``
                kept[member_id] = StateMember(
                    email=email,
                    org_role=org_role,
                    status=status,
                    origin=origin,
                    idp_id=idp_id,
                    invited_at=invited_at,
                )

    def groups_above(self, user_ids: set[str]) -> tuple[DirGroup, ...]:
        """The groups above these users through nesting, each with its members among
        these users and those groups (by the mirror's order: users first, by value)."""
        edges: dict[str, set[tuple[str, str]]] = {}  # group ext id -> {(type, value)}
        info: dict[str, tuple[str, str | None]] = {}  # ext id -> (displayName, externalId)
        above: set[str] = set()
        frontier = set(user_ids)
        while frontier:
            # one statement a level: the memberships of the values with their groups' rows
            parents: set[str] = set()
            for chunk in chunks(sorted(frontier)):
                for ext_id, name, external_id, kind, value in self._read(
                    self.groups_of_values, values=list(chunk)
                ):
                    info[ext_id] = (name, external_id)
                    edges.setdefault(ext_id, set()).add((kind, value))
                    parents.add(ext_id)
            frontier = parents - above
            above |= parents
        values = user_ids | above
        groups = []
        for ext_id in sorted(above):
            members = sorted(
                ((kind, value) for kind, value in edges[ext_id] if value in values),
                key=lambda e: (_DESC.get(e[0]) or _desc(e[0]), e[1]),
            )
            name, external_id = info[ext_id]
            groups.append(
                DirGroup(
                    ext_id,
                    name,
                    external_id,
                    tuple(GroupMember(value, kind) for kind, value in members),
                )
            )
        return tuple(groups)

    def state(self, found: Reach) -> PlatformState:
        """The reached members, the joined holders of the top role, every workspace."""
        top_role = self.top_role
        if not self.top_holders_read:
            self._keep_members(self._read(_TOP_HOLDERS, role=top_role))
        rows = {
            i: m
            for i, m in self.member_rows.items()
            if member_reached(m, found) or (m.org_role == top_role and m.status == REACHABLE)
        }
        org = self.session.get(Organisation, self.org_id)
        assert org is not None  # the caller read it
        workspaces = self._read(_WORKSPACES)
        names = {w.id: w.name for w in workspaces}
        self.workspace_ids = {w.name: w.id for w in workspaces}
        roles: dict[int, dict[str, list[str]]] = {}
        for chunk in chunks(sorted(rows)):
            for member_id, ws_id, role in self.connection.execute(
                _ROLES_OF, {"ids": list(chunk)}
            ).all():
                roles.setdefault(member_id, {}).setdefault(names[ws_id], []).append(role)
        members = tuple(
            _with_roles(m, roles.get(i, {}))
            for i, m in sorted(rows.items(), key=lambda item: item[1].email)
        )
        return PlatformState(
            organisation=StateOrganisation(name=org.name, plan=org.plan, credits=org.credits),
            workspaces=tuple(StateWorkspace(name=w.name, credits=w.credits) for w in workspaces),
            members=members,
        )


def _desc(kind: str) -> tuple[int, ...]:
    """Sorts member types descending (``User`` before ``Group``), as the mirror reads them."""
    return tuple(-ord(c) for c in kind)


_DESC = {kind: _desc(kind) for kind in ("User", "Group")}  # the two kinds a SCIM write stores


def _with_roles(m: StateMember, roles: dict[str, list[str]]) -> StateMember:
    if not roles:
        return m
    workspaces = {ws: tuple(sorted(r)) for ws, r in sorted(roles.items())}
    return StateMember(
        email=m.email,
        org_role=m.org_role,
        status=m.status,
        origin=m.origin,
        idp_id=m.idp_id,
        invited_at=m.invited_at,
        workspaces=workspaces,
    )
