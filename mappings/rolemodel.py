"""The platform's role model: which roles exist, their order and who may manage whom.

A role model is data, one per org, built from a preset (``presets.py``) or a file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mappings.errors import RoleModelError

__all__ = [
    "InviteRules",
    "RoleModel",
    "role_model_from_dict",
    "role_model_to_dict",
    "validate_role_model",
]


@dataclass(frozen=True, slots=True)
class InviteRules:
    """How invites behave: who gets an email, when to resend, when they expire."""

    notify_new: bool = True  # a brand-new email gets a welcome email
    notify_existing: bool = True  # an existing member given new access gets one too
    resend_after_days: int | None = 7
    expire_after_days: int | None = 30


@dataclass(frozen=True, slots=True)
class RoleModel:
    """One platform's role rules. Orders are low -> high."""

    name: str
    org_roles: tuple[str, ...]
    default_org_role: str
    workspace_roles: tuple[str, ...] = ()
    workspace_roles_are_sets: bool = False
    # org role -> workspace role it implies in every workspace (e.g. aihub admin -> manager)
    org_role_implies: Mapping[str, str] = field(default_factory=dict)
    # org roles that take explicit workspace roles; empty = every org role does
    workspace_roles_only_for: tuple[str, ...] = ()
    protected_org_roles: tuple[str, ...] = ()
    # role (org or workspace) -> roles it may assign or remove
    manages: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    removal_cascades_to_workspaces: bool = True
    implicit_single_workspace_membership: bool = False
    invites: InviteRules = field(default_factory=InviteRules)
    on_deactivate: str = "suspend"  # "suspend" or "remove"
    # plan name -> max workspaces (None = unlimited); empty = no plan limits
    plans: Mapping[str, int | None] = field(default_factory=dict)
    workspace_credits: bool = False  # workspaces carry credits bounded by the org's
    # the plan an org gets when none is named (one of ``plans``); "" = the first plan
    default_plan: str = ""
    # org role -> the plans on which it exists; a role not listed exists on every plan
    plan_roles: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # members and their workspace roles are seen per workspace (docs/architecture.md 4.4)
    visibility_per_workspace: bool = False

    @property
    def top_org_role(self) -> str:
        """The highest org role (its last holder is never removed or demoted)."""
        return self.org_roles[-1]

    def org_rank(self, role: str) -> int:
        """Position of an org role, low -> high; -1 for a role the model does not know."""
        return self.org_roles.index(role) if role in self.org_roles else -1

    def workspace_rank(self, role: str) -> int:
        """Position of a workspace role, low -> high; -1 for an unknown role."""
        return self.workspace_roles.index(role) if role in self.workspace_roles else -1

    def covers_workspaces(self, org_role: str) -> bool:
        """Whether this org role already gives workspace access (no explicit grants)."""
        if org_role in self.org_role_implies:
            return True
        return bool(self.workspace_roles_only_for) and org_role not in self.workspace_roles_only_for

    def may_manage(self, acting: str, role: str) -> bool:
        """Whether ``acting`` may assign or remove ``role``."""
        return role in self.manages.get(acting, ())

    @property
    def plan_by_default(self) -> str:
        """The plan of an org created without one ("" when the model declares no plans)."""
        if self.default_plan:
            return self.default_plan
        return next(iter(self.plans), "")


_ON_DEACTIVATE = ("suspend", "remove")


def _names(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) and v for v in value):
        raise RoleModelError("must be a list of role names", where)
    if len(set(value)) != len(value):
        raise RoleModelError("lists a role twice", where)
    return tuple(value)


def _flag(d: Mapping[str, Any], name: str, default: bool) -> bool:
    value = d.get(name, default)
    if not isinstance(value, bool):
        raise RoleModelError("must be true or false", name)
    return value


def _days(d: Mapping[str, Any], name: str, default: int | None) -> int | None:
    value = d.get(name, default)
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
        raise RoleModelError("must be a non-negative number of days or null", f"invites.{name}")
    return value


