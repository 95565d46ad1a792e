"""A change asked for by hand (invite, set roles, remove, resend or revoke an invite), as a
plan: the same operations the IdP path makes, decided by the same rules.

``plan_manual_change`` takes the platform state, the role model, the requested change,
who asks (``mappings.authority.Caller``) and ``now``; it returns a ``Plan`` whose
operations carry the change out, or, when a rule refuses it, a plan with no operation
and the change in ``skipped`` with its reason (docs/architecture.md section 4.3):

- ``idp_managed``: the member's roles belong to the IdP (origin ``idp``); resending
  their invite is allowed, nothing else;
- ``not_permitted``: the caller's role does not manage a role the change touches
  (``mappings.authority.refusal_for_operation``, the test a plan's approver passes, a
  workspace-scoped caller acting as its role in the workspace an operation lands in);
- ``covered_by_org_role``: a workspace role given to an org role that already gives
  access to every workspace (``mappings.rules.member_roles_refusal``);
- ``protected_role``: a protected org role is changed or taken away only by a holder of
  that role or the host's operator;
- ``last_owner``: the org keeps a joined holder of the top org role
  (``mappings.rules.top_holder_to_keep``; invited and suspended holders do not count).

A request that cannot be understood raises ``InputError`` naming the field (unknown
role or workspace, not an email); ``NoSuchMember`` and ``NotApplicable`` (an
``InputError`` each) say the member is missing or not in a state the change applies to.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from mappings.authority import Caller, refusal_for_operation
from mappings.directory import identity_key
from mappings.errors import InputError
from mappings.operations import Operation, Plan, Skipped, SkipReason
from mappings.planner import standing_after
from mappings.rolemodel import RoleModel
from mappings.rules import (
    default_org_role_on,
    member_roles_refusal,
    reachable_top_holders,
    top_holder_to_keep,
)
from mappings.state import Member, PlatformState

__all__ = [
    "CHANGE_KINDS",
    "BY_HAND",
    "ChangeKind",
    "ManualChange",
    "NoSuchMember",
    "NotApplicable",
    "plan_manual_change",
    "refusal_field",
]

ChangeKind = Literal["invite", "set", "remove", "resend", "revoke"]
CHANGE_KINDS: tuple[ChangeKind, ...] = ("invite", "set", "remove", "resend", "revoke")
BY_HAND = "changed by hand"
_IDP = "the identity provider manages this member; change its groups instead"
_INPUT_REASONS = ("unknown_role", "one_role_per_workspace", "role_not_on_plan")


class NoSuchMember(InputError):
    """The change names a member the org does not have."""


class NotApplicable(InputError):
    """The member is not in a state the change applies to (already a member, not a
    pending invite)."""


@dataclass(frozen=True, slots=True)
class ManualChange:
    """What an admin asks for. ``set`` of an email the org lacks invites it (the API's
    PUT); ``workspaces`` maps a workspace to the roles wanted there (an empty list takes
    the workspace away; a workspace not named is left as it is)."""

    kind: ChangeKind
    email: str
    org_role: str | None = None
    workspaces: Mapping[str, Sequence[str]] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """The member key (normalised email)."""
        return identity_key(self.email)


def plan_manual_change(
    state: PlatformState,
    model: RoleModel,
    change: ManualChange,
    caller: Caller,
    now: datetime,
) -> Plan:
    """The plan that carries ``change`` out for ``caller``, or an empty plan whose
    ``skipped`` says which rule refused it. ``now`` is the time of the change."""
    del now  # the operations carry no time; apply stamps them
    key = change.key
    if "@" not in key or key.startswith("@") or key.endswith("@"):
        raise InputError(f"{change.email!r} is not an email address", "email")
    members = {m.key: m for m in state.members}
    member = members.get(key)
    ops = _operations(state, model, change, member)
    refused = _refusal(state, model, change, member, ops, caller)
    if refused is not None:
        return Plan(skipped=(refused,))
    ordered = tuple(sorted(ops, key=Operation.sort_key))
    return Plan(operations=ordered, summary=dict(sorted(Counter(o.op for o in ordered).items())))


def refusal_field(skipped: Skipped) -> str:
    """The request field a refusal is about, for the edge's error."""
    match skipped.why:
        case "covered_by_org_role" | "unknown_workspace":
            return f"workspaces.{skipped.workspace}" if skipped.workspace else "org_role"
        case "not_permitted":
            if skipped.workspace is not None:
                return "workspaces"
            return "org_role" if skipped.op in ("invite", "set_org_role") else "email"
        case _:
            return "email"


