"""The lists of the admin API and the admin pages, one page at a time by keyset
(``sync.paging``): members, audit entries, plans and runs, each with its filters (the
pages' "contains" filters and their totals included), the audit log whole for the CSV
export, and the last run of each source. Rows leave as the same dicts the unpaged
listings make (``sync.store.plans.plan_json``, ``sync.store.runs.run_json``), so a page and a whole
list look alike."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, false, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from mappings.directory import identity_key
from mappings.state import format_time
from sync.models import (
    AuditEntry,
    Member,
    PlanStatus,
    SavedPlan,
    Source,
    SyncRun,
    Workspace,
    WorkspaceRole,
)
from sync.paging import Page, keyset_page
from sync.store.plans import PlanRecord, plan_json
from sync.store.runs import RunRecord, run_json

__all__ = [
    "SCIM_TRIGGER",
    "audit_ops",
    "audit_page",
    "audit_row",
    "audit_rows",
    "last_runs",
    "members_page",
    "plans_page",
    "run_outcomes",
    "runs_page",
]

SCIM_TRIGGER = "scim"  # the trigger of a SCIM write's reconcile


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped.casefold()}%"


def _contains(column: Any, text: str) -> Any:
    """Case-insensitively contains ``text`` (LIKE, its wildcards escaped)."""
    return func.lower(column).like(_like(text), escape="\\")


def _total(session: Session, stmt: Select[Any]) -> int:
    return int(session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)


def members_page(
    session: Session,
    org_id: int,
    *,
    limit: int,
    cursor: str | None,
    role: str | None = None,
    status: str | None = None,
    query: str | None = None,
    email: str | None = None,
    visible: Mapping[str, frozenset[str]] | None = None,
) -> Page[dict[str, Any]]:
    """Members by email, optionally only one org role, one status, emails containing
    ``query``, or the one member whose identity key is ``email``'s. ``visible``
    (``mappings.visibility.visible_roles``: workspace -> the roles the caller sees there)
    keeps, in the query, only the members holding one of those roles, each with only
    those: a page is full whenever more such members exist."""
    stmt = select(Member).where(Member.org_id == org_id)
    seen: ColumnElement[bool] | None = None
    if visible is not None:
        seen, everywhere = _seen_roles(session, org_id, visible)
        holders = select(WorkspaceRole.member_id).join(
            Workspace, Workspace.id == WorkspaceRole.workspace_id
        )
        if everywhere:  # most members qualify: test each member met in email order
            stmt = stmt.where(holders.where(WorkspaceRole.member_id == Member.id, seen).exists())
        else:  # a few workspaces: read their holders (the page costs their count at most)
            stmt = stmt.where(Member.id.in_(holders.where(Workspace.org_id == org_id, seen)))
    if role:
        stmt = stmt.where(Member.org_role == role)
    if status:
        stmt = stmt.where(Member.status == status)
    if query:
        stmt = stmt.where(Member.email.contains(query.casefold(), autoescape=True))
    if email is not None:
        stmt = stmt.where(Member.email == identity_key(email))
    page = keyset_page(
        session, stmt, "members", (Member.email,), limit=limit, cursor=cursor, descending=False
    )
    roles: dict[int, dict[str, list[str]]] = {}
    ids = [m.id for m in page.items]
    if ids:
        for member_id, ws, r in session.execute(
            select(WorkspaceRole.member_id, Workspace.name, WorkspaceRole.role)
            .join(Workspace, Workspace.id == WorkspaceRole.workspace_id)
            .where(WorkspaceRole.member_id.in_(ids), *(() if seen is None else (seen,)))
        ):
            roles.setdefault(member_id, {}).setdefault(ws, []).append(r)
    items = [
        {
            "email": m.email,
            "org_role": m.org_role,
            "status": m.status,
            "origin": m.origin,
            "idp_id": m.idp_id,
            "invited_at": format_time(m.invited_at),
            "workspaces": {ws: sorted(r) for ws, r in sorted(roles.get(m.id, {}).items())},
        }
        for m in page.items
    ]
    return Page(items, page.next_cursor)


def _seen_roles(
    session: Session, org_id: int, visible: Mapping[str, frozenset[str]]
) -> tuple[ColumnElement[bool], bool]:
    """The workspace roles (joined with their workspace) a caller sees, per set of roles
    the workspaces where it sees that set; and whether one set holds in every workspace
    of the org (an org-wide caller), when the names are left out. The rows filtered are
    the org's members' roles, so in the org's workspaces already."""
    by_roles: dict[frozenset[str], list[str]] = {}
    for ws, roles in visible.items():
        if roles:
            by_roles.setdefault(roles, []).append(ws)
    if not by_roles:
        return false(), False
    if len(by_roles) == 1:
        ((roles, names),) = by_roles.items()
        org_workspaces = session.scalar(
            select(func.count()).select_from(Workspace).where(Workspace.org_id == org_id)
        )
        if len(names) == org_workspaces:
            return WorkspaceRole.role.in_(sorted(roles)), True
    return or_(
        *(
            and_(Workspace.name.in_(sorted(names)), WorkspaceRole.role.in_(sorted(roles)))
            for roles, names in sorted(by_roles.items(), key=lambda kv: sorted(kv[0]))
        )
    ), False