def _invites(raw: Any) -> InviteRules:
    if raw is None:
        return InviteRules()
    if not isinstance(raw, Mapping):
        raise RoleModelError("must be an object", "invites")
    unknown = set(raw) - {"notify_new", "notify_existing", "resend_after_days", "expire_after_days"}
    if unknown:
        raise RoleModelError(f"unknown field '{sorted(unknown)[0]}'", "invites")
    base = InviteRules()
    try:
        return InviteRules(
            notify_new=_flag(raw, "notify_new", base.notify_new),
            notify_existing=_flag(raw, "notify_existing", base.notify_existing),
            resend_after_days=_days(raw, "resend_after_days", base.resend_after_days),
            expire_after_days=_days(raw, "expire_after_days", base.expire_after_days),
        )
    except RoleModelError as e:
        where = e.where if e.where.startswith("invites.") else f"invites.{e.where}"
        raise RoleModelError(e.message, where) from None


def _plans(raw: Any) -> dict[str, int | None]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise RoleModelError("must map plan name to a maximum number of workspaces", "plans")
    out: dict[str, int | None] = {}
    for name, limit in raw.items():
        if limit is not None and (
            not isinstance(limit, int) or isinstance(limit, bool) or limit < 0
        ):
            raise RoleModelError("must be a non-negative integer or null", f"plans.{name}")
        out[str(name)] = limit
    return out


_FIELDS = frozenset(
    {
        "name",
        "org_roles",
        "default_org_role",
        "workspace_roles",
        "workspace_roles_are_sets",
        "org_role_implies",
        "workspace_roles_only_for",
        "protected_org_roles",
        "manages",
        "removal_cascades_to_workspaces",
        "implicit_single_workspace_membership",
        "invites",
        "on_deactivate",
        "plans",
        "workspace_credits",
        "default_plan",
        "plan_roles",
        "visibility_per_workspace",
    }
)


def role_model_from_dict(d: Mapping[str, Any]) -> RoleModel:
    """Build and validate a role model from its file form; ``RoleModelError`` names the field."""
    if not isinstance(d, Mapping):
        raise RoleModelError("a role model must be an object", "$")
    unknown = set(d) - _FIELDS
    if unknown:
        raise RoleModelError(f"unknown field '{sorted(unknown)[0]}'", sorted(unknown)[0])
    name = d.get("name", "custom")
    if not isinstance(name, str) or not name:
        raise RoleModelError("must be a non-empty string", "name")
    if "org_roles" not in d:
        raise RoleModelError("is required", "org_roles")
    org_roles = _names(d["org_roles"], "org_roles")
    if not org_roles:
        raise RoleModelError("needs at least one role", "org_roles")
    workspace_roles = _names(d.get("workspace_roles", []), "workspace_roles")
    implies_raw = d.get("org_role_implies", {})
    if not isinstance(implies_raw, Mapping):
        raise RoleModelError("must map org role to workspace role", "org_role_implies")
    manages_raw = d.get("manages", {})
    if not isinstance(manages_raw, Mapping):
        raise RoleModelError("must map role to the roles it manages", "manages")
    on_deactivate = d.get("on_deactivate", "suspend")
    if on_deactivate not in _ON_DEACTIVATE:
        raise RoleModelError("must be 'suspend' or 'remove'", "on_deactivate")
    flags = {
        f: _flag(d, f, default)
        for f, default in (
            ("workspace_roles_are_sets", False),
            ("removal_cascades_to_workspaces", True),
            ("implicit_single_workspace_membership", False),
            ("workspace_credits", False),
            ("visibility_per_workspace", False),
        )
    }
    default_plan = d.get("default_plan", "")
    if not isinstance(default_plan, str):
        raise RoleModelError("must be a plan name", "default_plan")
    plan_roles_raw = d.get("plan_roles", {})
    if not isinstance(plan_roles_raw, Mapping):
        raise RoleModelError("must map org role to the plans it exists on", "plan_roles")
    model = RoleModel(
        name=name,
        org_roles=org_roles,
        default_org_role=str(d.get("default_org_role", org_roles[0])),
        workspace_roles=workspace_roles,
        org_role_implies={str(k): str(v) for k, v in implies_raw.items()},
        workspace_roles_only_for=_names(
            d.get("workspace_roles_only_for", []), "workspace_roles_only_for"
        ),
        protected_org_roles=_names(d.get("protected_org_roles", []), "protected_org_roles"),
        manages={str(k): _names(v, f"manages.{k}") for k, v in manages_raw.items()},
        invites=_invites(d.get("invites")),
        on_deactivate=on_deactivate,
        plans=_plans(d.get("plans")),
        default_plan=default_plan,
        plan_roles={str(k): _names(v, f"plan_roles.{k}") for k, v in plan_roles_raw.items()},
        **flags,
    )
    validate_role_model(model)
    return model


