"""rolebridge's pure core: role models, directory and state types, mapping, resolve, plan.

Imports only the standard library (``tests/unit/test_purity.py`` enforces it).
"""

from __future__ import annotations

from mappings.directory import Directory, DirectoryGroup, DirectoryUser, GroupMember
from mappings.errors import InputError, MappingError, RolebridgeError, RoleModelError
from mappings.operations import Held, Operation, Plan, Reason, Skipped
from mappings.rolemodel import InviteRules, RoleModel
from mappings.state import Member, Organisation, PlatformState, Workspace

__all__ = [
    "Directory",
    "DirectoryGroup",
    "DirectoryUser",
    "GroupMember",
    "Held",
    "InputError",
    "InviteRules",
    "MappingError",
    "Member",
    "Operation",
    "Organisation",
    "Plan",
    "PlatformState",
    "Reason",
    "RoleModel",
    "RoleModelError",
    "RolebridgeError",
    "Skipped",
    "Workspace",
]
