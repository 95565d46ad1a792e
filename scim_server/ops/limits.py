"""The limits of what a client may send, in one place (the README's "Limits" table).

Each is checked at the edge, before any heavy work, and refused with a 4xx that names
the field: string lengths are the database columns' own (so PostgreSQL never sees a
value it cannot store), filters are measured before they are parsed, integers are
bounded by the database's integer columns, and nesting by ``sync.nesting``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy import String

from scim_server.app import ROW_ID_MAX
from sync.models import DirectoryGroup, DirectoryMembership, DirectoryUser, Member
from sync.nesting import MAX_DEPTH

__all__ = [
    "FILTER_LENGTH_MAX",
    "FILTER_TERMS_MAX",
    "INTEGER_MAX",
    "JSON_DEPTH_MAX",
    "YAML_DEPTH_MAX",
    "filter_refusal",
    "integer_refusal",
    "length_refusal",
    "members_refusal",
    "parse_integer",
    "scim_lengths",
]

INTEGER_MAX = ROW_ID_MAX
"""The largest integer a path, query or paging parameter may carry (a 32-bit column)."""
FILTER_LENGTH_MAX = 20_000
"""The longest SCIM ``filter``, in characters."""
FILTER_TERMS_MAX = 200
"""The most comparisons (``eq``, ``co``, ``pr``...) one SCIM ``filter`` may hold."""
JSON_DEPTH_MAX = MAX_DEPTH
YAML_DEPTH_MAX = MAX_DEPTH


def _length(column: Any) -> int:
    kind = column.type
    assert isinstance(kind, String) and kind.length is not None
    return int(kind.length)


# SCIM attribute -> (the stored column(s) it fills, their length)
_USER_COLUMNS = {
    "user_name": "userName",
    "user_name_key": "userName",
    "external_id": "externalId",
    "display_name": "displayName",
}
_GROUP_COLUMNS = {
    "display_name": "displayName",
    "display_name_key": "displayName",
    "external_id": "externalId",
}


def scim_lengths() -> dict[str, dict[str, int]]:
    """The longest value of each stored SCIM attribute, by resource type."""
    user = {attr: _length(getattr(DirectoryUser, col)) for col, attr in _USER_COLUMNS.items()}
    group = {attr: _length(getattr(DirectoryGroup, col)) for col, attr in _GROUP_COLUMNS.items()}
    user["emails"] = _length(Member.email)
    group["members.value"] = _length(DirectoryMembership.member_value)
    group["members.display"] = _length(DirectoryMembership.display)
    return {"User": user, "Group": group}


def length_refusal(resource_type: str, columns: Mapping[str, Any]) -> str | None:
    """``attribute: ...`` for the first stored column value longer than its column."""
    names = _USER_COLUMNS if resource_type == "User" else _GROUP_COLUMNS
    table = DirectoryUser if resource_type == "User" else DirectoryGroup
    for column, attribute in names.items():
        value = columns.get(column)
        limit = _length(getattr(table, column))
        if isinstance(value, str) and len(value) > limit:
            return f"{attribute}: at most {limit} characters"
    emails = columns.get("emails") if resource_type == "User" else None
    if emails and len(emails[0]) > _length(Member.email):  # the primary becomes a member's key
        return f"emails: at most {_length(Member.email)} characters"
    return None


def members_refusal(members: Any) -> str | None:
    """``members...: ...`` for a member value or display longer than its column."""
    value_max = _length(DirectoryMembership.member_value)
    display_max = _length(DirectoryMembership.display)
    for value, display in members:
        if len(value) > value_max:
            return f"members.value: at most {value_max} characters"
        if display is not None and len(display) > display_max:
            return f"members.display: at most {display_max} characters"
    return None


_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_OPERATOR = re.compile(r"\b(?:eq|ne|co|sw|ew|gt|ge|lt|le|pr)\b", re.IGNORECASE)


def filter_refusal(text: str) -> str | None:
    """Why a SCIM filter is too big to parse (length, then number of comparisons), or None."""
    if len(text) > FILTER_LENGTH_MAX:
        return f"filter: at most {FILTER_LENGTH_MAX} characters"
    terms = len(_OPERATOR.findall(_QUOTED.sub('""', text)))
    if terms > FILTER_TERMS_MAX:
        return f"filter: at most {FILTER_TERMS_MAX} comparisons"
    return None


_INTEGER = re.compile(r"\s*[+-]?[0-9]+\s*")


def parse_integer(value: Any, low: int = -INTEGER_MAX, high: int = INTEGER_MAX) -> int | None:
    """An integer within ``[low, high]`` from an int or a decimal string, else None.

    The digits are counted before converting, so a 5,000-digit number costs nothing.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        if len(value) > 20 or not _INTEGER.fullmatch(value):
            return None
        value = int(value)
    if not isinstance(value, int) or not low <= value <= high:
        return None
    return value


def integer_refusal(name: str, value: Any) -> str | None:
    """``name: ...`` when an integer parameter is past the database's integer range."""
    if value is None or parse_integer(value) is not None:
        return None
    if isinstance(value, str) and not _INTEGER.fullmatch(value):
        return None  # not a number at all: the parameter's own validation names it
    return f"{name}: must be between {-INTEGER_MAX} and {INTEGER_MAX}"
