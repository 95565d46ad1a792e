"""What an admin API key may do, decided from the org's role model (``manages``).

Pure decisions, no I/O: each ``refusal_*`` function returns None when allowed, else
one sentence saying why not. The HTTP edge turns a refusal into a 403 problem.

- reading anything of the key's own org is always allowed;
- a change is allowed when the key's role manages every role it touches (a member's
  current org role, the role given, the org and workspace roles a plan's operations
  touch), asked of the role model (``RoleModel.may_manage``);
- saving a mapping delegates the mapping's ``acting_role``, so the key's role must
  manage at least everything that acting role manages;
- admin actions (create plans, run sources, approve or apply a plan) need a role that
  manages someone; creating a workspace needs a role that manages the top roles;
- a workspace-scoped caller (``Caller.workspaces``) manages only there: it changes the
  workspace roles of existing members in its workspaces, as the role it holds in each
  manages; an org-level change (invite, org role, removal) needs its org role's authority.
  A scoped key carries its workspace roles; a member signed in through the org's provider
  carries the managing ones they hold (``member_workspace_scope``);
- where the model's visibility is per workspace (annotation), ``visible_members`` shows a
  caller only the members of its workspaces and only the roles its role there manages
  or holds (an admin sees every role).

Every ``acting`` parameter takes a ``Caller`` or, as before, a bare role name (an
org-wide caller of that role).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from mappings.operations import Operation, Plan
from mappings.rolemodel import RoleModel
from mappings.state import Member, PlatformState

__all__ = [
    "WORKSPACE_OPS",
    "Caller",
    "key_roles",
    "key_workspace_roles",
    "member_workspace_scope",
    "refusal_for_admin_action",
    "refusal_for_key_scope",
    "refusal_for_key_role",
    "refusal_for_mapping",
    "refusal_for_member_change",
    "refusal_for_operation",
    "refusal_for_plan",
    "refusal_for_workspace_change",
    "refusal_for_workspace_create",
    "refusal_for_scim_tokens",
    "refusal_for_sign_in_settings",
    "roles_touched",
    "visible_members",
]

WORKSPACE_OPS = ("add_to_workspace", "set_workspace_roles", "remove_from_workspace")


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

    @property
    def scoped(self) -> bool:
        """Whether the caller's authority is limited to named workspaces."""
        return bool(self.workspaces)


Acting = Caller | str


def _caller(acting: Acting) -> Caller:
    return acting if isinstance(acting, Caller) else Caller(actor="", role=acting)


def key_roles(model: RoleModel) -> tuple[str, ...]:
    """Roles an API key may carry org-wide: the org roles, then any other role that
    manages every role of the model (annotation's admin: admin in every workspace). A
    lesser workspace role is carried in named workspaces (``key_workspace_roles``)."""
    every = set(model.org_roles) | set(model.workspace_roles)
    extra = tuple(
        r for r in model.manages if r not in model.org_roles and every <= _manages(model, r)
    )
    return model.org_roles + extra


def key_workspace_roles(model: RoleModel) -> tuple[str, ...]:
    """Workspace roles a key may carry in named workspaces: those that manage someone."""
    return tuple(r for r in model.workspace_roles if _manages(model, r))


def member_workspace_scope(model: RoleModel, held: Mapping[str, Iterable[str]]) -> dict[str, str]:
    """The workspace roles a member signed in as themselves acts with (``Caller.workspaces``),
    from ``held`` (workspace -> the roles they hold there): as a workspace-scoped key carries
    them, in each workspace where they hold a role that manages someone
    (``key_workspace_roles``), that role; of several, the highest by the model's order (a
    caller acts as one role per workspace). Empty when they manage in no workspace: then
    they act org-wide with their org role alone, as before."""
    allowed = key_workspace_roles(model)
    rank = {r: i for i, r in enumerate(model.workspace_roles)}
    scope: dict[str, str] = {}
    for ws, roles in held.items():
        managing = [r for r in roles if r in allowed]
        if managing:
            scope[ws] = max(managing, key=rank.__getitem__)
    return dict(sorted(scope.items()))


def refusal_for_key_scope(
    model: RoleModel, role: str, workspaces: Mapping[str, str], known: Iterable[str]
) -> str | None:
    """Whether a key may carry ``role`` org-wide plus ``workspaces`` (workspace -> role);
    ``known``: the org's workspaces."""
    if role not in key_roles(model):
        return f"unknown role {role!r}; expected one of {', '.join(key_roles(model))}"
    names = set(known)
    allowed = key_workspace_roles(model)
    for ws, ws_role in sorted(workspaces.items()):
        if ws not in names:
            return f"no workspace {ws!r} in the org"
        if ws_role not in allowed:
            expected = ", ".join(allowed) or "none: the model has no managing workspace role"
            return f"workspace role {ws_role!r} is not one a key may carry ({expected})"
    return None


