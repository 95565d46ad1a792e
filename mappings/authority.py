"""What an admin API key may do, decided from the org's role model (``manages``).

Pure decisions, no I/O: each ``refusal_*`` function returns None when allowed, else
one sentence saying why not. The HTTP edge turns a refusal into a 403 problem.

- reading anything of the key's own org is always allowed;
- a change is allowed when the key's role manages every role it touches (a member's
  current org role, the role given, the org and workspace roles a plan's operations
  touch), asked of the role model (``RoleModel.may_manage``);
- saving a mapping delegates the mapping's ``acting_role``, so the key's role must
  manage at least everything that acting role manages;
- admin actions (create workspaces, create plans, run sources, approve or apply a
  plan) need a role that manages someone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from mappings.operations import Operation, Plan
from mappings.rolemodel import RoleModel
from mappings.state import PlatformState

__all__ = [
    "Caller",
    "key_roles",
    "refusal_for_admin_action",
    "refusal_for_key_role",
    "refusal_for_mapping",
    "refusal_for_member_change",
    "refusal_for_workspace_change",
    "refusal_for_plan",
    "refusal_for_scim_tokens",
    "roles_touched",
]


@dataclass(frozen=True, slots=True)
class Caller:
    """Who asks for a change, as every service takes it.

    ``actor`` is the name written in the audit log (``apikey:<name>``, ``cli``,
    ``admin:<key name>``...). ``role`` is the role of the org's role model the caller acts
    as; None is the host's operator (the CLI), beyond the role model. ``workspaces``
    names, for a workspace-scoped caller, the role it holds in each workspace it may
    manage; empty means the caller's authority is org-wide.
    """

    actor: str
    role: str | None
    workspaces: Mapping[str, str] = field(default_factory=dict)

    @property
    def operator(self) -> bool:
        """The host's operator: not bounded by the role model."""
        return self.role is None


def key_roles(model: RoleModel) -> tuple[str, ...]:
    """Roles an API key may carry: the org roles, then any other role that manages others."""
    extra = tuple(r for r in model.manages if r not in model.org_roles)
    return model.org_roles + extra


def _manages(model: RoleModel, acting: str) -> frozenset[str]:
    return frozenset(model.manages.get(acting, ()))


def refusal_for_admin_action(model: RoleModel, acting: str) -> str | None:
    """Allowed when the key's role manages at least one role."""
    if _manages(model, acting):
        return None
    return f"role {acting!r} manages no one, so it may only read"


def refusal_for_member_change(
    model: RoleModel, acting: str, current: str | None, new: str | None
) -> str | None:
    """Allowed when ``acting`` manages both the member's current and new org role."""
    for role in (current, new):
        if role is not None and not model.may_manage(acting, role):
            return f"role {acting!r} may not manage members with role {role!r}"
    return None


def refusal_for_workspace_change(
    model: RoleModel, acting: str, current: Iterable[str], new: Iterable[str]
) -> str | None:
    """Workspace roles count where the model's ``manages`` names them (aihub, annotation);
    elsewhere workspace access follows the member's org role, checked on its own."""
    if not _manages_workspace_roles(model):
        return None
    denied = sorted(r for r in set(current) | set(new) if not model.may_manage(acting, r))
    if denied:
        return f"role {acting!r} may not manage workspace role(s) {', '.join(denied)}"
    return None


def _manages_workspace_roles(model: RoleModel) -> bool:
    """Whether any role of the model manages a workspace role (then every key is held to it)."""
    return any(model.may_manage(r, w) for r in model.manages for w in model.workspace_roles)


def refusal_for_mapping(model: RoleModel, acting: str, mapping_acting_role: str) -> str | None:
    """Allowed when ``acting`` manages everything the mapping's acting role manages."""
    beyond = _manages(model, mapping_acting_role) - _manages(model, acting)
    if not beyond:
        return None
    return (
        f"the mapping acts as {mapping_acting_role!r}, which manages "
        f"{', '.join(sorted(beyond))}; role {acting!r} does not"
    )


def roles_touched(op: Operation, state: PlatformState, model: RoleModel) -> set[str]:
    """Every role an operation assigns or takes away, including the member's current roles.

    A workspace operation touches the member's workspace roles where the model's
    ``manages`` names workspace roles; elsewhere it touches the member's org role, since
    workspace access then follows the org role.
    """
    member = {m.key: m for m in state.members}.get(op.user)
    given = set(_values(op.org_role, op.from_, op.to, op.roles))
    if op.workspace is not None and not _manages_workspace_roles(model):
        return {member.org_role} if member is not None else set()
    roles = given
    if member is not None:
        if op.op in ("set_org_role", "remove_from_org", "suspend", "revoke_invite", "reactivate"):
            roles.add(member.org_role)
        if op.workspace is not None:
            roles.update(member.workspaces.get(op.workspace, ()))
    return roles


def _values(*fields: str | tuple[str, ...] | None) -> Iterable[str]:
    for f in fields:
        if isinstance(f, str):
            yield f
        elif f is not None:
            yield from f


def refusal_for_plan(model: RoleModel, acting: str, plan: Plan, state: PlatformState) -> str | None:
    """Allowed when ``acting`` manages someone and every role the plan's operations touch
    (org roles, and workspace roles where the model's ``manages`` names them)."""
    refusal = refusal_for_admin_action(model, acting)
    if refusal is not None:
        return refusal
    for op in plan.operations:
        if op.op == "rename_member":
            continue  # the same person under a new email: no role changes hands
        denied = sorted(
            r for r in roles_touched(op, state, model) if not model.may_manage(acting, r)
        )
        if denied:
            who = op.user or op.workspace or ""
            return f"role {acting!r} may not manage {', '.join(denied)} ({op.op} {who})"
    return None


def refusal_for_scim_tokens(model: RoleModel, acting: str) -> str | None:
    """SCIM tokens (which let an IdP rewrite the whole directory) are for holders of the
    org's top role."""
    if acting == model.top_org_role:
        return None
    return f"only a {model.top_org_role} may see or change SCIM tokens; role {acting!r} may not"


def refusal_for_key_role(model: RoleModel, acting: str, role: str) -> str | None:
    """An admin API key, made or revoked, may carry the caller's own role or one it manages."""
    refusal = refusal_for_admin_action(model, acting)
    if refusal is not None:
        return refusal
    if role == acting or model.may_manage(acting, role):
        return None
    return f"role {acting!r} may not hand out or revoke keys of role {role!r}"
