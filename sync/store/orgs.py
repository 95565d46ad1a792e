"""Organisations and their workspaces.

An org carries a role model preset, a commercial plan and a credit pool; creating a
workspace asks the core's rules (``mappings.rules``) for the plan's limit and the
credits (``LimitError`` says which). Members changed by hand are plans
(``sync.services.members``).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mappings.errors import InputError
from mappings.presets import load_role_model
from mappings.rolemodel import RoleModel
from mappings.rules import (
    new_workspace_refusal,
    plan_refusal,
    workspaces_at_creation,
)
from sync.errors import Conflict, LimitError, NotFound
from sync.models import Member, Organisation, Workspace

__all__ = [
    "OrgView",
    "WorkspaceView",
    "count_members_by_role",
    "create_org",
    "create_workspace",
    "find_org",
    "get_org",
    "list_orgs",
    "list_workspaces",
    "org_row",
    "org_view",
    "role_model_for",
    "role_model_of",
    "workspace_names",
]


def role_model_for(name: str) -> RoleModel:
    """The role model preset called ``name`` (``RoleModelError`` if there is none)."""
    return load_role_model(name)


def role_model_of(session: Session, org_id: int) -> RoleModel:
    """The role model of an org."""
    return role_model_for(get_org(session, org_id).role_model)


def org_row(session: Session, org: int | str) -> Organisation:
    """The org's row by id or by name, for the store's own writes; ``NotFound`` otherwise.
    Whatever leaves the store reads ``get_org``'s value instead (docs/architecture.md
    section 2)."""
    if isinstance(org, int):
        found = session.get(Organisation, org)
    else:
        found = session.scalar(select(Organisation).where(Organisation.name == org))
    if found is None:
        raise NotFound(f"no organisation {org!r}")
    return found


def get_org(session: Session, org: int | str) -> OrgView:
    """An org by id or by name as a value; ``NotFound`` otherwise."""
    return _view(org_row(session, org))


def find_org(session: Session, ref: str) -> OrgView:
    """An org by name or, when no org has that name and it is a number, by id."""
    found = session.scalar(select(Organisation).where(Organisation.name == ref))
    if found is None and ref.isdigit():
        found = session.get(Organisation, int(ref))
    if found is None:
        raise NotFound(f"no organisation {ref!r}")
    return _view(found)


def list_orgs(session: Session) -> list[OrgView]:
    """Every org, by name."""
    return [_view(o) for o in session.scalars(select(Organisation).order_by(Organisation.name))]


def _view(row: Organisation) -> OrgView:
    return OrgView(row.id, row.name, row.role_model, row.plan, row.credits)


def create_org(
    session: Session,
    name: str,
    role_model: str,
    *,
    plan: str | None = None,
    credits: int | None = None,
) -> Organisation:
    """Create an org on a role model preset. ``plan`` must be one the preset declares
    (None: the preset's documented default plan); an org on a plan of exactly one
    workspace starts with it, named after the org, holding the org's credits."""
    name = name.strip()
    if not name:
        raise InputError("an organisation needs a name", "name")
    model = role_model_for(role_model)
    plan = plan or model.plan_by_default or "enterprise"
    refusal = plan_refusal(model, plan)
    if refusal is not None:
        raise InputError(refusal.detail, refusal.field)
    if credits is not None and credits < 0:
        raise InputError("must be a non-negative integer", "credits")
    if session.scalar(select(Organisation.id).where(Organisation.name == name)) is not None:
        raise Conflict(f"an organisation named {name!r} already exists")
    org = Organisation(name=name, role_model=model.name, plan=plan, credits=credits)
    session.add(org)
    session.flush()
    if workspaces_at_creation(model, plan):
        reserved = (credits or 0) if model.workspace_credits else 0
        session.add(Workspace(org_id=org.id, name=name, credits=reserved))
        session.flush()
    return org


def workspace_names(session: Session, org_id: int) -> list[str]:
    """The names of the org's workspaces, sorted."""
    rows = session.scalars(
        select(Workspace.name).where(Workspace.org_id == org_id).order_by(Workspace.name)
    )
    return list(rows)


def create_workspace(session: Session, org_id: int, name: str, credits: int = 0) -> Workspace:
    """Create a workspace within the org's plan limit and credit pool."""
    org = get_org(session, org_id)
    model = role_model_for(org.role_model)
    name = name.strip()
    if not name:
        raise InputError("a workspace needs a name", "name")
    if credits < 0:
        raise InputError("must be a non-negative integer", "credits")
    if credits and not model.workspace_credits:
        raise InputError(f"workspaces of {model.name} carry no credits", "credits")
    count, used = session.execute(
        select(func.count(Workspace.id), func.coalesce(func.sum(Workspace.credits), 0)).where(
            Workspace.org_id == org_id
        )
    ).one()
    if session.scalar(
        select(Workspace.id).where(Workspace.org_id == org_id, Workspace.name == name)
    ):
        raise Conflict(f"workspace {name!r} already exists in {org.name}")
    refusal = new_workspace_refusal(model, org.plan, count, used, credits, org.credits)
    if refusal is not None:
        raise LimitError(refusal.detail, refusal.field)
    workspace = Workspace(org_id=org_id, name=name, credits=credits)
    session.add(workspace)
    session.flush()
    return workspace


@dataclass(frozen=True, slots=True)
class OrgView:
    """An org as read: its name, role model preset, commercial plan and credit pool."""

    id: int
    name: str
    role_model: str
    plan: str
    credits: int | None


@dataclass(frozen=True, slots=True)
class WorkspaceView:
    """A workspace as read: its name and the credits it reserves."""

    name: str
    credits: int


def org_view(session: Session, org: int | str) -> OrgView:
    """An org by id or by name as a value; ``NotFound`` otherwise (``get_org``)."""
    return get_org(session, org)


def list_workspaces(session: Session, org_id: int) -> list[WorkspaceView]:
    """The org's workspaces by name."""
    rows = session.scalars(
        select(Workspace).where(Workspace.org_id == org_id).order_by(Workspace.name)
    )
    return [WorkspaceView(w.name, w.credits) for w in rows]


def count_members_by_role(session: Session, org_id: int) -> dict[str, int]:
    """How many members hold each org role."""
    rows = session.execute(
        select(Member.org_role, func.count())
        .where(Member.org_id == org_id)
        .group_by(Member.org_role)
    )
    return {role: int(n) for role, n in rows}
