"""The platform's role model: which roles exist, their order and who may manage whom.

A role model is data, one per org, built from a preset (``presets.py``) or a file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["InviteRules", "RoleModel"]


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

    @property
    def top_org_role(self) -> str:
        """The highest org role (its last holder is never removed or demoted)."""
        return self.org_roles[-1]

    def org_rank(self, role: str) -> int:
        """Position of an org role, low -> high."""
        return self.org_roles.index(role)

    def workspace_rank(self, role: str) -> int:
        """Position of a workspace role, low -> high."""
        return self.workspace_roles.index(role)

    def may_manage(self, acting: str, role: str) -> bool:
        """Whether ``acting`` may assign or remove ``role``."""
        return role in self.manages.get(acting, ())
