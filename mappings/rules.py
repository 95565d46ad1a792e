"""The role model's rules on members and workspaces, as pure decisions.

The planner and every store path (manual members, workspace creation) ask these
functions, so a rule is written once and the paths cannot disagree:

- ``member_roles_refusal``: an org role and workspace roles a member may hold together;
- ``workspace_limit`` and ``new_workspace_refusal``: the commercial plan's workspace
  limit and the org's credit pool;
- ``reachable_top_holders`` and ``top_holder_to_keep``: the org keeps a holder of the
  top org role who has joined (an invited or suspended holder cannot sign in);
- ``plan_refusal``, ``org_roles_on_plan``, ``default_org_role_on`` and
  ``workspaces_at_creation``: the commercial plans a model declares, the org roles each
  plan has, and the workspace an org on a one-workspace plan starts with.

A refusal is a value (``Refusal``): the edge turns it into an error naming the field.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from mappings.rolemodel import RoleModel

__all__ = [
    "REACHABLE",
    "default_org_role_on",
    "org_roles_on_plan",
    "plan_refusal",
    "role_not_on_plan",
    "workspaces_at_creation",
    "Refusal",
    "Standing",
    "member_roles_refusal",
    "new_workspace_refusal",
    "reachable_top_holders",
    "several_roles_refusal",
    "top_holder_to_keep",
    "workspace_limit",
]

REACHABLE = "joined"  # the status of a member who can sign in


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why the role model refuses a change: a reason code, one sentence, the field."""

    reason: str
    detail: str
    field: str = ""


class Standing(Protocol):
    """What the top-role rule reads of a member (the core's and the store's alike)."""

    @property
    def org_role(self) -> str: ...

    @property
    def status(self) -> str: ...


# members ---------------------------------------------------------------------------


def several_roles_refusal(model: RoleModel, roles: Sequence[str]) -> str | None:
    """Why ``roles`` cannot be held together in one workspace, or None."""
    if len(set(roles)) > 1 and not model.workspace_roles_are_sets:
        return f"role model '{model.name}' allows one role per workspace"
    return None


def member_roles_refusal(
    model: RoleModel,
    org_role: str,
    workspaces: Mapping[str, Sequence[str]],
    plan: str | None = None,
) -> Refusal | None:
    """Whether a member may hold ``org_role`` with these workspace roles (workspace ->
    roles; an empty list takes the workspace away and is always allowed), in an org on
    ``plan`` when given (some roles exist only on some plans)."""
    if org_role not in model.org_roles:
        return Refusal("unknown_role", f"must be one of {', '.join(model.org_roles)}", "org_role")
    if plan is not None and org_role not in org_roles_on_plan(model, plan):
        return Refusal("role_not_on_plan", role_not_on_plan(model, org_role, plan), "org_role")
    for ws, roles in workspaces.items():
        refusal = _workspace_refusal(model, org_role, roles)
        if refusal is not None:
            return Refusal(refusal[0], refusal[1], f"workspaces.{ws}")
    return None


def _workspace_refusal(
    model: RoleModel, org_role: str, roles: Sequence[str]
) -> tuple[str, str] | None:
    if not roles:
        return None
    if not model.workspace_roles:
        return "unknown_role", f"role model '{model.name}' has no workspace roles"
    unknown = [r for r in roles if r not in model.workspace_roles]
    if unknown:
        return "unknown_role", f"{unknown[0]!r} is not one of {', '.join(model.workspace_roles)}"
    several = several_roles_refusal(model, roles)
    if several is not None:
        return "one_role_per_workspace", several
    only = model.workspace_roles_only_for
    if only and org_role not in only:
        return (
            "workspace_roles_only_for",
            f"org role {org_role} already gives access to every workspace; "
            f"workspace roles are for {', '.join(only)}",
        )
    implied = model.org_role_implies.get(org_role)
    if implied is not None:
        lower = [r for r in roles if model.workspace_rank(r) < model.workspace_rank(implied)]
        if lower:
            return (
                "below_implied_role",
                f"org role {org_role} is {implied} in every workspace, never {lower[0]}",
            )
    return None


# plans ------------------------------------------------------------------------------