# operations ------------------------------------------------------------------------


def _operations(
    state: PlatformState, model: RoleModel, change: ManualChange, member: Member | None
) -> list[Operation]:
    key = change.key
    if change.kind in ("remove", "resend", "revoke"):
        if member is None:
            raise NoSuchMember(f"no member {key!r}", "email")
        return _leaving(model, change.kind, member)
    if change.kind == "invite" and member is not None:
        raise NotApplicable(f"{key} is already a member ({member.status})", "email")
    plan = state.organisation.plan
    role = change.org_role or (member.org_role if member else default_org_role_on(model, plan))
    grants = _grants(state, model, role, change.workspaces)
    if member is None:
        invite = Operation(
            "invite", key, org_role=role, notify=model.invites.notify_new, detail=BY_HAND
        )
        adds = [
            Operation("add_to_workspace", key, workspace=ws, roles=roles, notify=False)
            for ws, roles in sorted(grants.items())
            if roles
        ]
        return [invite, *adds]
    ops: list[Operation] = []
    if role != member.org_role:
        ops.append(Operation("set_org_role", key, from_=member.org_role, to=role, detail=BY_HAND))
    for ws, roles in sorted(grants.items()):
        ops.extend(_workspace_op(model, member, ws, roles))
    return ops


def _leaving(model: RoleModel, kind: ChangeKind, m: Member) -> list[Operation]:
    if kind == "resend" or kind == "revoke":
        if m.status != "invited":
            raise NotApplicable(f"{m.key} is not a pending invite ({m.status})", "email")
        if kind == "resend":
            return [Operation("resend_invite", m.key, invited_at=m.invited_at)]
        return [Operation("revoke_invite", m.key, detail=BY_HAND)]
    if m.status == "invited":
        return [Operation("revoke_invite", m.key, detail=BY_HAND)]
    ops = [Operation("remove_from_org", m.key, detail=BY_HAND)]
    if not model.removal_cascades_to_workspaces:
        ops.extend(
            Operation("remove_from_workspace", m.key, workspace=ws, detail=BY_HAND)
            for ws in sorted(m.workspaces)
        )
    return ops


def _grants(
    state: PlatformState, model: RoleModel, role: str, wanted: Mapping[str, Sequence[str]]
) -> dict[str, tuple[str, ...]]:
    """The requested workspace roles, checked for roles and workspaces that exist."""
    if role not in model.org_roles:
        raise InputError(f"must be one of {', '.join(model.org_roles)}", "org_role")
    names = {w.name for w in state.workspaces}
    out: dict[str, tuple[str, ...]] = {}
    for ws, roles in wanted.items():
        if ws not in names:
            raise InputError(f"no workspace named {ws!r}", f"workspaces.{ws}")
        out[ws] = tuple(sorted(set(roles), key=model.workspace_rank))
    refusal = member_roles_refusal(model, role, out, state.organisation.plan)
    if refusal is not None and refusal.reason in _INPUT_REASONS:
        raise InputError(refusal.detail, refusal.field)
    return out


