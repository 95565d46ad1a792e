"""rolebridge's pure core: role models, directory and state types, mapping, resolve, plan.

Imports only the standard library (``tests/unit/test_purity.py`` enforces it).
"""

from __future__ import annotations

from mappings.apply import apply_to_state
from mappings.directory import Directory, DirectoryGroup, DirectoryUser, GroupMember
from mappings.errors import InputError, MappingError, RolebridgeError, RoleModelError
from mappings.explain import ExplainedGrant, Explanation, explain
from mappings.fingerprint import fingerprint
from mappings.mapping import Policy, RoleMapping, Rule, Scope, parse_mapping
from mappings.operations import Held, Operation, Plan, Reason, Skipped
from mappings.planner import make_plan, plan_changes
from mappings.presets import PRESETS, load_role_model
from mappings.regex import Pattern, RegexEngine
from mappings.render import render_explanation, render_json, render_markdown, render_text
from mappings.resolve import Desired, DesiredUser, Grant, resolve
from mappings.rolemodel import InviteRules, RoleModel, role_model_from_dict, role_model_to_dict
from mappings.state import Member, Organisation, PlatformState, Workspace, check_state

__all__ = [
    # role models
    "PRESETS",
    "InviteRules",
    "RoleModel",
    "load_role_model",
    "role_model_from_dict",
    "role_model_to_dict",
    # inputs
    "Directory",
    "DirectoryGroup",
    "DirectoryUser",
    "GroupMember",
    "Member",
    "Organisation",
    "PlatformState",
    "Workspace",
    "check_state",
    # mapping
    "Policy",
    "RoleMapping",
    "Rule",
    "Pattern",
    "RegexEngine",
    "Scope",
    "parse_mapping",
    # decisions
    "Desired",
    "DesiredUser",
    "Grant",
    "Held",
    "Operation",
    "Plan",
    "Reason",
    "Skipped",
    "apply_to_state",
    "fingerprint",
    "make_plan",
    "plan_changes",
    "resolve",
    # explanations and renderings
    "ExplainedGrant",
    "Explanation",
    "explain",
    "render_explanation",
    "render_json",
    "render_markdown",
    "render_text",
    # errors
    "InputError",
    "MappingError",
    "RoleModelError",
    "RolebridgeError",
]
