"""A manual member's roles set directly (the admin API's member change).

A plain function taking a Session (the caller's unit of work). The role model's rules
(``mappings.rules``) are asked before anything is written, so a refused request
changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from mappings.directory import identity_key
from mappings.errors import InputError
from mappings.rolemodel import RoleModel
from mappings.rules import reachable_top_holders, top_holder_to_keep
from sync.errors import Conflict
from sync.models import Member, Workspace, WorkspaceRole, utcnow
from sync.orgs import check_member_roles

__all__ = ["set_member"]


def set_member(
    session: Session,
    org_id: int,
    model: RoleModel,
    email: str,
    org_role: str | None,
    workspaces: Mapping[str, Sequence[str]] | None,
) -> tuple[Member, bool]:
    """Add a manual member (invited) or change one's roles; returns (member, created)."""
    key = identity_key(email)
    member = session.scalars(
        select(Member).where(Member.org_id == org_id, Member.email == key)
    ).first()
    role = org_role or (member.org_role if member is not None else model.default_org_role)
    check_member_roles(model, role, workspaces or {})
    by_name = _workspace_ids(session, org_id, workspaces or {})
    created = member is None
    if member is None:
        member = Member(
            org_id=org_id,
            email=key,
            org_role=role,
            status="invited",
            origin="manual",
            invited_at=utcnow(),
        )
        session.add(member)
    elif role != member.org_role:
        _keep_a_top_holder(session, org_id, model, member, role)
        member.org_role = role
    session.flush()
    for ws, roles in (workspaces or {}).items():
        session.execute(
            delete(WorkspaceRole).where(
                WorkspaceRole.member_id == member.id, WorkspaceRole.workspace_id == by_name[ws]
            )
        )
        session.add_all(
            WorkspaceRole(member_id=member.id, workspace_id=by_name[ws], role=r)
            for r in sorted(set(roles))
        )
    session.flush()
    return member, created


def _workspace_ids(
    session: Session, org_id: int, workspaces: Mapping[str, Sequence[str]]
) -> dict[str, int]:
    """The ids of the named workspaces; ``InputError`` for a workspace the org lacks."""
    rows = session.execute(
        select(Workspace.name, Workspace.id).where(
            Workspace.org_id == org_id, Workspace.name.in_(list(workspaces))
        )
    )
    by_name: dict[str, int] = {name: ws_id for name, ws_id in rows}
    for ws in workspaces:
        if ws not in by_name:
            raise InputError(f"no workspace named {ws!r}", f"workspaces.{ws}")
    return by_name


def _keep_a_top_holder(
    session: Session, org_id: int, model: RoleModel, member: Member, new_role: str
) -> None:
    """Never leave the org without a holder of the top org role who has joined
    (docs/architecture.md section 4.3)."""
    top = model.top_org_role
    rows = session.scalars(select(Member).where(Member.org_id == org_id, Member.org_role == top))
    holders = reachable_top_holders(model, {m.email: m for m in rows})
    if top_holder_to_keep(model, holders, {member.email: (new_role, member.status)}) is not None:
        raise Conflict(
            f"{member.email} is the last {top} who has joined; make someone else {top} first"
        )
