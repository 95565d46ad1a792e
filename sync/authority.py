"""What an admin API key may do, decided from the org's role model (``manages``).

Pure decisions, no I/O: each ``refusal_*`` function returns None when allowed, else
one sentence saying why not. The HTTP edge turns a refusal into a 403 problem.

- reading anything of the key's own org is always allowed;
- a change is allowed when the key's role manages every role it touches (a member's
  current org role, the role given, the roles a plan's operations touch);
- saving a mapping delegates the mapping's ``acting_role``, so the key's role must
  manage at least everything that acting role manages;
- admin actions (create workspaces, create plans, run sources) need a role that
  manages someone.
"""

from __future__ import annotations

from collections.abc import Iterable

from mappings.operations import Operation, Plan
from mappings.rolemodel import RoleModel
from mappings.state import PlatformState

__all__ = [
    "key_roles",
    "refusal_for_admin_action",
    "refusal_for_mapping",
    "refusal_for_member_change",
    "refusal_for_workspace_change",
    "refusal_for_plan",
    "roles_touched",
]


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
    """Workspace roles count where ``manages`` names them for ``acting`` (e.g. annotation);
    elsewhere workspace access follows the member's org role, checked on its own."""
    allowed = _manages(model, acting)
    if not allowed & (set(model.workspace_roles) - set(model.org_roles)):
        return None
    denied = sorted((set(current) | set(new)) - allowed)
    if denied:
        return f"role {acting!r} may not manage workspace role(s) {', '.join(denied)}"
    return None


def refusal_for_mapping(model: RoleModel, acting: str, mapping_acting_role: str) -> str | None:
    """Allowed when ``acting`` manages everything the mapping's acting role manages."""
    beyond = _manages(model, mapping_acting_role) - _manages(model, acting)
    if not beyond:
        return None
    return (
        f"the mapping acts as {mapping_acting_role!r}, which manages "
        f"{', '.join(sorted(beyond))}; role {acting!r} does not"
    )


def roles_touched(op: Operation, state: PlatformState) -> set[str]:
    """Every role an operation assigns or takes away, including the member's current org role."""
    roles: set[str] = set()
    current = {m.key: m for m in state.members}
    member = current.get(op.user)
    if member is not None and op.op not in ("create_workspace",):
        if op.op in ("set_org_role", "remove_from_org", "suspend", "revoke_invite", "reactivate"):
            roles.add(member.org_role)
        if op.workspace is not None:
            roles.update(member.workspaces.get(op.workspace, ()))
    roles.update(_values(op.org_role, op.from_, op.to, op.roles))
    return roles


def _values(*fields: str | tuple[str, ...] | None) -> Iterable[str]:
    for f in fields:
        if isinstance(f, str):
            yield f
        elif f is not None:
            yield from f


def refusal_for_plan(model: RoleModel, acting: str, plan: Plan, state: PlatformState) -> str | None:
    """Allowed when ``acting`` manages every role the plan's operations touch.

    Workspace roles count only in role models whose ``manages`` names workspace roles
    for ``acting`` (e.g. ``annotation``); elsewhere workspace access follows org roles.
    """
    allowed = _manages(model, acting)
    checks_workspace = bool(allowed & set(model.workspace_roles) - set(model.org_roles))
    for op in plan.operations:
        if op.op == "rename_member":
            continue  # the same person under a new email: no role changes hands
        if op.workspace is not None and not checks_workspace:
            continue
        touched = roles_touched(op, state)
        denied = sorted(touched - allowed)
        if denied:
            who = op.user or op.workspace or ""
            return f"role {acting!r} may not manage {', '.join(denied)} ({op.op} {who})"
    return None
