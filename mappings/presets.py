"""The shipped role models (docs/architecture.md section 4.2) and ``load_role_model``.

Each preset is the data of one platform: shareofmodel, aihub, soterai, annotation, and a
``generic`` model for platforms that fit none of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from mappings.errors import RoleModelError
from mappings.rolemodel import InviteRules, RoleModel, role_model_from_dict, validate_role_model

__all__ = ["PRESETS", "load_role_model"]

_SHAREOFMODEL = RoleModel(
    name="shareofmodel",
    org_roles=("guest", "viewer", "editor", "owner"),
    default_org_role="guest",
    workspace_roles=("viewer", "editor"),
    # org viewers, editors and owners see every workspace: only guests take workspace roles
    workspace_roles_only_for=("guest",),
    protected_org_roles=("owner",),
    # only organisation owners manage members, roles and workspaces; editors edit content
    manages={"owner": ("guest", "viewer", "editor", "owner")},
    invites=InviteRules(
        notify_new=True, notify_existing=False, resend_after_days=7, expire_after_days=30
    ),
    on_deactivate="suspend",
    plans={"pro": 1, "enterprise": None},  # pro: one workspace, made with the org
    default_plan="enterprise",
    workspace_credits=True,
)

_AIHUB = RoleModel(
    name="aihub",
    org_roles=("user", "admin"),
    default_org_role="user",
    workspace_roles=("user", "manager"),
    org_role_implies={"admin": "manager"},  # admins are in every workspace, for good
    # admins manage everyone; a workspace manager adds users to their own workspaces
    manages={"admin": ("user", "admin", "manager"), "manager": ("user",)},
    removal_cascades_to_workspaces=True,
    invites=InviteRules(
        notify_new=True, notify_existing=True, resend_after_days=7, expire_after_days=None
    ),
    on_deactivate="suspend",
    plans={"team": None, "enterprise": None},
    default_plan="enterprise",
)

_SOTERAI = RoleModel(
    name="soterai",
    org_roles=("member", "manager", "owner"),
    default_org_role="member",
    manages={"owner": ("member", "manager", "owner"), "manager": ("member", "manager")},
    invites=InviteRules(
        notify_new=True, notify_existing=True, resend_after_days=3, expire_after_days=None
    ),
    on_deactivate="remove",  # removal revokes access at once
    plans={"team": None, "enterprise": None},
    default_plan="enterprise",
    plan_roles={"member": ("enterprise",)},  # the member role is enterprise-only
)

_ANNOTATION = RoleModel(
    name="annotation",
    org_roles=("member",),
    default_org_role="member",
    workspace_roles=("member", "annotation_manager", "project_manager", "developer", "admin"),
    workspace_roles_are_sets=True,
    manages={
        "admin": ("member", "annotation_manager", "project_manager", "developer", "admin"),
        "developer": ("member", "annotation_manager", "project_manager", "developer"),
        "project_manager": ("member", "annotation_manager", "project_manager"),
        "annotation_manager": ("member", "annotation_manager"),
    },
    implicit_single_workspace_membership=True,
    invites=InviteRules(
        notify_new=True, notify_existing=True, resend_after_days=7, expire_after_days=30
    ),
    on_deactivate="suspend",
    plans={"team": None, "enterprise": None},
    default_plan="enterprise",
    visibility_per_workspace=True,  # management and visibility are per workspace
)

_GENERIC = RoleModel(
    name="generic",
    org_roles=("member", "admin", "owner"),
    default_org_role="member",
    workspace_roles=("viewer", "editor", "admin"),
    protected_org_roles=("owner",),
    manages={
        "owner": ("member", "admin", "owner", "viewer", "editor"),
        "admin": ("member", "admin", "viewer", "editor"),
    },
    invites=InviteRules(),
    on_deactivate="suspend",
)

for _model in (_SHAREOFMODEL, _AIHUB, _SOTERAI, _ANNOTATION, _GENERIC):
    validate_role_model(_model)

PRESETS: Mapping[str, RoleModel] = MappingProxyType(
    {m.name: m for m in (_SHAREOFMODEL, _AIHUB, _SOTERAI, _ANNOTATION, _GENERIC)}
)


def load_role_model(spec: str | Mapping[str, Any]) -> RoleModel:
    """A preset by name, or a role model from its parsed file form (``RoleModelError``)."""
    if isinstance(spec, str):
        try:
            return PRESETS[spec]
        except KeyError:
            known = ", ".join(sorted(PRESETS))
            raise RoleModelError(f"unknown role model '{spec}' (presets: {known})") from None
    if isinstance(spec, Mapping):
        preset = spec.get("preset")
        if preset is not None:
            raise RoleModelError("'preset' is not a role model field; name the preset directly")
        return role_model_from_dict(spec)
    raise RoleModelError("a role model is a preset name or an object")
