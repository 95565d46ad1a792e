"""The mirror's columns of a directory user or group, and the type of a group member.

Every key column (``user_name_key``, ``display_name_key``) is computed here, through
``identity_key``, whoever writes the row: the SCIM service, a pull or a test.
"""

from __future__ import annotations

from collections.abc import Container
from typing import Any

from mappings.directory import DirectoryGroup, DirectoryUser, GroupMember, identity_key

__all__ = ["MEMBER_TYPES", "group_values", "member_type", "user_values"]

MEMBER_TYPES = ("User", "Group")


def user_values(user: DirectoryUser) -> dict[str, Any]:
    """The mirror columns of a directory user."""
    return {
        "user_name": user.user_name,
        "user_name_key": identity_key(user.user_name),
        "user_key": user.key,
        "external_id": user.external_id,
        "display_name": user.display_name,
        "emails": list(user.emails),
        "roles": list(user.roles),
        "active": user.active,
    }


def group_values(group: DirectoryGroup) -> dict[str, Any]:
    """The mirror columns of a directory group."""
    return {
        "display_name": group.display_name,
        "display_name_key": identity_key(group.display_name),
        "external_id": group.external_id,
    }


def member_type(member: GroupMember, group_ids: Container[str]) -> str:
    """``User`` or ``Group``: the type the member says, else ``Group`` when its value is one
    of ``group_ids`` (the source's groups), else ``User``."""
    if member.type in MEMBER_TYPES:
        return member.type
    return "Group" if member.value in group_ids else "User"