def plan_refusal(model: RoleModel, plan: str) -> Refusal | None:
    """Whether an org of this model may be on ``plan``: one of the plans it declares (a
    model that declares none takes any plan)."""
    if not model.plans or plan in model.plans:
        return None
    known = ", ".join(model.plans)
    return Refusal("unknown_plan", f"{plan!r} is not a {model.name} plan; one of: {known}", "plan")


def org_roles_on_plan(model: RoleModel, plan: str) -> tuple[str, ...]:
    """The org roles an org on ``plan`` has (low -> high)."""
    return tuple(
        r for r in model.org_roles if r not in model.plan_roles or plan in model.plan_roles[r]
    )


def role_not_on_plan(model: RoleModel, role: str, plan: str) -> str:
    """The sentence saying ``role`` does not exist on ``plan``."""
    on = " and ".join(model.plan_roles.get(role, ()))
    return f"the {role} role is on the {on} plan only; this org is on {plan}"


def default_org_role_on(model: RoleModel, plan: str) -> str:
    """The org role a new member gets on ``plan``: the model's default where the plan has
    it, else the lowest role the plan has."""
    roles = org_roles_on_plan(model, plan)
    if model.default_org_role in roles:
        return model.default_org_role
    return roles[0] if roles else model.default_org_role


def workspaces_at_creation(model: RoleModel, plan: str) -> int:
    """How many workspaces an org on ``plan`` has from its creation: a plan of exactly
    one workspace has it from the start (the org is that workspace)."""
    return 1 if model.plans and workspace_limit(model, plan) == 1 else 0


# workspaces ------------------------------------------------------------------------


def workspace_limit(model: RoleModel, plan: str) -> int | None:
    """The most workspaces an org on ``plan`` may have (None: no limit). A plan the model
    does not list gets the smallest limit it has: never allow what a plan may not."""
    if not model.plans:
        return None
    if plan in model.plans:
        return model.plans[plan]
    limits = [n for n in model.plans.values() if n is not None]
    return min(limits) if limits else None


def _workspaces(n: int) -> str:
    return f"{n} workspace{'' if n == 1 else 's'}"


def new_workspace_refusal(
    model: RoleModel, plan: str, existing: int, used: int, credits: int, pool: int | None
) -> Refusal | None:
    """Whether an org on ``plan`` with ``existing`` workspaces holding ``used`` credits of
    its ``pool`` (None: unlimited) may create one more reserving ``credits``."""
    limit = workspace_limit(model, plan)
    if limit is not None and existing >= limit:
        if plan in model.plans:
            allows = f"the {plan} plan allows {_workspaces(limit)}"
        else:
            known = ", ".join(model.plans)
            allows = (
                f"the {plan} plan is not one of {model.name}'s plans ({known}): "
                f"it gets the smallest limit, {_workspaces(limit)}"
            )
        return Refusal("plan_limit", f"{allows}; the org has {existing}", "name")
    if model.workspace_credits and pool is not None and used + credits > pool:
        detail = f"{credits} credits would exceed the org's pool: {used} of {pool} in use"
        return Refusal("credit_limit", detail, "credits")
    return None


# the top role ----------------------------------------------------------------------


def reachable_top_holders(model: RoleModel, members: Mapping[str, Standing]) -> set[str]:
    """The keys of the members who hold the top org role and can sign in (joined)."""
    top = model.top_org_role
    return {k for k, m in members.items() if m.org_role == top and m.status == REACHABLE}


def top_holder_to_keep(
    model: RoleModel, holders: Collection[str], after: Mapping[str, tuple[str, str]]
) -> str | None:
    """The holder whose change to refuse so that a reachable holder of the top role
    remains, else None. ``holders``: ``reachable_top_holders`` now; ``after``: the
    (org role, status) after the change of each member it touches. An org with no
    reachable holder today is not blocked (no one could be kept)."""
    if not holders:
        return None
    reachable = (model.top_org_role, REACHABLE)
    if any(after.get(k, reachable) == reachable for k in holders):
        return None
    if any(v == reachable for k, v in after.items() if k not in holders):
        return None
    return min(holders)
