"""What the services share: the caller's authority turned into ``Forbidden``.

A caller with ``role=None`` is the host's operator (the command line), not bounded by the
role model; every other caller is held to ``mappings.authority``'s decisions."""

from __future__ import annotations

from sqlalchemy.orm import Session

from mappings.authority import (
    Caller,
    refusal_for_admin_action,
    refusal_for_plan,
    refusal_for_workspace_create,
)
from mappings.operations import Plan
from mappings.rolemodel import RoleModel
from mappings.state import PlatformState
from sync.errors import Forbidden
from sync.store.platform import load_state

__all__ = ["allow_admin_action", "allow_plan", "allow_workspace_create", "state_for_checks"]


def allow_admin_action(model: RoleModel, caller: Caller) -> None:
    """``Forbidden`` unless the caller may act as an admin (manages someone)."""
    if caller.role is not None:
        refusal = refusal_for_admin_action(model, caller)
        if refusal is not None:
            raise Forbidden(refusal)


def allow_workspace_create(model: RoleModel, caller: Caller) -> None:
    """``Forbidden`` unless the caller's role may create workspaces."""
    if caller.role is not None:
        refusal = refusal_for_workspace_create(model, caller)
        if refusal is not None:
            raise Forbidden(refusal)


def state_for_checks(session: Session, org_id: int, caller: Caller) -> PlatformState | None:
    """The members a plan check compares with; None for the operator, who is not checked."""
    return None if caller.role is None else load_state(session, org_id)


def allow_plan(model: RoleModel, caller: Caller, plan: Plan, state: PlatformState | None) -> None:
    """``Forbidden`` unless the caller's role manages every role the plan touches."""
    if caller.role is not None and state is not None:
        refusal = refusal_for_plan(model, caller, plan, state)
        if refusal is not None:
            raise Forbidden(refusal)
