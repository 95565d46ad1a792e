"""Small builders for the core's inputs, so each test reads as its scenario."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from mappings import (
    Directory,
    DirectoryGroup,
    DirectoryUser,
    GroupMember,
    Held,
    Member,
    Operation,
    Organisation,
    Plan,
    PlatformState,
    Skipped,
    Workspace,
    load_role_model,
    make_plan,
    parse_mapping,
)

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def user(
    uid: str, email: str, *, active: bool = True, roles: tuple[str, ...] = ()
) -> DirectoryUser:
    """A directory user whose userName and primary email are ``email``."""
    return DirectoryUser(id=uid, user_name=email, emails=(email,), active=active, roles=roles)


def group(gid: str, name: str, *members: str) -> DirectoryGroup:
    """A group; members starting with ``g`` are nested groups, the rest users."""
    refs = tuple(GroupMember(m, "Group" if m.startswith("g") else "User") for m in members)
    return DirectoryGroup(id=gid, display_name=name, members=refs)


def directory(users: list[DirectoryUser], groups: list[DirectoryGroup]) -> Directory:
    """A directory snapshot."""
    return Directory(users=tuple(users), groups=tuple(groups))


def member(
    email: str,
    org_role: str,
    *,
    status: str = "joined",
    origin: str = "idp",
    idp_id: str | None = None,
    invited_at: datetime | None = None,
    workspaces: Mapping[str, tuple[str, ...]] | None = None,
) -> Member:
    """A platform member."""
    return Member(email, org_role, status, origin, idp_id, invited_at, dict(workspaces or {}))


def state(
    *members: Member,
    workspaces: Mapping[str, int] | None = None,
    plan: str = "enterprise",
    credits: int | None = None,
) -> PlatformState:
    """A platform state for org Acme."""
    ws = tuple(Workspace(n, c) for n, c in (workspaces or {}).items())
    return PlatformState(Organisation("Acme", plan, credits), ws, tuple(members))


def plan_of(doc: Mapping[str, Any], d: Directory, s: PlatformState, **kw: Any) -> Plan:
    """The plan for a mapping document, without its fingerprint (compared separately)."""
    mapping = parse_mapping(doc)
    model = load_role_model(doc["role_model"])
    return replace(make_plan(d, s, mapping, model, now=kw.pop("now", NOW), **kw), fingerprint="")


def expected(
    *ops: Operation,
    skipped: tuple[Skipped, ...] = (),
    held: Held | None = None,
    warnings: tuple[str, ...] = (),
) -> Plan:
    """A plan as a test expects it (ops listed in plan order)."""
    return Plan(
        operations=ops,
        skipped=skipped,
        held=held,
        warnings=warnings,
        summary=dict(sorted(Counter(o.op for o in ops).items())),
    )
