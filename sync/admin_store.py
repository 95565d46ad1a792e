"""Small reads and writes of the admin API that no other store module offers.

Plain functions taking a Session (the caller's unit of work). The role model's rules
(``mappings.rules``) are asked before anything is written, so a refused request
changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from mappings.directory import identity_key
from mappings.errors import InputError
from mappings.rolemodel import RoleModel
from mappings.rules import reachable_top_holders, top_holder_to_keep
from mappings.state import format_time
from sync.errors import Conflict
from sync.models import (
    AuditEntry,
    Member,
    PlanStatus,
    SavedPlan,
    Source,
    SyncRun,
    Workspace,
    WorkspaceRole,
    utcnow,
)
from sync.orgs import check_member_roles

__all__ = [
    "count_members_by_role",
    "list_audit",
    "list_plans",
    "plan_json",
    "list_runs",
    "list_sources",
    "record_audit",
    "run_json",
    "set_member",
]


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


def record_audit(
    session: Session,
    org_id: int,
    actor: str,
    op: str,
    user: str,
    detail: dict[str, object],
    plan_id: int | None = None,
) -> None:
    """Append one audit entry in the caller's transaction."""
    session.add(
        AuditEntry(org_id=org_id, actor=actor, op=op, user=user, detail=detail, plan_id=plan_id)
    )


def count_members_by_role(session: Session, org_id: int) -> dict[str, int]:
    """How many members hold each org role."""
    rows = session.execute(
        select(Member.org_role, func.count())
        .where(Member.org_id == org_id)
        .group_by(Member.org_role)
    )
    return {role: int(n) for role, n in rows}


def list_sources(session: Session, org_id: int) -> list[dict[str, object]]:
    """The org's sources with their last run (outcome, when, counts)."""
    out: list[dict[str, object]] = []
    for src in session.scalars(select(Source).where(Source.org_id == org_id).order_by(Source.name)):
        last = session.scalars(
            select(SyncRun)
            .where(SyncRun.org_id == org_id, SyncRun.source_id == src.id)
            .order_by(SyncRun.started_at.desc(), SyncRun.id.desc())
            .limit(1)
        ).first()
        out.append(
            {
                "name": src.name,
                "kind": src.kind,
                "schedule": src.schedule,
                "enabled": src.enabled,
                "last_run": run_json(last) if last else None,
            }
        )
    return out


def run_json(run: SyncRun) -> dict[str, object]:
    """A run as the API shows it."""
    return {
        "id": run.id,
        "trigger": run.trigger,
        "started_at": format_time(run.started_at),
        "finished_at": format_time(run.finished_at),
        "outcome": run.outcome,
        "error": run.error,
        "counts": run.counts,
        "plan_id": run.plan_id,
    }


def list_runs(session: Session, org_id: int, limit: int = 100) -> list[dict[str, object]]:
    """The org's most recent runs, newest first."""
    rows = session.scalars(
        select(SyncRun)
        .where(SyncRun.org_id == org_id)
        .order_by(SyncRun.started_at.desc(), SyncRun.id.desc())
        .limit(limit)
    )
    return [run_json(r) for r in rows]


def list_audit(
    session: Session,
    org_id: int,
    user: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 200,
) -> list[dict[str, object]]:
    """Audit entries of the org, newest first, filtered by user and time range."""
    query = select(AuditEntry).where(AuditEntry.org_id == org_id)
    if user:
        query = query.where(AuditEntry.user == identity_key(user))
    if since is not None:
        query = query.where(AuditEntry.at >= since)
    if until is not None:
        query = query.where(AuditEntry.at < until)
    rows = session.scalars(query.order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit))
    return [
        {
            "id": e.id,
            "at": format_time(e.at),
            "actor": e.actor,
            "op": e.op,
            "user": e.user,
            "workspace": e.workspace,
            "detail": e.detail,
            "plan_id": e.plan_id,
        }
        for e in rows
    ]


def list_plans(
    session: Session, org_id: int, statuses: Sequence[PlanStatus] = (), limit: int = 100
) -> list[dict[str, object]]:
    """Saved plans of the org (optionally only some statuses), newest first."""
    query = select(SavedPlan).where(SavedPlan.org_id == org_id)
    if statuses:
        query = query.where(SavedPlan.status.in_(statuses))
    rows = session.scalars(
        query.order_by(SavedPlan.created_at.desc(), SavedPlan.id.desc()).limit(limit)
    )
    return [plan_json(p, with_body=False) for p in rows]


def plan_json(p: SavedPlan, with_body: bool = True) -> dict[str, object]:
    """A saved plan as the API shows it."""
    body = p.body or {}
    out: dict[str, object] = {
        "id": p.id,
        "status": p.status,
        "fingerprint": p.fingerprint,
        "trigger": p.trigger,
        "created_at": format_time(p.created_at),
        "approved_by": p.approved_by,
        "approved_at": format_time(p.approved_at),
        "applied_at": format_time(p.applied_at),
        "summary": body.get("summary", {}),
        "held": body.get("held"),
        "replaced_by": p.replaced_by,
    }
    if with_body:
        out["plan"] = body
    return out
