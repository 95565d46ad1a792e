"""What the identity provider says: users, groups and (possibly nested) memberships.

The file and API shape is SCIM 2.0 (RFC 7643 sections 4.1 and 4.2), so a dump of a
SCIM server's ``/Users`` and ``/Groups`` is a valid directory.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mappings.errors import InputError

__all__ = ["Directory", "DirectoryGroup", "DirectoryUser", "GroupMember", "identity_key"]


def identity_key(value: str) -> str:
    """The one key under which two names are the same identity (member, SCIM userName).

    NFKC, casefold, NFKC again, then trimmed: Unicode's compatibility caseless match
    (Unicode 15, section 3.13, D146). Casefolding, not ``lower()``, so ``straße`` and
    ``strasse`` are one key, as are ``ǅ``/``ǆ`` and Greek final sigma; compatibility
    normalisation, so a full-width letter (U+FF41) or a ligature (U+FB01) cannot pose as another
    address. Platforms compare addresses case-insensitively, so any two names this
    function cannot tell apart must be one identity everywhere in rolebridge.
    """
    if value.isascii():  # the common case: NFKC is the identity, casefold is lower()
        return value.strip().lower()
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", value).casefold())
    return folded.strip()


@dataclass(frozen=True, slots=True)
class DirectoryUser:
    """One IdP user; ``id`` is the source's immutable id."""

    id: str
    user_name: str
    emails: tuple[str, ...] = ()  # primary first
    external_id: str | None = None
    active: bool = True
    display_name: str | None = None
    roles: tuple[str, ...] = ()  # IdP app roles (Entra ``roles[].value``), usable like groups

    @property
    def key(self) -> str:
        """The identity key of the primary email, else of the userName."""
        return identity_key(self.emails[0] if self.emails else self.user_name)


@dataclass(frozen=True, slots=True)
class GroupMember:
    """A member reference of a group: a user id or a nested group id."""

    value: str
    type: str | None = None  # "User", "Group" or unknown (resolved by id lookup)


@dataclass(frozen=True, slots=True)
class DirectoryGroup:
    """One IdP group with its direct members."""

    id: str
    display_name: str
    external_id: str | None = None
    members: tuple[GroupMember, ...] = ()


@dataclass(frozen=True, slots=True)
class Directory:
    """A snapshot of one or more sources: every user and group."""

    users: tuple[DirectoryUser, ...] = ()
    groups: tuple[DirectoryGroup, ...] = ()

    @classmethod
    def from_scim(cls, data: Mapping[str, Any]) -> Directory:
        """Build a directory from ``{"users": [SCIM User], "groups": [SCIM Group]}``."""
        if not isinstance(data, Mapping):
            raise InputError("directory must be an object with 'users' and 'groups'", "$")
        users = tuple(_user_from_scim(u, f"users[{i}]") for i, u in enumerate(_list(data, "users")))
        groups = tuple(
            _group_from_scim(g, f"groups[{i}]") for i, g in enumerate(_list(data, "groups"))
        )
        return cls(users=users, groups=groups)

    def to_scim(self) -> dict[str, Any]:
        """The SCIM-shaped file form of this directory."""
        return {
            "users": [_user_to_scim(u) for u in self.users],
            "groups": [_group_to_scim(g) for g in self.groups],
        }


def _list(data: Mapping[str, Any], name: str) -> Sequence[Any]:
    value = data.get(name, [])
    if isinstance(value, Mapping) and "Resources" in value:  # a raw ListResponse
        value = value["Resources"]
    if not isinstance(value, list):
        raise InputError(f"'{name}' must be a list", name)
    return value


def _str(obj: Mapping[str, Any], name: str, where: str, required: bool = True) -> str | None:
    value = obj.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value):
        raise InputError(f"'{name}' must be a non-empty string", f"{where}.{name}")
    return value


def _active(value: Any, where: str) -> bool:
    if value is None:
        return True
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):  # Entra's habit
        return value.lower() == "true"
    raise InputError("'active' must be a boolean", f"{where}.active")


def _emails(raw: Any, where: str) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise InputError("'emails' must be a list", f"{where}.emails")
    values: list[tuple[bool, str]] = []
    for i, e in enumerate(raw):
        if not isinstance(e, Mapping) or not isinstance(e.get("value"), str):
            raise InputError("each email needs a string 'value'", f"{where}.emails[{i}]")
        primary = e.get("primary") in (True, "true", "True")
        values.append((not primary, e["value"]))
    values.sort(key=lambda p: p[0])  # stable: primary first, then given order
    return tuple(v for _, v in values)


def _roles(raw: Any) -> tuple[str, ...]:
    if not isinstance(raw, list):
        return ()
    return tuple(str(r["value"]) for r in raw if isinstance(r, Mapping) and "value" in r)


def _user_from_scim(u: Any, where: str) -> DirectoryUser:
    if not isinstance(u, Mapping):
        raise InputError("a user must be an object", where)
    user_name = _str(u, "userName", where)
    assert user_name is not None
    name = u.get("displayName")
    return DirectoryUser(
        id=_str(u, "id", where) or "",
        user_name=user_name,
        emails=_emails(u.get("emails"), where),
        external_id=_str(u, "externalId", where, required=False),
        active=_active(u.get("active"), where),
        display_name=name if isinstance(name, str) else None,
        roles=_roles(u.get("roles")),
    )


def _group_from_scim(g: Any, where: str) -> DirectoryGroup:
    if not isinstance(g, Mapping):
        raise InputError("a group must be an object", where)
    raw = g.get("members") or []
    if not isinstance(raw, list):
        raise InputError("'members' must be a list", f"{where}.members")
    members = []
    for i, m in enumerate(raw):
        if not isinstance(m, Mapping) or not isinstance(m.get("value"), str):
            raise InputError("each member needs a string 'value'", f"{where}.members[{i}]")
        kind = m.get("type")
        members.append(GroupMember(m["value"], kind if isinstance(kind, str) else None))
    display_name = _str(g, "displayName", where)
    assert display_name is not None
    return DirectoryGroup(
        id=_str(g, "id", where) or "",
        display_name=display_name,
        external_id=_str(g, "externalId", where, required=False),
        members=tuple(members),
    )


def _user_to_scim(u: DirectoryUser) -> dict[str, Any]:
    out: dict[str, Any] = {"id": u.id, "userName": u.user_name, "active": u.active}
    if u.external_id is not None:
        out["externalId"] = u.external_id
    if u.display_name is not None:
        out["displayName"] = u.display_name
    if u.emails:
        out["emails"] = [{"value": e, "primary": i == 0} for i, e in enumerate(u.emails)]
    if u.roles:
        out["roles"] = [{"value": r} for r in u.roles]
    return out


def _group_to_scim(g: DirectoryGroup) -> dict[str, Any]:
    out: dict[str, Any] = {"id": g.id, "displayName": g.display_name}
    if g.external_id is not None:
        out["externalId"] = g.external_id
    out["members"] = [{"value": m.value, **({"type": m.type} if m.type else {})} for m in g.members]
    return out
