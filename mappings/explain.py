"""Explain one user: which rules and groups give each role, and which grants lost."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mappings.directory import Directory, identity_key
from mappings.mapping import RoleMapping
from mappings.resolve import UNMAPPED_DEFAULT, grant_order, resolve
from mappings.rolemodel import RoleModel

__all__ = ["ExplainedGrant", "Explanation", "explain"]


@dataclass(frozen=True, slots=True)
class ExplainedGrant:
    """One grant: the role, where, the rule and group path behind it, and whether it won."""

    role: str
    workspace: str | None
    rule: int
    rule_text: str
    groups: tuple[str, ...]
    won: bool
    beaten_by: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "role": self.role,
            "workspace": self.workspace,
            "rule": self.rule,
            "rule_text": self.rule_text,
            "groups": list(self.groups),
            "won": self.won,
            "beaten_by": self.beaten_by,
        }


@dataclass(frozen=True, slots=True)
class Explanation:
    """Why a user gets what they get (or why nothing)."""

    query: str
    key: str | None
    found: bool
    in_scope: bool
    active: bool | None
    org_role: str | None
    workspaces: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    grants: tuple[ExplainedGrant, ...] = ()
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "user": self.query,
            "key": self.key,
            "found": self.found,
            "in_scope": self.in_scope,
            "active": self.active,
            "org_role": self.org_role,
            "workspaces": {ws: list(r) for ws, r in sorted(self.workspaces.items())},
            "grants": [g.to_dict() for g in self.grants],
            "notes": list(self.notes),
        }


def _find_key(directory: Directory, user: str) -> str | None:
    wanted = identity_key(user)
    for u in directory.users:
        if u.key == wanted or u.id == user or identity_key(u.user_name) == wanted:
            return u.key
        if any(identity_key(e) == wanted for e in u.emails):
            return u.key
    return None


def _rule_text(mapping: RoleMapping, index: int) -> str:
    if index == UNMAPPED_DEFAULT:
        return f"policy default_role {mapping.policy.default_role}"
    return f"rules[{index}] ({mapping.rules[index].selector})"


def explain(
    directory: Directory, mapping: RoleMapping, role_model: RoleModel, user: str
) -> Explanation:
    """Why ``user`` (email, userName or IdP id) gets each role, and which grants lost."""
    key = _find_key(directory, user)
    if key is None:
        return Explanation(
            user,
            None,
            False,
            False,
            None,
            None,
            notes=("not in the directory: a member would be removed",),
        )
    desired = resolve(directory, mapping, role_model)
    d = desired.users.get(key)
    if d is None:
        claimed = desired.conflicts.get(key)
        in_scope = key in desired.unmapped or claimed is not None
        if claimed is not None:
            note = (
                f"directory users {', '.join(claimed)} claim this identity: neither gets "
                "a role (identity_conflict)"
            )
        elif in_scope:
            note = f"no rule maps this user; policy unmapped is {mapping.policy.unmapped}"
        else:
            note = "outside the mapping's scope groups"
        active = desired.known[key].active if key in desired.known else None
        return Explanation(user, key, True, in_scope, active, None, notes=(note,))
    winners = {(d.org_role, None)} | {
        (role, ws) for ws, roles in d.workspaces.items() for role in roles
    }
    best_ws = {ws: roles[-1] for ws, roles in d.workspaces.items()}
    grants = tuple(
        ExplainedGrant(
            role=g.role,
            workspace=g.workspace,
            rule=g.reason.rule,
            rule_text=_rule_text(mapping, g.reason.rule),
            groups=g.reason.groups,
            won=(g.role, g.workspace) in winners,
            beaten_by=None
            if (g.role, g.workspace) in winners
            else (d.org_role if g.workspace is None else best_ws.get(g.workspace)),
        )
        for g in sorted(d.grants, key=grant_order(role_model))
    )
    notes = [w for w in desired.warnings if w.startswith(f"{key}:")]
    if not d.active:
        notes.append(f"inactive in the IdP: the role model says {role_model.on_deactivate}")
    if role_model.covers_workspaces(d.org_role) and d.workspaces:
        notes.append(f"org role {d.org_role} already covers every workspace")
    return Explanation(
        user, key, True, True, d.active, d.org_role, d.workspaces, grants, tuple(notes)
    )