def validate_role_model(model: RoleModel) -> None:
    """Check that every role named anywhere exists and ``manages`` has no cycle."""
    org, ws = set(model.org_roles), set(model.workspace_roles)
    if model.default_org_role not in org:
        raise RoleModelError(f"unknown org role '{model.default_org_role}'", "default_org_role")
    for role, implied in model.org_role_implies.items():
        if role not in org:
            raise RoleModelError(f"unknown org role '{role}'", "org_role_implies")
        if implied not in ws:
            raise RoleModelError(f"unknown workspace role '{implied}'", f"org_role_implies.{role}")
    for field_name in ("workspace_roles_only_for", "protected_org_roles"):
        for role in getattr(model, field_name):
            if role not in org:
                raise RoleModelError(f"unknown org role '{role}'", field_name)
    for role, managed in model.manages.items():
        if role not in org | ws:
            raise RoleModelError(f"unknown role '{role}'", "manages")
        for m in managed:
            if m not in org | ws:
                raise RoleModelError(f"unknown role '{m}'", f"manages.{role}")
    if model.default_plan and model.default_plan not in model.plans:
        raise RoleModelError(f"unknown plan '{model.default_plan}'", "default_plan")
    for role, on in model.plan_roles.items():
        if role not in org:
            raise RoleModelError(f"unknown org role '{role}'", "plan_roles")
        for p in on:
            if p not in model.plans:
                raise RoleModelError(f"unknown plan '{p}'", f"plan_roles.{role}")
    cycle = _manages_cycle(model.manages)
    if cycle:
        raise RoleModelError(f"roles manage each other in a cycle: {' -> '.join(cycle)}", "manages")


def _manages_cycle(manages: Mapping[str, tuple[str, ...]]) -> list[str]:
    """A cycle of distinct roles managing each other (self-management is fine), or []."""
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done
    stack: list[str] = []

    def visit(role: str) -> list[str]:
        state[role] = 1
        stack.append(role)
        for nxt in manages.get(role, ()):
            if nxt == role:
                continue
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[role] = 2
        return []

    for role in sorted(manages):
        if role not in state:
            found = visit(role)
            if found:
                return found
    return []


def role_model_to_dict(model: RoleModel) -> dict[str, Any]:
    """The file form of a role model (the inverse of ``role_model_from_dict``)."""
    return {
        "name": model.name,
        "org_roles": list(model.org_roles),
        "default_org_role": model.default_org_role,
        "workspace_roles": list(model.workspace_roles),
        "workspace_roles_are_sets": model.workspace_roles_are_sets,
        "org_role_implies": dict(sorted(model.org_role_implies.items())),
        "workspace_roles_only_for": list(model.workspace_roles_only_for),
        "protected_org_roles": list(model.protected_org_roles),
        "manages": {k: list(v) for k, v in sorted(model.manages.items())},
        "removal_cascades_to_workspaces": model.removal_cascades_to_workspaces,
        "implicit_single_workspace_membership": model.implicit_single_workspace_membership,
        "invites": {
            "notify_new": model.invites.notify_new,
            "notify_existing": model.invites.notify_existing,
            "resend_after_days": model.invites.resend_after_days,
            "expire_after_days": model.invites.expire_after_days,
        },
        "on_deactivate": model.on_deactivate,
        "plans": dict(sorted(model.plans.items())),
        "workspace_credits": model.workspace_credits,
        "default_plan": model.default_plan,
        "plan_roles": {k: list(v) for k, v in sorted(model.plan_roles.items())},
        "visibility_per_workspace": model.visibility_per_workspace,
    }
