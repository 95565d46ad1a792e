"""Apply a plan to a platform state in memory: the pure model of what ``sync`` does.

It defines what each operation means, and lets the tests check that planning again
after applying a plan finds nothing left to do.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from mappings.errors import InputError
from mappings.operations import Operation, Plan
from mappings.rolemodel import RoleModel
from mappings.state import Member, PlatformState, Workspace

__all__ = ["apply_to_state"]


def _roles(value: object) -> tuple[str, ...]:
    if isinstance(value, tuple):
        return tuple(sorted(set(value)))
    return (str(value),) if value else ()


def _apply_member(
    members: dict[str, Member], op: Operation, model: RoleModel, now: datetime
) -> None:
    key = op.user
    if op.op == "invite":
        members[key] = Member(
            email=key,
            org_role=op.org_role or model.default_org_role,
            status="invited",
            origin="idp",
            idp_id=op.idp_id,
            invited_at=now,
        )
        return
    if op.op == "rename_member":
        old = next((k for k, m in members.items() if m.email == op.from_ or k == op.from_), None)
        if old is None:
            raise InputError(f"no member {op.from_} to rename", "rename_member")
        members[key] = replace(members.pop(old), email=str(op.to))
        return
    m = members.get(key)
    if m is None:
        raise InputError(f"no member {key} for {op.op}", op.op)
    ws = dict(m.workspaces)
    if op.op == "resend_invite":
        members[key] = replace(m, invited_at=now)
    elif op.op == "reactivate":
        members[key] = replace(m, status="joined")
    elif op.op == "suspend":
        members[key] = replace(m, status="suspended")
    elif op.op == "set_org_role":
        members[key] = replace(m, org_role=str(op.to))
    elif op.op == "add_to_workspace" and op.workspace is not None:
        ws[op.workspace] = _roles(op.roles)
        members[key] = replace(m, workspaces=ws)
    elif op.op == "set_workspace_roles" and op.workspace is not None:
        ws[op.workspace] = _roles(op.to)
        members[key] = replace(m, workspaces=ws)
    elif op.op == "remove_from_workspace" and op.workspace is not None:
        ws.pop(op.workspace, None)
        members[key] = replace(m, workspaces=ws)
    elif op.op in ("remove_from_org", "revoke_invite"):
        del members[key]


def apply_to_state(
    state: PlatformState, plan: Plan, role_model: RoleModel, *, now: datetime
) -> PlatformState:
    """The state after carrying out every operation of ``plan`` in order."""
    workspaces = list(state.workspaces)
    members = {m.key: m for m in state.members}
    for op in plan.operations:
        if op.op == "create_workspace" and op.workspace is not None:
            workspaces.append(Workspace(op.workspace, op.credits or 0))
        else:
            _apply_member(members, op, role_model, now)
    return replace(
        state,
        workspaces=tuple(workspaces),
        members=tuple(sorted(members.values(), key=lambda m: m.key)),
    )
