"""Creating a workspace, as a use case: the admin API and ``rolebridge workspace
create``. Within the org's commercial plan and credit pool (``sync.store.orgs``, asking
``mappings.rules``), under the org lock, with one ``create_workspace`` audit entry and
its ``workspace.created`` event (docs/architecture.md section 12.1), as a plan's
``create_workspace`` operation gives."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from mappings.authority import Caller
from sync.db import write_session
from sync.reconcile import lock_org
from sync.services.common import allow_workspace_create
from sync.store.audit import record_audit
from sync.store.events import EventDraft, emit
from sync.store.orgs import WorkspaceView, get_org, role_model_for
from sync.store.orgs import create_workspace as store_workspace

__all__ = ["CREATE_WORKSPACE", "CreatedWorkspace", "create_workspace"]

CREATE_WORKSPACE = "create_workspace"


@dataclass(frozen=True, slots=True)
class CreatedWorkspace:
    """The workspace made, and the name of its org."""

    org_name: str
    workspace: WorkspaceView


def create_workspace(
    session_factory: sessionmaker[Session],
    org: int | str,
    name: str,
    credits: int,
    caller: Caller,
) -> CreatedWorkspace:
    """Create the workspace ``name`` reserving ``credits``; ``LimitError`` past the plan
    or the credit pool, ``Conflict`` when the name is taken."""
    with write_session(session_factory) as session:
        org_row = get_org(session, org)
        lock_org(session, org_row.id)
        allow_workspace_create(role_model_for(org_row.role_model), caller)
        ws = store_workspace(session, org_row.id, name, credits)
        detail = {"op": CREATE_WORKSPACE, "workspace": ws.name, "credits": ws.credits}
        record_audit(session, org_row.id, caller.actor, CREATE_WORKSPACE, "", detail)
        made = EventDraft(
            "workspace.created",
            workspace=ws.name,
            after={"credits": ws.credits},
            detail={"by": caller.actor},
        )
        emit(session, org_row.id, [made])
        return CreatedWorkspace(org_row.name, WorkspaceView(ws.name, ws.credits))
