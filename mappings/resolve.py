"""Resolution: directory + mapping + role model -> the desired state, with provenance.

Every grant keeps the rule and the group path (outer group first) behind it. Group
closures are computed once per group (breadth-first, so nesting cycles cannot hang and
the shortest path is the one reported).
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from mappings.directory import Directory, DirectoryGroup, DirectoryUser
from mappings.mapping import RoleMapping, Rule
from mappings.operations import Reason
from mappings.rolemodel import RoleModel

__all__ = ["Desired", "DesiredUser", "Grant", "resolve"]

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
    lost: tuple[Grant, ...] = ()
    idp_ids: tuple[str, ...] = ()  # every directory id behind this key

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
    """The desired state: mapped users by key, unmapped users in scope, and warnings."""

    users: Mapping[str, DesiredUser] = field(default_factory=dict)
    unmapped: frozenset[str] = frozenset()  # keys in the directory and scope no rule maps
    known: Mapping[str, DirectoryUser] = field(default_factory=dict)  # every key in scope
    out_of_scope: frozenset[str] = frozenset()  # keys in the directory but outside the scope
    warnings: tuple[str, ...] = ()


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
        self._closure: dict[str, dict[str, tuple[str, ...]]] = {}

    def select(self, selector: str) -> list[DirectoryGroup]:
        """Groups named by ``displayName`` (case-insensitive), ``id:X`` or ``externalId:X``."""
        if selector.startswith("id:"):
            g = self.groups.get(selector[3:].strip())
            return [g] if g else []
        if selector.startswith("externalId:"):
            return self.by_external.get(selector[11:].strip(), [])
        return self.by_name.get(selector.strip().casefold(), [])

    def closure(self, root: DirectoryGroup) -> dict[str, tuple[str, ...]]:
        """Every user id in ``root`` (transitively) -> the group path that reaches it."""
        cached = self._closure.get(root.id)
        if cached is not None:
            return cached
        found: dict[str, tuple[str, ...]] = {}
        seen = {root.id}
        queue: deque[tuple[DirectoryGroup, tuple[str, ...]]] = deque([(root, (root.display_name,))])
        while queue:
            group, path = queue.popleft()
            for m in group.members:
                sub = self.groups.get(m.value) if m.type != "User" else None
                if sub is not None and (m.type == "Group" or m.value not in self.users):
                    if sub.id not in seen:
                        seen.add(sub.id)
                        queue.append((sub, (*path, sub.display_name)))
                elif m.value in self.users and m.value not in found:
                    found[m.value] = path
        self._closure[root.id] = found
        return found


def _fill(template: str, captures: Mapping[str, str]) -> str:
    return template.format_map(captures) if "{" in template else template


def _rule_grants(
    rule: Rule, graph: _Graph, directory: Directory, model: RoleModel, warnings: list[str]
) -> Iterable[tuple[str, list[Grant]]]:
    """(user id, grants) pairs of one rule; grants are built once per group path."""
    if rule.role is not None:
        wanted = rule.role.casefold()
        grants = _grants_of(rule, Reason(rule.index, (f"role:{rule.role}",)), {}, model, warnings)
        for u in directory.users:
            if any(r.casefold() == wanted for r in u.roles):
                yield u.id, grants
        return
    if rule.group is not None:
        for g in graph.select(rule.group):
            yield from _closure_grants(rule, g, graph, {}, model, warnings)
        return
    assert rule.match is not None
    pattern = re.compile(rule.match)
    for g in directory.groups:
        m = pattern.search(g.display_name)
        if m is not None:
            captures = {k: v for k, v in m.groupdict().items() if v is not None}
            yield from _closure_grants(rule, g, graph, captures, model, warnings)


def _closure_grants(
    rule: Rule,
    group: DirectoryGroup,
    graph: _Graph,
    captures: Mapping[str, str],
    model: RoleModel,
    warnings: list[str],
) -> Iterable[tuple[str, list[Grant]]]:
    by_path: dict[tuple[str, ...], list[Grant]] = {}
    for uid, path in graph.closure(group).items():
        grants = by_path.get(path)
        if grants is None:
            grants = by_path[path] = _grants_of(
                rule, Reason(rule.index, path), captures, model, warnings
            )
        yield uid, grants


def _grants_of(
    rule: Rule,
    reason: Reason,
    captures: Mapping[str, str],
    model: RoleModel,
    warnings: list[str],
) -> list[Grant]:
    """The grants one rule gives through one group path."""
    out: list[Grant] = []
    try:
        org_role = _fill(rule.org_role, captures) if rule.org_role else None
        workspace = _fill(rule.workspace, captures) if rule.workspace else None
        ws_roles = [_fill(r, captures) for r in rule.workspace_roles]
    except (KeyError, IndexError):
        warnings.append(f"rules[{rule.index}]: group '{reason.groups[0]}' left a capture empty")
        return out
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
            ids.update(graph.closure(g))
    return ids


def resolve(directory: Directory, mapping: RoleMapping, role_model: RoleModel) -> Desired:
    """The desired state of every user in scope, each grant with its provenance."""
    graph = _Graph(directory)
    warnings: list[str] = []
    in_scope = _scope_ids(mapping, graph)
    by_user: dict[str, list[Grant]] = {}
    for rule in mapping.rules:
        for uid, grants in _rule_grants(rule, graph, directory, role_model, warnings):
            if in_scope is None or uid in in_scope:
                by_user.setdefault(uid, []).extend(grants)
    people = _people(directory, in_scope, warnings)
    users: dict[str, DesiredUser] = {}
    unmapped: set[str] = set()
    for key, members in people.items():
        grants = [g for u in members for g in by_user.get(u.id, ())]
        if not grants and mapping.policy.unmapped != "default_role":
            unmapped.add(key)
            continue
        users[key] = _desired(key, members, grants, mapping, role_model)
    known = {key: members[0] for key, members in people.items()}
    outside = frozenset(u.key for u in directory.users if u.key not in known)
    return Desired(users, frozenset(unmapped), known, outside, tuple(dict.fromkeys(warnings)))


def _people(
    directory: Directory, in_scope: set[str] | None, warnings: list[str]
) -> dict[str, list[DirectoryUser]]:
    """Directory users in scope grouped by key; the active one (then lowest id) first."""
    people: dict[str, list[DirectoryUser]] = {}
    for u in directory.users:
        if in_scope is None or u.id in in_scope:
            people.setdefault(u.key, []).append(u)
    for key, members in people.items():
        if len(members) > 1:
            members.sort(key=lambda u: (not u.active, u.id))
            ids = ", ".join(u.id for u in members)
            warnings.append(f"{key}: {len(members)} directory users share this email ({ids})")
    return people


def _desired(
    key: str,
    members: list[DirectoryUser],
    grants: list[Grant],
    mapping: RoleMapping,
    model: RoleModel,
) -> DesiredUser:
    grants = sorted(set(grants), key=_grant_order(model))
    org = [g for g in grants if g.workspace is None]
    if not org:
        default = Grant(mapping.policy.default_role, None, Reason(UNMAPPED_DEFAULT))
        org = [default]
        grants = [default, *grants]
    org_role = max(org, key=lambda g: model.org_rank(g.role)).role
    lost = [g for g in org if g.role != org_role]
    workspaces: dict[str, tuple[str, ...]] = {}
    per_ws: dict[str, set[str]] = {}
    for g in grants:
        if g.workspace is not None:
            per_ws.setdefault(g.workspace, set()).add(g.role)
    for ws, roles in sorted(per_ws.items()):
        ranked = sorted(roles, key=model.workspace_rank)
        if model.workspace_roles_are_sets:
            workspaces[ws] = tuple(ranked)
        else:
            workspaces[ws] = (ranked[-1],)
            lost.extend(g for g in grants if g.workspace == ws and g.role != ranked[-1])
    return DesiredUser(
        key=key,
        user=members[0],
        org_role=org_role,
        grants=tuple(grants),
        workspaces=workspaces,
        lost=tuple(lost),
        idp_ids=tuple(u.id for u in members),
    )


def _grant_order(model: RoleModel) -> Callable[[Grant], tuple[str, int, int, tuple[str, ...]]]:
    def order(g: Grant) -> tuple[str, int, int, tuple[str, ...]]:
        rank = model.org_rank(g.role) if g.workspace is None else model.workspace_rank(g.role)
        return (g.workspace or "", -rank, g.reason.rule, g.reason.groups)

    return order
