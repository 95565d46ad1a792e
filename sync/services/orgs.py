"""Organisations as a use case: one made by the host's operator (``rolebridge org
create``), with, when named, the invite of its first holder of the top org role.

One transaction under the new org's lock: the org (and the one workspace a plan of
exactly one workspace starts with), a ``create_org`` audit entry naming who made it, and
the holder's invite, planned and applied like any change by hand
(``sync.services.members``), so a refused invite creates nothing. Making an org is the
operator's alone: a caller acting as a role of a role model belongs to an org already.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from mappings.authority import Caller
from mappings.manual import ManualChange
from sync.db import write_session
from sync.errors import Forbidden
from sync.models import utcnow
from sync.reconcile import lock_org
from sync.services.members import MemberChanged, apply_change
from sync.store.audit import record_audit
from sync.store.orgs import create_org, role_model_for, workspace_names

__all__ = ["CREATE_ORG", "CreatedOrg", "create_org_with_holder"]

CREATE_ORG = "create_org"


@dataclass(frozen=True, slots=True)
class CreatedOrg:
    """A new org and the invite of its first holder of the top role, if one was named."""

    id: int
    name: str
    role_model: str
    plan: str
    credits: int | None
    invited: MemberChanged | None
    workspaces: tuple[str, ...] = ()


def create_org_with_holder(
    session_factory: sessionmaker[Session],
    name: str,
    role_model: str,
    *,
    plan: str | None,
    credits: int | None,
    holder: str | None,
    caller: Caller,
    now: datetime | None = None,
) -> CreatedOrg:
    """Create an org and, with ``holder``, invite its first holder of the top org role in
    the same transaction (a refused invite creates nothing). ``Forbidden`` for a caller
    other than the operator."""
    if not caller.operator:
        raise Forbidden("only the host's operator creates organisations")
    now = now or utcnow()
    with write_session(session_factory) as session:
        org = create_org(session, name, role_model, plan=plan, credits=credits)
        lock_org(session, org.id)
        made = tuple(workspace_names(session, org.id))
        detail: dict[str, object] = {
            "op": CREATE_ORG,
            "org": org.name,
            "role_model": org.role_model,
            "commercial_plan": org.plan,
            "credits": org.credits,
            "workspaces": list(made),
        }
        record_audit(session, org.id, caller.actor, CREATE_ORG, "", detail)
        invited = None
        if holder is not None:
            top = role_model_for(org.role_model).top_org_role
            invited = apply_change(session, org, ManualChange("invite", holder, top), caller, now)
        return CreatedOrg(org.id, org.name, org.role_model, org.plan, org.credits, invited, made)
