"""The platform's actual state for one organisation: its workspaces and members."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from mappings.directory import identity_key
from mappings.errors import InputError
from mappings.rolemodel import RoleModel

__all__ = [
    "MEMBER_ORIGINS",
    "MEMBER_STATUSES",
    "Member",
    "Organisation",
    "PlatformState",
    "Workspace",
    "check_state",
    "format_time",
    "parse_time",
]

MEMBER_STATUSES = ("invited", "joined", "suspended")
MEMBER_ORIGINS = ("idp", "manual")


def parse_time(value: Any, where: str) -> datetime | None:
    """Parse an ISO 8601 timestamp (``Z`` allowed) into an aware UTC datetime."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InputError("must be an ISO 8601 timestamp", where)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"'{value}' is not an ISO 8601 timestamp", where) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def format_time(value: datetime | None) -> str | None:
    """Format a datetime as ``2026-11-01T10:00:00Z``."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class Organisation:
    """The tenant: its name, commercial plan and credit pool (None = unlimited)."""

    name: str
    plan: str = "enterprise"
    credits: int | None = None


@dataclass(frozen=True, slots=True)
class Workspace:
    """A workspace of the org and the credits it reserves."""

    name: str
    credits: int = 0


@dataclass(frozen=True, slots=True)
class Member:
    """A platform member; ``workspaces`` maps workspace name -> sorted role tuple."""

    email: str
    org_role: str
    status: str = "joined"
    origin: str = "idp"
    idp_id: str | None = None
    invited_at: datetime | None = None
    workspaces: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """The normalised email."""
        return identity_key(self.email)


@dataclass(frozen=True, slots=True)
class PlatformState:
    """Everything the plan needs to know about the platform side of one org."""

    organisation: Organisation
    workspaces: tuple[Workspace, ...] = ()
    members: tuple[Member, ...] = ()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PlatformState:
        """Parse the state file format (docs/architecture.md section 6.5)."""
        if not isinstance(data, Mapping):
            raise InputError("state must be an object", "$")
        org = data.get("organisation")
        if not isinstance(org, Mapping) or not isinstance(org.get("name"), str):
            raise InputError("'organisation' needs a string 'name'", "organisation")
        credits = org.get("credits")
        if credits is not None and (not isinstance(credits, int) or isinstance(credits, bool)):
            raise InputError("must be an integer", "organisation.credits")
        organisation = Organisation(
            name=org["name"], plan=str(org.get("plan", "enterprise")), credits=credits
        )
        workspaces = tuple(_workspace(w, i) for i, w in enumerate(_items(data, "workspaces")))
        members = tuple(_member(m, i) for i, m in enumerate(_items(data, "members")))
        return cls(organisation=organisation, workspaces=workspaces, members=members)

    def to_dict(self) -> dict[str, Any]:
        """The state file format."""
        org: dict[str, Any] = {"name": self.organisation.name, "plan": self.organisation.plan}
        if self.organisation.credits is not None:
            org["credits"] = self.organisation.credits
        return {
            "organisation": org,
            "workspaces": [{"name": w.name, "credits": w.credits} for w in self.workspaces],
            "members": [_member_to_dict(m) for m in self.members],
        }


def _items(data: Mapping[str, Any], name: str) -> list[Any]:
    value = data.get(name, [])
    if not isinstance(value, list):
        raise InputError(f"'{name}' must be a list", name)
    return value


def _workspace(w: Any, i: int) -> Workspace:
    where = f"workspaces[{i}]"
    if not isinstance(w, Mapping) or not isinstance(w.get("name"), str) or not w["name"]:
        raise InputError("a workspace needs a non-empty string 'name'", where)
    credits = w.get("credits", 0)
    if not isinstance(credits, int) or isinstance(credits, bool) or credits < 0:
        raise InputError("must be a non-negative integer", f"{where}.credits")
    return Workspace(name=w["name"], credits=credits)


def _member(m: Any, i: int) -> Member:
    where = f"members[{i}]"
    if not isinstance(m, Mapping):
        raise InputError("a member must be an object", where)
    for name in ("email", "org_role"):
        if not isinstance(m.get(name), str) or not m[name]:
            raise InputError(f"'{name}' must be a non-empty string", f"{where}.{name}")
    status = m.get("status", "joined")
    if status not in MEMBER_STATUSES:
        raise InputError(f"must be one of {', '.join(MEMBER_STATUSES)}", f"{where}.status")
    origin = m.get("origin", "idp")
    if origin not in MEMBER_ORIGINS:
        raise InputError(f"must be one of {', '.join(MEMBER_ORIGINS)}", f"{where}.origin")
    raw_ws = m.get("workspaces", {})
    if not isinstance(raw_ws, Mapping):
        raise InputError("must map workspace name to a list of roles", f"{where}.workspaces")
    workspaces: dict[str, tuple[str, ...]] = {}
    for ws, roles in raw_ws.items():
        if isinstance(roles, str):
            roles = [roles]
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise InputError("must be a list of role names", f"{where}.workspaces.{ws}")
        workspaces[str(ws)] = tuple(sorted(set(roles)))
    idp_id = m.get("idp_id")
    return Member(
        email=m["email"],
        org_role=m["org_role"],
        status=status,
        origin=origin,
        idp_id=idp_id if isinstance(idp_id, str) else None,
        invited_at=parse_time(m.get("invited_at"), f"{where}.invited_at"),
        workspaces=workspaces,
    )


def _member_to_dict(m: Member) -> dict[str, Any]:
    out: dict[str, Any] = {
        "email": m.email,
        "org_role": m.org_role,
        "status": m.status,
        "origin": m.origin,
    }
    if m.idp_id is not None:
        out["idp_id"] = m.idp_id
    if m.invited_at is not None:
        out["invited_at"] = format_time(m.invited_at)
    out["workspaces"] = {ws: list(roles) for ws, roles in sorted(m.workspaces.items())}
    return out


def check_state(state: PlatformState, model: RoleModel) -> None:
    """Refuse a state that names roles the role model does not know (``InputError``)."""
    org, ws = set(model.org_roles), set(model.workspace_roles)
    for i, m in enumerate(state.members):
        if m.org_role not in org:
            raise InputError(
                f"unknown org role '{m.org_role}' for role model {model.name}",
                f"members[{i}].org_role",
            )
        for name, roles in m.workspaces.items():
            unknown = [r for r in roles if r not in ws]
            if unknown:
                raise InputError(
                    f"unknown workspace role '{unknown[0]}' for role model {model.name}",
                    f"members[{i}].workspaces.{name}",
                )