def audit_row(e: AuditEntry) -> dict[str, Any]:
    """An audit entry as the API shows it."""
    return {
        "id": e.id,
        "at": format_time(e.at),
        "actor": e.actor,
        "op": e.op,
        "user": e.user,
        "workspace": e.workspace,
        "detail": e.detail,
        "plan_id": e.plan_id,
    }


def _audit_query(
    org_id: int,
    *,
    user: str | None = None,
    op: str | None = None,
    actor: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    actor_contains: str | None = None,
    user_contains: str | None = None,
) -> Select[AuditEntry]:
    stmt = select(AuditEntry).where(AuditEntry.org_id == org_id)
    if user:
        stmt = stmt.where(AuditEntry.user == identity_key(user))
    if op:
        stmt = stmt.where(AuditEntry.op == op)
    if actor:
        stmt = stmt.where(AuditEntry.actor == actor)
    if actor_contains:
        stmt = stmt.where(_contains(AuditEntry.actor, actor_contains))
    if user_contains:
        stmt = stmt.where(_contains(AuditEntry.user, user_contains))
    if since is not None:
        stmt = stmt.where(AuditEntry.at >= since)
    if until is not None:
        stmt = stmt.where(AuditEntry.at < until)
    return stmt


def audit_page(
    session: Session,
    org_id: int,
    *,
    limit: int,
    cursor: str | None,
    with_total: bool = False,
    **filters: Any,
) -> Page[dict[str, Any]]:
    """Audit entries newest first, filtered by user, op, actor and time range (or, for
    the pages, by actor or user containing a text); ``with_total`` counts the matches."""
    stmt = _audit_query(org_id, **filters)
    page = keyset_page(
        session, stmt, "audit", (AuditEntry.at, AuditEntry.id), limit=limit, cursor=cursor
    )
    total = _total(session, stmt) if with_total else None
    return Page([audit_row(e) for e in page.items], page.next_cursor, total)


def audit_rows(session: Session, org_id: int, **filters: Any) -> Iterator[dict[str, Any]]:
    """Every matching entry, newest first (for the CSV export), read in batches."""
    stmt = _audit_query(org_id, **filters).order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
    for e in session.scalars(stmt.execution_options(yield_per=1000)):
        yield audit_row(e)


def audit_ops(session: Session, org_id: int) -> list[str]:
    """The operations the org's audit log has."""
    stmt = select(AuditEntry.op).where(AuditEntry.org_id == org_id).distinct()
    return list(session.scalars(stmt.order_by(AuditEntry.op)))


def plans_page(
    session: Session,
    org_id: int,
    *,
    limit: int,
    cursor: str | None,
    statuses: Sequence[PlanStatus] = (),
    with_total: bool = False,
) -> Page[dict[str, Any]]:
    """Saved plans newest first (optionally only some statuses), without their bodies."""
    stmt = select(SavedPlan).where(SavedPlan.org_id == org_id)
    if statuses:
        stmt = stmt.where(SavedPlan.status.in_(statuses))
    page = keyset_page(
        session, stmt, "plans", (SavedPlan.created_at, SavedPlan.id), limit=limit, cursor=cursor
    )
    items = [plan_json(PlanRecord.of(p), with_body=False) for p in page.items]
    return Page(items, page.next_cursor, _total(session, stmt) if with_total else None)


def runs_page(
    session: Session,
    org_id: int,
    *,
    limit: int,
    cursor: str | None,
    outcome: str | None = None,
    trigger_contains: str | None = None,
    with_empty: bool = True,
    with_total: bool = False,
) -> Page[dict[str, Any]]:
    """Runs newest first, optionally only one outcome, only triggers containing a text,
    or (``with_empty`` False) without the runs that found nothing to do."""
    stmt = select(SyncRun).where(SyncRun.org_id == org_id)
    if outcome:
        stmt = stmt.where(SyncRun.outcome == outcome)
    elif not with_empty:
        stmt = stmt.where(SyncRun.outcome != "empty")
    if trigger_contains:
        stmt = stmt.where(_contains(SyncRun.trigger, trigger_contains))
    page = keyset_page(
        session, stmt, "runs", (SyncRun.started_at, SyncRun.id), limit=limit, cursor=cursor
    )
    total = _total(session, stmt) if with_total else None
    return Page([run_json(RunRecord.of(r)) for r in page.items], page.next_cursor, total)


def run_outcomes(session: Session, org_id: int) -> list[str]:
    """The outcomes the org's runs have had."""
    stmt = select(SyncRun.outcome).where(SyncRun.org_id == org_id).distinct()
    return list(session.scalars(stmt.order_by(SyncRun.outcome)))


def last_runs(session: Session, org_id: int) -> list[dict[str, object]]:
    """The org's sources with their last run; a SCIM source's is the last SCIM write's."""
    out: list[dict[str, object]] = []
    for src in session.scalars(select(Source).where(Source.org_id == org_id).order_by(Source.name)):
        of_source = SyncRun.source_id == src.id
        if src.kind == "scim":
            of_source = SyncRun.trigger == SCIM_TRIGGER
        last = session.scalars(
            select(SyncRun)
            .where(SyncRun.org_id == org_id, of_source)
            .order_by(SyncRun.started_at.desc(), SyncRun.id.desc())
            .limit(1)
        ).first()
        out.append(
            {
                "name": src.name,
                "kind": src.kind,
                "schedule": src.schedule,
                "enabled": src.enabled,
                "last_run": run_json(RunRecord.of(last)) if last else None,
            }
        )
    return out