def _manages(model: RoleModel, acting: str) -> frozenset[str]:
    return frozenset(model.manages.get(acting, ()))


def _scope_words(caller: Caller) -> str:
    return ", ".join(sorted(caller.workspaces))


def refusal_for_admin_action(model: RoleModel, acting: Acting) -> str | None:
    """Allowed when the caller's org-wide role manages at least one role (a
    workspace-scoped caller's workspace roles do not reach org-wide actions)."""
    caller = _caller(acting)
    if caller.role is None or _manages(model, caller.role):
        return None
    if caller.scoped:
        return (
            f"role {caller.role!r} manages no one org-wide; this key manages only in "
            f"workspace(s) {_scope_words(caller)}"
        )
    return f"role {caller.role!r} manages no one, so it may only read"


def refusal_for_workspace_create(model: RoleModel, acting: Acting) -> str | None:
    """Creating a workspace is for an org-wide role that manages the model's top org role
    and, where ``manages`` names workspace roles, its top workspace role (shareofmodel's
    owner, aihub's admin, annotation's admin)."""
    caller = _caller(acting)
    if caller.role is None:
        return None
    refusal = refusal_for_admin_action(model, caller)
    if refusal is not None:
        return refusal
    tops = [model.top_org_role]
    if model.workspace_roles and _manages_workspace_roles(model):
        tops.append(model.workspace_roles[-1])
    beyond = [r for r in tops if not model.may_manage(caller.role, r)]
    if beyond:
        return f"role {caller.role!r} may not create workspaces (it does not manage {beyond[0]})"
    return None


def refusal_for_member_change(
    model: RoleModel, acting: Acting, current: str | None, new: str | None
) -> str | None:
    """Allowed when the caller manages both the member's current and new org role. A
    workspace-scoped caller may leave an existing member's org role as it is."""
    caller = _caller(acting)
    if caller.role is None:
        return None
    if caller.scoped and current is not None and new in (None, current):
        return None
    for role in (current, new):
        if role is not None and not model.may_manage(caller.role, role):
            return f"role {caller.role!r} may not manage members with role {role!r}"
    return None


def _workspace_role(model: RoleModel, caller: Caller, workspace: str | None) -> str | None:
    """The role the caller acts as in ``workspace``: its role there when scoped to it,
    else its org-wide role (None: it has no authority there)."""
    assert caller.role is not None
    if workspace is not None and workspace in caller.workspaces:
        held = caller.workspaces[workspace]
        # the higher of the two: a scoped role never lowers the key's org-wide authority
        if _manages(model, caller.role) >= _manages(model, held):
            return caller.role
        return held
    return caller.role


def refusal_for_workspace_change(
    model: RoleModel,
    acting: Acting,
    current: Iterable[str],
    new: Iterable[str],
    workspace: str | None = None,
) -> str | None:
    """Workspace roles count where the model's ``manages`` names them (aihub, annotation);
    elsewhere workspace access follows the member's org role, checked on its own. A
    workspace-scoped caller manages in its workspaces only (``workspace`` names where)."""
    caller = _caller(acting)
    if caller.role is None:
        return None
    outside = caller.scoped and (workspace is None or workspace not in caller.workspaces)
    if outside and not _manages(model, caller.role):
        where = "these workspaces" if workspace is None else f"workspace {workspace!r}"
        return f"this key manages only in workspace(s) {_scope_words(caller)}, not {where}"
    if not _manages_workspace_roles(model):
        return None
    role = _workspace_role(model, caller, workspace)
    assert role is not None
    denied = sorted(r for r in set(current) | set(new) if not model.may_manage(role, r))
    if denied:
        return f"role {role!r} may not manage workspace role(s) {', '.join(denied)}"
    return None


def _manages_workspace_roles(model: RoleModel) -> bool:
    """Whether any role of the model manages a workspace role (then every key is held to it)."""
    return any(model.may_manage(r, w) for r in model.manages for w in model.workspace_roles)