def _workspace_op(model: RoleModel, m: Member, ws: str, roles: tuple[str, ...]) -> list[Operation]:
    current = m.workspaces.get(ws)
    if not roles:
        if not current:
            return []
        return [Operation("remove_from_workspace", m.key, workspace=ws, detail=BY_HAND)]
    if current is None:
        notify = model.invites.notify_existing if m.status != "invited" else False
        return [Operation("add_to_workspace", m.key, workspace=ws, roles=roles, notify=notify)]
    if set(current) == set(roles):
        return []
    before = tuple(sorted(current, key=model.workspace_rank))
    return [Operation("set_workspace_roles", m.key, workspace=ws, from_=before, to=roles)]


# the rules ---------------------------------------------------------------------------


def _refusal(
    state: PlatformState,
    model: RoleModel,
    change: ManualChange,
    member: Member | None,
    ops: list[Operation],
    caller: Caller,
) -> Skipped | None:
    first = ops[0] if ops else Operation("set_org_role", change.key)
    if member is not None and member.origin == "idp" and change.kind != "resend":
        return _skip(first, "idp_managed", _IDP)
    denied = _not_permitted(state, model, ops, caller)
    if denied is not None:
        return denied
    covered = _covered(state, model, change, member, ops)
    if covered is not None:
        return covered
    protected = _protected(model, member, ops, caller)
    if protected is not None:
        return protected
    return _last_owner(state, model, ops)


def _protected(
    model: RoleModel, member: Member | None, ops: list[Operation], caller: Caller
) -> Skipped | None:
    """A protected org role is changed or taken away by a holder of it or the operator."""
    if member is None or member.org_role not in model.protected_org_roles:
        return None
    if caller.operator or caller.role == member.org_role:
        return None
    for op in ops:
        if op.op in ("set_org_role", "remove_from_org", "revoke_invite", "suspend"):
            detail = f"{member.org_role} is protected: only a {member.org_role} changes it"
            return _skip(op, "protected_role", detail)
    return None


def _skip(op: Operation, why: SkipReason, detail: str) -> Skipped:
    return Skipped(op.op, op.user, why, op.workspace, detail)


def _not_permitted(
    state: PlatformState, model: RoleModel, ops: list[Operation], caller: Caller
) -> Skipped | None:
    """The first operation the caller's authority refuses (``mappings.authority``)."""
    for op in ops:
        refusal = refusal_for_operation(model, caller, op, state)
        if refusal is not None:
            return _skip(op, "not_permitted", refusal)
    return None


def _covered(
    state: PlatformState,
    model: RoleModel,
    change: ManualChange,
    member: Member | None,
    ops: list[Operation],
) -> Skipped | None:
    """A workspace role where the org role already gives every workspace: refused, for
    the workspaces asked for and for those the member keeps under a new org role."""
    if change.kind not in ("invite", "set"):
        return None
    plan = state.organisation.plan
    role = change.org_role or (member.org_role if member else default_org_role_on(model, plan))
    asked = {ws: tuple(r) for ws, r in change.workspaces.items()}
    checks = [(asked, "")]
    if member is not None and role != member.org_role:  # the roles the member keeps
        checks.append(({**member.workspaces, **asked}, "; take the workspace roles away first"))
    for grants, hint in checks:
        refusal = member_roles_refusal(model, role, {k: v for k, v in grants.items() if v})
        if refusal is not None:
            ws = refusal.field.removeprefix("workspaces.")
            op = next((o for o in ops if o.workspace == ws), None) or Operation(
                "add_to_workspace", change.key, workspace=ws
            )
            return _skip(op, "covered_by_org_role", refusal.detail + hint)
    return None


def _last_owner(state: PlatformState, model: RoleModel, ops: list[Operation]) -> Skipped | None:
    members = {m.key: m for m in state.members}
    holders = reachable_top_holders(model, members)
    keep = top_holder_to_keep(model, holders, standing_after(members, ops))
    if keep is None:
        return None
    top = model.top_org_role
    op = next(o for o in ops if o.user == keep)
    detail = f"{keep} is the last {top} who has joined; make someone else {top} first"
    return _skip(op, "last_owner", detail)
