"""Resolution: directory + mapping + role model -> the desired state, with provenance.

Every grant keeps the rule and the group path (outer group first) behind it. Group
closures are computed once per group (breadth-first, so nesting cycles cannot hang and
the shortest path is the one reported).
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from mappings.directory import Directory, DirectoryGroup, DirectoryUser, identity_key
from mappings.mapping import RoleMapping, Rule
from mappings.operations import Reason
from mappings.regex import compile_pattern
from mappings.rolemodel import RoleModel
from mappings.template import MAX_FILLED, fill

__all__ = ["Desired", "DesiredUser", "Grant", "resolve", "selected_groups"]

# The rule index of grants that come from the policy or the role model, not a rule.
UNMAPPED_DEFAULT = -1


@dataclass(frozen=True, slots=True, order=True)
class Grant:
    """A role one rule gives a user: ``workspace`` is None for an org role."""

    role: str
    workspace: str | None
    reason: Reason
    create: bool = False  # the rule may create the workspace
    credits: int = 0


@dataclass(frozen=True, slots=True)
class DesiredUser:
    """What the mapping says one person should have, and the grants that lost."""

    key: str
    user: DirectoryUser
    org_role: str
    grants: tuple[Grant, ...]  # every grant, winners and losers
    workspaces: Mapping[str, tuple[str, ...]]  # workspace -> roles (sorted low -> high)
    idp_ids: tuple[str, ...] = ()  # every directory id behind this key

    @property
    def lost(self) -> tuple[Grant, ...]:
        """Grants that lost a conflict: lower org roles, lower single workspace roles."""
        return tuple(
            g
            for g in self.grants
            if (
                g.role != self.org_role
                if g.workspace is None
                else g.role not in self.workspaces.get(g.workspace, ())
            )
        )

    @property
    def active(self) -> bool:
        """Whether the IdP says the person is active."""
        return self.user.active

    def reasons_for(self, role: str, workspace: str | None = None) -> tuple[Reason, ...]:
        """The reasons behind one winning role."""
        return tuple(
            sorted({g.reason for g in self.grants if g.role == role and g.workspace == workspace})
        )


@dataclass(frozen=True, slots=True)
class Desired:
    """The desired state: mapped users by key, unmapped users in scope, and warnings.

    A key that two directory users in scope claim (as their key, or one's key as the
    other's userName) is in ``conflicts`` with their ids, and nowhere else: neither user
    gets a grant, so the one member behind the key never takes the other's roles.
    """

    users: Mapping[str, DesiredUser] = field(default_factory=dict)
    unmapped: frozenset[str] = frozenset()  # keys in the directory and scope no rule maps
    known: Mapping[str, DirectoryUser] = field(default_factory=dict)  # every key in scope
    out_of_scope: frozenset[str] = frozenset()  # keys in the directory but outside the scope
    warnings: tuple[str, ...] = ()
    conflicts: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # key -> user ids


class _Graph:
    """Indexes of a directory and memoised transitive closures of its groups."""

    def __init__(self, directory: Directory) -> None:
        self.users = {u.id: u for u in directory.users}
        self.groups = {g.id: g for g in directory.groups}
        self.by_name: dict[str, list[DirectoryGroup]] = {}
        self.by_external: dict[str, list[DirectoryGroup]] = {}
        for g in directory.groups:
            self.by_name.setdefault(g.display_name.casefold(), []).append(g)
            if g.external_id:
                self.by_external.setdefault(g.external_id, []).append(g)
        self._closure: dict[str, list[tuple[tuple[str, ...], list[str]]]] = {}

    def select(self, selector: str) -> list[DirectoryGroup]:
        """Groups named by ``displayName`` (case-insensitive), ``id:X`` or ``externalId:X``."""
        if selector.startswith("id:"):
            g = self.groups.get(selector[3:].strip())
            return [g] if g else []
        if selector.startswith("externalId:"):
            return self.by_external.get(selector[11:].strip(), [])
        return self.by_name.get(selector.strip().casefold(), [])

    def closure(self, root: DirectoryGroup) -> list[tuple[tuple[str, ...], list[str]]]:
        """Every user id in ``root`` (transitively), grouped by the group path reaching it.

        Breadth-first, so each user gets the shortest path and cycles end; memoised.
        """
        cached = self._closure.get(root.id)
        if cached is not None:
            return cached
        users, groups = self.users, self.groups
        found: set[str] = set()
        out: list[tuple[tuple[str, ...], list[str]]] = []
        seen = {root.id}
        queue: deque[tuple[DirectoryGroup, tuple[str, ...]]] = deque([(root, (root.display_name,))])
        while queue:
            group, path = queue.popleft()
            values = [m.value for m in group.members if m.type == "User"]
            if len(values) == len(group.members):  # nests nothing: the common, fast case
                if found:
                    direct = [v for v in dict.fromkeys(values) if v in users and v not in found]
                else:
                    direct = [v for v in dict.fromkeys(values) if v in users]
                found.update(direct)
                if direct:
                    out.append((path, direct))
                continue
            direct = []
            for m in group.members:
                value = m.value
                if m.type == "User" or (m.type is None and value in users):
                    if value in users and value not in found:
                        found.add(value)
                        direct.append(value)
                    continue
                sub = groups.get(value)
                if sub is not None and sub.id not in seen:
                    seen.add(sub.id)
                    queue.append((sub, (*path, sub.display_name)))
            if direct:
                out.append((path, direct))
        self._closure[root.id] = out
        return out


_Interned = dict[tuple[tuple[str, ...], tuple[tuple[str, str], ...]], tuple[str, list["Grant"]]]


def _rule_grants(
    rule: Rule,
    graph: _Graph,
    directory: Directory,
    model: RoleModel,
    warnings: list[str],
    interned: _Interned,
) -> Iterable[tuple[list[Grant], list[str], bool]]:
    """(grants, user ids, shared) of one rule; grants are built once per group path, and
    ``shared`` says another group already gave the same grants (so users may repeat)."""
    if rule.role is not None:
        wanted = rule.role.casefold()
        grants = _grants_of(rule, Reason(rule.index, (f"role:{rule.role}",)), {}, model, warnings)
        uids = [u.id for u in directory.users if any(r.casefold() == wanted for r in u.roles)]
        yield grants, uids, False
        return
    if rule.group is not None:
        for g in graph.select(rule.group):
            yield from _closure_grants(rule, g, graph, {}, model, warnings, interned)
        return
    assert rule.match is not None
    pattern = rule.pattern or compile_pattern(rule.match, f"rules[{rule.index}].match")
    for g in directory.groups:
        captures = pattern.search(g.display_name)
        if captures is not None:
            yield from _closure_grants(rule, g, graph, captures, model, warnings, interned)


def _closure_grants(
    rule: Rule,
    group: DirectoryGroup,
    graph: _Graph,
    captures: Mapping[str, str],
    model: RoleModel,
    warnings: list[str],
    interned: _Interned,
) -> Iterable[tuple[list[Grant], list[str], bool]]:
    """The users of ``group`` by path, with the rule's grants; equal grants are one object."""
    filled = tuple(sorted(captures.items()))
    for path, uids in graph.closure(group):
        hit = interned.get((path, filled))
        if hit is None:
            grants = _grants_of(rule, Reason(rule.index, path), captures, model, warnings)
            interned[(path, filled)] = (group.id, grants)
            yield grants, uids, False
        else:
            yield hit[1], uids, hit[0] != group.id


def _grants_of(
    rule: Rule,
    reason: Reason,
    captures: Mapping[str, str],
    model: RoleModel,
    warnings: list[str],
) -> list[Grant]:
    """The grants one rule gives through one group path."""
    out: list[Grant] = []
    texts = (rule.org_role, rule.workspace, *rule.workspace_roles)
    filled = [None if t is None else fill(t, captures) for t in texts]
    where = f"rules[{rule.index}]: group '{reason.groups[0]}'"
    if any(f is None for f, t in zip(filled, texts, strict=True) if t is not None):
        warnings.append(f"{where} left a capture empty")
        return out
    longest = max(len(f or "") for f in filled)
    if longest > MAX_FILLED:
        warnings.append(f"{where} fills a name of {longest} characters (limit {MAX_FILLED})")
        return out
    org_role, workspace, ws_roles = filled[0], filled[1], [f for f in filled[2:] if f]
    if org_role is not None:
        if org_role in model.org_roles:
            out.append(Grant(org_role, None, reason))
        else:
            warnings.append(
                f"rules[{rule.index}]: group '{reason.groups[0]}' names unknown org role "
                f"'{org_role}'"
            )
    if workspace is None:
        return out
    for role in ws_roles:
        if role in model.workspace_roles:
            out.append(Grant(role, workspace, reason, rule.create_workspace, rule.credits))
        else:
            warnings.append(
                f"rules[{rule.index}]: group '{reason.groups[0]}' names unknown workspace role "
                f"'{role}'"
            )
    return out


def _scope_ids(mapping: RoleMapping, graph: _Graph) -> set[str] | None:
    if not mapping.scope.groups:
        return None
    ids: set[str] = set()
    for selector in mapping.scope.groups:
        for g in graph.select(selector):
            for _, uids in graph.closure(g):
                ids.update(uids)
    return ids


def selected_groups(directory: Directory, mapping: RoleMapping) -> frozenset[str]:
    """Ids of the groups a rule or the scope names directly (by selector or pattern)."""
    graph = _Graph(directory)
    selectors = [*mapping.scope.groups, *(r.group for r in mapping.rules if r.group)]
    found = {g.id for s in selectors for g in graph.select(s)}
    for rule in mapping.rules:
        if rule.match is not None:
            pattern = rule.pattern or compile_pattern(rule.match, f"rules[{rule.index}].match")
            found.update(
                g.id for g in directory.groups if pattern.search(g.display_name) is not None
            )
    return frozenset(found)


def resolve(directory: Directory, mapping: RoleMapping, role_model: RoleModel) -> Desired:
    """The desired state of every user in scope, each grant with its provenance."""
    graph = _Graph(directory)
    warnings: list[str] = []
    in_scope = _scope_ids(mapping, graph)
    by_user: defaultdict[str, list[Grant]] = defaultdict(list)
    repeats = False  # whether one user may get the same grants twice (same-named groups)
    for rule in mapping.rules:
        interned: _Interned = {}
        for grants, uids, shared in _rule_grants(
            rule, graph, directory, role_model, warnings, interned
        ):
            repeats = repeats or shared
            if not grants:
                continue
            if in_scope is not None:
                uids = [u for u in uids if u in in_scope]
            for uid in uids:
                by_user[uid].extend(grants)
    people, outside = _people(directory, in_scope)
    conflicts = _conflicts(people)
    ranks = _Ranks(role_model, mapping)
    users: dict[str, DesiredUser] = {}
    unmapped: set[str] = set()
    for key, members in people.items():
        if key in conflicts:
            continue
        found = by_user.get(members[0].id)  # .get: do not grow the defaultdict
        if not found and mapping.policy.unmapped != "default_role":
            unmapped.add(key)
            continue
        users[key] = _desired(key, members, found or [], ranks, repeats)
    known = {key: members[0] for key, members in people.items() if key not in conflicts}
    return Desired(
        users,
        frozenset(unmapped),
        known,
        outside,
        tuple(dict.fromkeys(warnings)),
        conflicts,
    )


def _people(
    directory: Directory, in_scope: set[str] | None
) -> tuple[dict[str, list[DirectoryUser]], frozenset[str]]:
    """Users in scope grouped by key, and the keys of users outside the scope."""
    people: dict[str, list[DirectoryUser]] = {}
    outside: set[str] = set()
    for u in directory.users:
        if in_scope is None or u.id in in_scope:
            key = identity_key(u.emails[0] if u.emails else u.user_name)  # u.key, no property
            found = people.get(key)
            if found is None:
                people[key] = [u]
            else:
                found.append(u)
        else:
            outside.add(u.key)
    return people, frozenset(outside - people.keys())


def _conflicts(people: Mapping[str, list[DirectoryUser]]) -> dict[str, tuple[str, ...]]:
    """Keys more than one user claims: as their key, or (another user's key) as userName."""
    claims = {key: {u.id for u in members} for key, members in people.items() if len(members) > 1}
    for members in people.values():
        for u in members:
            if u.emails and u.user_name != u.emails[0]:  # else the userName is the key
                named = identity_key(u.user_name)
                owners = people.get(named)
                if owners is not None and any(o.id != u.id for o in owners):
                    claims.setdefault(named, {o.id for o in owners}).add(u.id)
    return {key: tuple(sorted(ids)) for key, ids in sorted(claims.items())}


class _Ranks:
    """Role ranks as dicts, and the default grant, computed once per resolve."""

    def __init__(self, model: RoleModel, mapping: RoleMapping) -> None:
        self.org = {r: i for i, r in enumerate(model.org_roles)}
        self.ws = {r: i for i, r in enumerate(model.workspace_roles)}
        self.sets = model.workspace_roles_are_sets
        self.default = Grant(mapping.policy.default_role, None, Reason(UNMAPPED_DEFAULT))


def _desired(
    key: str, members: list[DirectoryUser], found: list[Grant], ranks: _Ranks, repeats: bool
) -> DesiredUser:
    # with ``repeats`` the same grant object may reach this user twice: keep one
    grants = tuple({id(g): g for g in found}.values()) if repeats else tuple(found)
    org_rank, best, org_role = ranks.org, -1, ""
    workspaces: dict[str, tuple[str, ...]] = {}
    several = False  # some workspace got two roles: rank them below
    for g in grants:
        ws = g.workspace
        if ws is None:
            rank = org_rank[g.role]
            if rank > best:
                best, org_role = rank, g.role
        elif ws in workspaces:
            workspaces[ws] += (g.role,)
            several = True
        else:
            workspaces[ws] = (g.role,)
    if best < 0:
        org_role = ranks.default.role
        grants = (ranks.default, *grants)
    if several:
        for ws, roles in workspaces.items():
            if len(roles) > 1:
                ranked = sorted(set(roles), key=ranks.ws.__getitem__)
                workspaces[ws] = tuple(ranked) if ranks.sets else (ranked[-1],)
    if len(workspaces) > 1:
        workspaces = dict(sorted(workspaces.items()))
    ids = (members[0].id,) if len(members) == 1 else tuple(u.id for u in members)
    return DesiredUser(key, members[0], org_role, grants, workspaces, ids)


def grant_order(model: RoleModel) -> Callable[[Grant], tuple[str, int, int, tuple[str, ...]]]:
    """Sort key for showing grants: by workspace, highest role first, then rule and path."""

    def order(g: Grant) -> tuple[str, int, int, tuple[str, ...]]:
        rank = model.org_rank(g.role) if g.workspace is None else model.workspace_rank(g.role)
        return (g.workspace or "", -rank, g.reason.rule, g.reason.groups)

    return order
