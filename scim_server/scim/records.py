"""Conversion between SCIM resources (scim2-models) and directory mirror rows, in one place.

A row keeps the indexed columns the filters use and the whole SCIM document in
``resource`` (without ``id``, ``meta``, ``password`` and group ``members``, which
live in their own columns and table). Passwords are never stored.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from scim2_models import Meta, Resource

from mappings.directory import DirectoryGroup as DirGroup
from mappings.directory import DirectoryUser as DirUser
from sync.mirror import group_values, user_values
from sync.models import DirectoryGroup, DirectoryUser

__all__ = [
    "document",
    "etag",
    "group_columns",
    "meta",
    "role_names",
    "user_columns",
]

_NOT_STORED = {"id", "meta", "password", "members", "groups"}


def document(resource: Resource[Any]) -> dict[str, Any]:
    """The JSON document kept in ``resource``."""
    dumped = resource.model_dump(scim_ctx=None, mode="json", exclude_none=True, by_alias=True)
    return {key: value for key, value in dumped.items() if key not in _NOT_STORED}


def etag(version: int) -> str:
    """The weak ETag of a row version."""
    return f'W/"{version}"'


def aware(value: datetime) -> datetime:
    """SQLite hands datetimes back naive; they were written in UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def meta(row: DirectoryUser | DirectoryGroup, resource_type: str) -> Meta:
    """The ``meta`` of a stored resource (the location is the server's to add)."""
    return Meta(
        resource_type=resource_type,
        created=aware(row.created_at),
        last_modified=aware(row.updated_at),
        version=etag(row.version),
    )


def user_columns(resource: Resource[Any]) -> dict[str, Any]:
    """The indexed columns of a user row (the mirror's ``user_values``)."""
    user = DirUser(
        id=resource.id or "",
        user_name=resource.user_name,  # type: ignore[attr-defined]
        emails=tuple(_emails(resource)),
        external_id=resource.external_id,
        # a user who never sent ``active`` is active (RFC 7643 leaves it unassigned)
        active=getattr(resource, "active", None) is not False,
        display_name=getattr(resource, "display_name", None),
        roles=tuple(role_names(resource)),
    )
    return user_values(user)


def group_columns(resource: Resource[Any]) -> dict[str, Any]:
    """The indexed columns of a group row (the mirror's ``group_values``)."""
    display_name: str = resource.display_name or ""  # type: ignore[attr-defined]
    return group_values(DirGroup(resource.id or "", display_name, resource.external_id))


def _emails(resource: Resource[Any]) -> list[str]:
    """Email values, primary first."""
    entries = getattr(resource, "emails", None) or []
    ordered = sorted(entries, key=lambda entry: not entry.primary)
    return [entry.value for entry in ordered if entry.value]


def role_names(resource: Resource[Any]) -> list[str]:
    """Role names, for mapping rules that match ``role:``.

    Entra sends app roles as ``roles`` whose ``value`` is a JSON string holding
    ``id``, ``value`` and ``displayName`` (AppRoleAssignmentsComplex); the role's
    own ``value`` is the name. A plain string value is the name itself.
    """
    names: list[str] = []
    for entry in getattr(resource, "roles", None) or []:
        name = _role_name(entry.value) if entry.value else entry.display
        if name and name not in names:
            names.append(name)
    return names


def _role_name(value: str) -> str | None:
    try:
        decoded = json.loads(value)
    except ValueError:
        return value
    if isinstance(decoded, dict):
        name = decoded.get("value") or decoded.get("displayName")
        return str(name) if name else None
    return value