def refusal_for_mapping(model: RoleModel, acting: Acting, mapping_acting_role: str) -> str | None:
    """Allowed when the caller's org-wide role manages everything the mapping's acting
    role manages (a mapping acts org-wide, so workspace-scoped roles do not count)."""
    caller = _caller(acting)
    if caller.role is None:
        return None
    beyond = _manages(model, mapping_acting_role) - _manages(model, caller.role)
    if not beyond:
        return None
    return (
        f"the mapping acts as {mapping_acting_role!r}, which manages "
        f"{', '.join(sorted(beyond))}; role {caller.role!r} does not"
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


def refusal_for_plan(
    model: RoleModel, acting: Acting, plan: Plan, state: PlatformState
) -> str | None:
    """Allowed when the caller manages someone and every role the plan's operations touch
    (org roles, and workspace roles where the model's ``manages`` names them). A
    workspace-scoped caller's workspace operations in its workspaces are weighed against
    the role it holds there; every other operation against its org-wide role."""
    caller = _caller(acting)
    if caller.role is None:
        return None
    if caller.scoped:
        if not plan.operations or not all(
            op.op in WORKSPACE_OPS and op.workspace in caller.workspaces for op in plan.operations
        ):
            refusal = refusal_for_admin_action(model, caller)
            if refusal is not None:
                return refusal
    else:
        refusal = refusal_for_admin_action(model, caller)
        if refusal is not None:
            return refusal
    for op in plan.operations:
        if op.op == "rename_member":
            continue  # the same person under a new email: no role changes hands
        role = _acting_role(model, caller, op)
        denied = _denied(model, role, op, state)
        if denied:
            who = op.user or op.workspace or ""
            return f"role {role!r} may not manage {', '.join(denied)} ({op.op} {who})"
    return None


def _acting_role(model: RoleModel, caller: Caller, op: Operation) -> str:
    """The role a caller acts as for ``op``: for a workspace operation in a workspace it
    is scoped to, the higher of its role there and its org role; else its org role."""
    assert caller.role is not None
    if caller.scoped and op.op in WORKSPACE_OPS:
        return _workspace_role(model, caller, op.workspace) or caller.role
    return caller.role


def _denied(model: RoleModel, role: str, op: Operation, state: PlatformState) -> list[str]:
    """The roles ``op`` touches that ``role`` does not manage."""
    return sorted(r for r in roles_touched(op, state, model) if not model.may_manage(role, r))


def refusal_for_operation(
    model: RoleModel, acting: Acting, op: Operation, state: PlatformState
) -> str | None:
    """One operation of a change by hand (``mappings.manual``): the role the caller acts
    as for it (``refusal_for_plan``'s: a workspace-scoped caller's role in the workspace
    it lands in, else its org role) must manage someone and every role it touches."""
    caller = _caller(acting)
    if caller.role is None:
        return None
    role = _acting_role(model, caller, op)
    refusal = refusal_for_admin_action(model, caller if role == caller.role else role)
    if refusal is not None:
        return refusal
    denied = _denied(model, role, op, state)
    if denied:
        return f"role {role!r} may not manage members with role {', '.join(denied)}"
    return None


def visible_members(model: RoleModel, acting: Acting, members: Iterable[Member]) -> list[Member]:
    """The members a caller sees. Where the model's visibility is per workspace
    (annotation), a caller sees the members of its workspaces (every workspace for an
    org-wide role), with only the roles its role there manages or holds: the powerful
    roles only if it is admin there. Elsewhere, and for the operator, everyone."""
    caller = _caller(acting)
    if caller.role is None or not model.visibility_per_workspace:
        return list(members)
    every = set(model.workspace_roles)
    seen: list[Member] = []
    for m in members:
        shown: dict[str, tuple[str, ...]] = {}
        for ws, roles in m.workspaces.items():
            if caller.scoped and ws not in caller.workspaces:
                continue
            role = _workspace_role(model, caller, ws)
            assert role is not None
            sees = (_manages(model, role) | {role}) & every
            kept = tuple(r for r in roles if r in sees)
            if kept:
                shown[ws] = kept
        if shown:
            seen.append(replace(m, workspaces=shown))
    return seen


def refusal_for_scim_tokens(model: RoleModel, acting: str) -> str | None:
    """SCIM tokens (which let an IdP rewrite the whole directory) are for holders of the
    org's top role."""
    if acting == model.top_org_role:
        return None
    return f"only a {model.top_org_role} may see or change SCIM tokens; role {acting!r} may not"


def refusal_for_sign_in_settings(model: RoleModel, acting: str) -> str | None:
    """The org's sign-in provider (who may sign in to its admin pages, and as whom) is for
    holders of the org's top role."""
    if acting == model.top_org_role:
        return None
    return (
        f"only a {model.top_org_role} may change the organisation's sign-in provider; "
        f"role {acting!r} may not"
    )


def refusal_for_key_role(model: RoleModel, acting: str, role: str) -> str | None:
    """An admin API key, made or revoked, may carry the caller's own role or one it manages."""
    refusal = refusal_for_admin_action(model, acting)
    if refusal is not None:
        return refusal
    if role == acting or model.may_manage(acting, role):
        return None
    return f"role {acting!r} may not hand out or revoke keys of role {role!r}"
