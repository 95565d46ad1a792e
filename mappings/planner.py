"""The plan: the operations that turn the actual state into the desired one.

``plan_changes`` is the decision; it honours the invariants of docs/architecture.md
section 4.3 (last owner, protected roles, the acting role, covered workspace grants, plan
and credit limits) and records every refused operation in ``skipped`` with its reason.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import assert_never

from mappings.directory import Directory, identity_key
from mappings.fingerprint import fingerprint
from mappings.mapping import Policy, RoleMapping
from mappings.operations import (
    IDENTITY_CHANGE,
    LOSS_KINDS,
    Held,
    LossKind,
    Operation,
    OpKind,
    Plan,
    Reason,
    Skipped,
    SkipReason,
    is_skip_reason,
    loss_kind,
)
from mappings.resolve import Desired, DesiredUser, resolve
from mappings.rolemodel import RoleModel
from mappings.rules import (
    new_workspace_refusal,
    org_roles_on_plan,
    reachable_top_holders,
    role_not_on_plan,
    top_holder_to_keep,
)
from mappings.state import Member, PlatformState

__all__ = ["IMPLICIT_REASON", "make_plan", "plan_changes", "standing_after"]

IMPLICIT_REASON = Reason(-1, ("the org's only workspace",))
_INACTIVE = "deactivated in the IdP"
_EXPIRED = "the invite expired and no rule maps this user"


def make_plan(
    directory: Directory,
    state: PlatformState,
    mapping: RoleMapping,
    role_model: RoleModel,
    *,
    now: datetime,
    users: Collection[str] | None = None,
    complete: bool = True,
    earlier_losses: int = 0,
    member_count: int | None = None,
) -> Plan:
    """Resolve, plan and fingerprint. ``users`` restricts the plan to these keys or IdP ids;
    ``complete=False`` (a snapshot in doubt) turns every removal into a skipped one;
    ``earlier_losses``: losses already applied to the org within the policy's window;
    ``member_count``: the org's members when ``state`` holds only some of them (the scoped
    inputs of ``mappings.scope``), for a percentage ``max_removals``."""
    desired = resolve(directory, mapping, role_model)
    plan = plan_changes(
        desired,
        state,
        mapping.policy,
        role_model,
        now=now,
        users=users,
        complete=complete,
        earlier_losses=earlier_losses,
        member_count=member_count,
    )
    return replace(plan, fingerprint=fingerprint(directory, state, mapping, role_model))


def plan_changes(
    desired: Desired,
    state: PlatformState,
    policy: Policy,
    role_model: RoleModel,
    *,
    now: datetime,
    users: Collection[str] | None = None,
    complete: bool = True,
    earlier_losses: int = 0,
    member_count: int | None = None,
) -> Plan:
    """The plan from a desired state and the actual state (no fingerprint)."""
    planner = _Planner(desired, state, policy, role_model, now, users, complete, earlier_losses)
    if member_count is not None:
        planner.member_count = member_count
    return planner.run()


@dataclass(slots=True)
class _Pending:
    """A user whose workspace grants are decided once workspaces and owners are settled."""

    key: str
    desired: DesiredUser
    member: Member | None
    org_role: str  # the org role the user has after this plan
    manual: bool
    ops: list[Operation] = field(default_factory=list)


_LOSES_TOP: tuple[OpKind, ...] = ("set_org_role", "suspend", "remove_from_org")


def standing_after(
    members: Mapping[str, Member], ops: Iterable[Operation]
) -> dict[str, tuple[str, str]]:
    """(org role, status) after ``ops`` of every member an operation touches (the input of
    ``mappings.rules.top_holder_to_keep``)."""
    after: dict[str, tuple[str, str]] = {}
    for op in ops:
        m = members.get(op.user)
        if m is None:
            continue
        role, status = after.get(op.user, (m.org_role, m.status))
        match op.op:
            case "set_org_role":
                role = str(op.to)
            case "reactivate":
                status = "joined"
            case "suspend":
                status = "suspended"
            case "remove_from_org" | "revoke_invite":
                status = "gone"
            case (
                "create_workspace"
                | "rename_member"
                | "invite"
                | "resend_invite"
                | "add_to_workspace"
                | "set_workspace_roles"
                | "remove_from_workspace"
            ):
                pass  # neither the org role nor the status changes
            case _:
                assert_never(op.op)
        after[op.user] = (role, status)
    return after


class _Planner:
    def __init__(
        self,
        desired: Desired,
        state: PlatformState,
        policy: Policy,
        model: RoleModel,
        now: datetime,
        users: Collection[str] | None,
        complete: bool,
        earlier_losses: int = 0,
    ) -> None:
        self.d, self.state, self.policy, self.model, self.now = desired, state, policy, model, now
        self.complete = complete
        self.earlier_losses = earlier_losses
        self.member_count = len(state.members)
        self.only = None if users is None else {identity_key(u) for u in users} | set(users)
        self.members: dict[str, Member] = {m.key: m for m in state.members}
        self.ops: list[Operation] = []
        self.skipped: list[Skipped] = []
        self.pending: list[_Pending] = []
        self.workspaces = {w.name: w.credits for w in state.workspaces}
        self.missing_ws: dict[str, SkipReason] = {}  # workspace -> why it is not there
        self._covering: dict[str, bool] = {}
        self.inactive_ids = {
            uid for d in desired.users.values() if not d.active for uid in d.idp_ids
        }
        self.conflicted = {uid: key for key, ids in desired.conflicts.items() for uid in ids}
        self.last_owner_hold: str | None = None
        self.plan_roles = frozenset(org_roles_on_plan(model, state.organisation.plan))
        self._rule_ws: frozenset[str] | None = None

    def run(self) -> Plan:
        self._renames()
        keys = sorted(self.d.users.keys() | self.members.keys() | self.d.conflicts.keys())
        if self.only is not None:
            keys = [k for k in keys if self._selected(k)]
        desired, members = self.d.users, self.members
        # a joined, active member whose roles already match needs nothing: skip the work
        # (not with implicit workspace membership, which depends on the final workspaces)
        shortcut = not self.model.implicit_single_workspace_membership
        implies = self.model.org_role_implies  # an implied role may take explicit ones away
        for key in keys:
            d, m = desired.get(key), members.get(key)
            if (
                shortcut
                and d is not None
                and m is not None
                and m.status == "joined"
                and d.org_role == m.org_role
                and d.user.active
                and m.workspaces == d.workspaces
                and not (m.workspaces and m.org_role in implies)
            ):
                continue
            self._user(key, d, m)
        self._last_owner()
        self._create_workspaces()
        for p in self.pending:
            self._workspace_ops(p)
        return self._finish()

    # selection and helpers -------------------------------------------------

    def _selected(self, key: str) -> bool:
        if self.only is None or key in self.only:
            return True
        d, m = self.d.users.get(key), self.members.get(key)
        ids = set(d.idp_ids) if d else set(self.d.conflicts.get(key, ()))
        if m is not None and m.idp_id:
            ids.add(m.idp_id)
        return bool(ids & self.only)

    def _covers(self, org_role: str) -> bool:
        """Whether ``org_role`` already gives workspace access (memoised per role)."""
        found = self._covering.get(org_role)
        if found is None:
            found = self._covering[org_role] = self.model.covers_workspaces(org_role)
        return found

    def _manual(self, m: Member | None) -> bool:
        return m is not None and m.origin == "manual" and not self.policy.manage_manual_members

    def _permitted(self, *roles: str) -> bool:
        return all(self.model.may_manage(self.policy.acting_role, r) for r in roles)

    def _skip(self, op: Operation, why: SkipReason, detail: str | None = None) -> None:
        self.skipped.append(Skipped(op.op, op.user, why, op.workspace, detail))

    def _emit(self, op: Operation, manual: bool) -> bool:
        if manual:
            self._skip(op, "manual_member", "added by hand; the mapping leaves it alone")
            return False
        self.ops.append(op)
        return True

    # renames -------------------------------------------------------------

    def _renames(self) -> None:
        """Same IdP id, new email: rename the member instead of remove + invite."""
        by_idp = {m.idp_id: m for m in self.state.members if m.idp_id}
        for key in sorted(self.d.users.keys() - self.members.keys()):
            d = self.d.users[key]
            if not d.active or not self._selected(key):
                continue
            for uid in d.idp_ids:
                m = by_idp.get(uid)
                if m is None or m.key in self.d.users or self.members.get(m.key) is not m:
                    continue
                # no email from the IdP: the key is its user name (Graph's UPN)
                detail = None if d.user.emails else IDENTITY_CHANGE
                op = Operation(
                    "rename_member", key, from_=m.email, to=key, idp_id=uid, detail=detail
                )
                if self._emit(op, self._manual(m)):
                    del self.members[m.key]
                    self.members[key] = replace(m, email=key)
                break

    # org-level decisions -------------------------------------------------

    def _user(self, key: str, d: DesiredUser | None, m: Member | None) -> None:
        manual = self._manual(m)
        claimed = key if key in self.d.conflicts else None
        if claimed is None and d is None and m is not None and m.idp_id is not None:
            claimed = self.conflicted.get(m.idp_id)  # the member's IdP user is in a conflict
        if claimed is not None:
            self._conflict(key, claimed, m)
        elif d is None:
            if m is not None:
                self._not_desired(key, m, manual)
        elif not d.active:
            if m is not None:
                self._deactivated(key, m, manual)
        elif m is None:
            self._invite(key, d)
        else:
            self._existing(key, d, m, manual)

    def _conflict(self, key: str, claimed: str, m: Member | None) -> None:
        """Two directory users claim one identity: provision neither, change nothing."""
        ids = ", ".join(self.d.conflicts[claimed])
        left = "no one is invited" if m is None else "the member is left as is"
        self._skip(
            Operation("invite" if m is None else "set_org_role", key),
            "identity_conflict",
            f"directory users {ids} claim {claimed}; {left} until the IdP tells them apart",
        )

    def _not_desired(self, key: str, m: Member, manual: bool) -> None:
        if m.idp_id is not None and m.idp_id in self.inactive_ids:
            self._deactivated(key, m, manual)  # deactivated, and their email changed too
            return
        if self.policy.unmapped == "keep" and key in self.d.unmapped:
            if m.status == "invited" and self._age_over(m, self.model.invites.expire_after_days):
                self._removal(Operation("revoke_invite", key, detail=_EXPIRED), m, manual)
            return
        op: OpKind = "revoke_invite" if m.status == "invited" else "remove_from_org"
        why = self._why_not_desired(key)
        self._removal(Operation(op, key, detail=why), m, manual)
        if op == "remove_from_org" and not self.model.removal_cascades_to_workspaces:
            for ws in sorted(m.workspaces):
                self._removal(
                    Operation("remove_from_workspace", key, workspace=ws, detail=why), m, manual
                )

    def _why_not_desired(self, key: str) -> str:
        if key in self.d.unmapped:
            return "no rule maps this user"
        if key in self.d.out_of_scope:
            return "outside the mapping's scope groups"
        return "not in the directory"

    def _deactivated(self, key: str, m: Member, manual: bool) -> None:
        """A deactivated person loses access whatever their role: a protected role is no
        shield (the last joined holder of the top role holds the plan, ``_last_owner``)."""
        if m.status == "invited":
            self._removal(Operation("revoke_invite", key, detail=_INACTIVE), m, manual, True)
        elif self.model.on_deactivate == "remove":
            self._removal(Operation("remove_from_org", key, detail=_INACTIVE), m, manual, True)
        elif m.status != "suspended":
            self._removal(Operation("suspend", key, detail=_INACTIVE), m, manual, True)

    def _removal(self, op: Operation, m: Member, manual: bool, inactive: bool = False) -> None:
        if manual:
            self._emit(op, manual)
        elif not self._permitted(m.org_role):
            self._skip(
                op,
                "not_permitted",
                f"acting role {self.policy.acting_role} may not manage {m.org_role}",
            )
        elif (
            not inactive
            and m.org_role in self.model.protected_org_roles
            and not self.policy.allow_protected
        ):
            self._skip(op, "protected_role", f"{m.org_role} is protected")
        elif not self.complete:
            self._skip(op, "incomplete_snapshot", "the directory snapshot may be incomplete")
        else:
            self.ops.append(op)

    def _not_on_plan(self, op: Operation, role: str) -> bool:
        """Skip ``op`` when the org's commercial plan has no ``role``."""
        if role in self.plan_roles:
            return False
        plan = self.state.organisation.plan
        self._skip(op, "role_not_on_plan", role_not_on_plan(self.model, role, plan))
        return True

    def _invite(self, key: str, d: DesiredUser) -> None:
        op = Operation(
            "invite",
            key,
            org_role=d.org_role,
            notify=self.model.invites.notify_new,
            idp_id=d.user.id,
            reason=d.reasons_for(d.org_role),
        )
        if self._not_on_plan(op, d.org_role):
            return
        if not self._permitted(d.org_role):
            self._skip(
                op,
                "not_permitted",
                f"acting role {self.policy.acting_role} may not assign {d.org_role}",
            )
            return
        self.ops.append(op)
        self.pending.append(_Pending(key, d, None, d.org_role, False))

    def _existing(self, key: str, d: DesiredUser, m: Member, manual: bool) -> None:
        if m.status == "suspended":
            op = Operation("reactivate", key, reason=d.reasons_for(d.org_role))
            if manual:
                self._emit(op, manual)
            elif self._permitted(m.org_role):
                self.ops.append(op)
            else:
                self._skip(op, "not_permitted")
        elif m.status == "invited" and self._resend_due(m):
            self._emit(Operation("resend_invite", key, invited_at=m.invited_at), manual)
        role = m.org_role
        if d.org_role != m.org_role:
            op = Operation(
                "set_org_role",
                key,
                from_=m.org_role,
                to=d.org_role,
                reason=d.reasons_for(d.org_role),
            )
            if manual:
                self._emit(op, manual)
            elif self._not_on_plan(op, d.org_role):
                pass
            elif not self._permitted(m.org_role, d.org_role):
                self._skip(
                    op,
                    "not_permitted",
                    f"acting role {self.policy.acting_role} may "
                    f"not change {m.org_role} to {d.org_role}",
                )
            elif m.org_role in self.model.protected_org_roles and not self.policy.allow_protected:
                self._skip(op, "protected_role", f"{m.org_role} is protected")
            else:
                self.ops.append(op)
                role = d.org_role
        self.pending.append(_Pending(key, d, m, role, manual))

    def _age_over(self, m: Member, days: int | None) -> bool:
        if days is None:
            return False
        if m.invited_at is None:
            return True
        return self.now - m.invited_at >= timedelta(days=days)

    def _resend_due(self, m: Member) -> bool:
        invites = self.model.invites
        return self._age_over(m, invites.resend_after_days) or self._age_over(
            m, invites.expire_after_days
        )

    # the last owner -----------------------------------------------------------

    def _last_owner(self) -> None:
        """Never leave the org without a joined holder of the top org role."""
        holders = reachable_top_holders(self.model, self.members)
        if not holders:
            return
        keep = top_holder_to_keep(self.model, holders, standing_after(self.members, self.ops))
        if keep is None:
            return
        top = self.model.top_org_role
        if any(o.user == keep and o.detail == _INACTIVE for o in self.ops):
            # the last joined holder is deactivated in the IdP: an admin decides
            self.last_owner_hold = (
                f"{keep}, the last {top} who has joined, is deactivated in the IdP; "
                f"make someone else {top} first, or approve to leave the org without one"
            )
            return
        for op in [o for o in self.ops if o.user == keep and o.op in _LOSES_TOP]:
            self.ops.remove(op)
            self._skip(op, "last_owner", f"the last {self.model.top_org_role} stays")
        for p in self.pending:
            if p.key == keep and p.member is not None:
                p.org_role = p.member.org_role

    # workspaces ----------------------------------------------------------------

    def _create_workspaces(self) -> None:
        wanted: dict[str, int | None] = {}  # workspace -> credits if a rule may create it
        for p in self.pending:
            if p.desired.workspaces.keys() <= self.workspaces.keys() or self._covers(p.org_role):
                continue
            for g in p.desired.grants:
                if g.workspace is not None and g.workspace not in self.workspaces:
                    credits = wanted.get(g.workspace)
                    if g.create:
                        wanted[g.workspace] = max(credits or 0, g.credits)
                    else:
                        wanted.setdefault(g.workspace, None)
        org = self.state.organisation
        for ws, credits in sorted(wanted.items()):
            if credits is None:
                self.missing_ws[ws] = "unknown_workspace"
                continue
            op = Operation("create_workspace", workspace=ws, credits=credits)
            count, used = len(self.workspaces), sum(self.workspaces.values())
            refusal = new_workspace_refusal(self.model, org.plan, count, used, credits, org.credits)
            if refusal is None:
                self.ops.append(op)
                self.workspaces[ws] = credits
            elif is_skip_reason(refusal.reason):
                self.missing_ws[ws] = refusal.reason
                self._skip(op, refusal.reason, refusal.detail)
            else:  # new_workspace_refusal refuses only for a plan or credit limit
                raise ValueError(f"not a reason to skip: {refusal.reason}")

    def _rule_workspaces(self) -> frozenset[str]:
        """Every workspace some rule grants someone (memoised)."""
        if self._rule_ws is None:
            self._rule_ws = frozenset(
                g.workspace
                for d in self.d.users.values()
                for g in d.grants
                if g.workspace is not None
            )
        return self._rule_ws

    def _wanted(self, p: _Pending) -> Mapping[str, tuple[str, ...]]:
        """The workspace roles the user should hold. With implicit single-workspace
        membership, a person in an org of one workspace is a member of it; that member
        role is kept when more workspaces appear, in any workspace no rule grants."""
        if not self.model.implicit_single_workspace_membership:
            return p.desired.workspaces
        base = self.model.workspace_roles[0]
        implicit: set[str] = set()
        if len(self.workspaces) == 1:
            implicit.update(self.workspaces)
        if p.member is not None:
            ruled = self._rule_workspaces()
            implicit.update(
                ws
                for ws, roles in p.member.workspaces.items()
                if base in roles and ws in self.workspaces and ws not in ruled
            )
        if not implicit:
            return p.desired.workspaces
        wanted = dict(p.desired.workspaces)
        for ws in implicit:
            roles = set(wanted.get(ws, ())) | {base}
            wanted[ws] = tuple(sorted(roles, key=self.model.workspace_rank))
        return wanted

    def _ws_reason(self, p: _Pending, ws: str, roles: tuple[str, ...]) -> tuple[Reason, ...]:
        reasons = {r for role in roles for r in p.desired.reasons_for(role, ws)}
        if not reasons:
            reasons.add(IMPLICIT_REASON)
        return tuple(sorted(reasons))

    def _workspace_ops(self, p: _Pending) -> None:
        if not self.model.workspace_roles:
            return
        wanted = self._wanted(p)
        current = p.member.workspaces if p.member else {}
        if current and p.org_role in self.model.org_role_implies:
            self._below_implied(p, current)
        if current == wanted:
            return  # nothing to do: the common case, checked at C speed
        if self._covers(p.org_role):
            for ws, roles in sorted(wanted.items()):
                if set(current.get(ws, ())) != set(roles):
                    op = Operation("add_to_workspace", p.key, workspace=ws, roles=roles)
                    self._skip(
                        op,
                        "covered_by_org_role",
                        f"org role {p.org_role} already gives access to {ws}",
                    )
            return
        notify = self.model.invites.notify_existing if p.member else False
        for ws in sorted(wanted):
            roles, cur = wanted[ws], current.get(ws)
            if cur is not None and (cur == roles or set(cur) == set(roles)):
                continue
            reason = self._ws_reason(p, ws, roles)
            if cur is None:
                op = Operation(
                    "add_to_workspace",
                    p.key,
                    workspace=ws,
                    roles=roles,
                    notify=notify,
                    reason=reason,
                )
                changed: tuple[str, ...] = roles
            else:
                op = Operation(
                    "set_workspace_roles",
                    p.key,
                    workspace=ws,
                    from_=tuple(sorted(cur, key=self.model.workspace_rank)),
                    to=roles,
                    reason=reason,
                )
                changed = (*cur, *roles)
            self._ws_op(op, p, changed)
        for ws in sorted(current.keys() - wanted.keys()) if current else ():
            op = Operation(
                "remove_from_workspace", p.key, workspace=ws, detail="no rule grants this workspace"
            )
            self._ws_op(op, p, current[ws])

    def _below_implied(self, p: _Pending, current: Mapping[str, tuple[str, ...]]) -> None:
        """An org role that implies a workspace role (aihub's admin is manager in every
        workspace) never also holds a lower explicit one: take the explicit one away."""
        implied = self.model.org_role_implies.get(p.org_role)
        if implied is None:
            return
        rank = self.model.workspace_rank(implied)
        for ws, roles in sorted(current.items()):
            if any(self.model.workspace_rank(r) < rank for r in roles):
                detail = f"org role {p.org_role} is {implied} in every workspace"
                op = Operation("remove_from_workspace", p.key, workspace=ws, detail=detail)
                self._ws_op(op, p, roles)

    def _ws_op(self, op: Operation, p: _Pending, roles: tuple[str, ...]) -> None:
        if op.workspace in self.missing_ws and op.op != "remove_from_workspace":
            self._skip(
                op, self.missing_ws[op.workspace], f"workspace {op.workspace} does not exist"
            )
        elif p.manual:
            self._emit(op, True)
        elif not self._permitted(*roles):
            self._skip(
                op,
                "not_permitted",
                f"acting role {self.policy.acting_role} may not "
                f"manage {', '.join(sorted(set(roles)))}",
            )
        elif op.op == "remove_from_workspace" and not self.complete:
            self._skip(op, "incomplete_snapshot", "the directory snapshot may be incomplete")
        else:
            self.ops.append(op)

    # the result ---------------------------------------------------------------

    def _finish(self) -> Plan:
        ops = tuple(sorted(self.ops, key=Operation.sort_key))
        skipped = tuple(sorted(self.skipped, key=Skipped.sort_key))
        return Plan(
            operations=ops,
            skipped=skipped,
            held=self._held(ops),
            warnings=self.d.warnings,
            summary=dict(sorted(Counter(o.op for o in ops).items())),
        )

    def _held(self, ops: tuple[Operation, ...]) -> Held | None:
        losses = self._losses(ops)
        lost = len(set().union(*losses.values())) if losses else 0
        if self.last_owner_hold is not None:
            return Held("last_owner", self.last_owner_hold)
        limit = self.policy.removal_limit(self.member_count)
        if limit is not None and lost and lost + self.earlier_losses > limit:
            return self._over_budget(lost, limit, {k: len(v) for k, v in losses.items()})
        if self.policy.apply == "review" and ops:
            return Held("review", "the mapping's policy asks for an admin's approval")
        return None

    def _losses(self, ops: tuple[Operation, ...]) -> dict[LossKind, set[str]]:
        """The people who lose something, by kind of loss (``loss_kind``)."""
        status = {m.email: m.status for m in self.state.members}
        status.update((m.key, m.status) for m in self.state.members)
        found: dict[LossKind, set[str]] = {}
        for op in ops:
            before = status.get(str(op.from_) if op.op == "rename_member" else op.user)
            kind = loss_kind(op, self.model, before)
            if kind is not None:
                found.setdefault(kind, set()).add(op.user)
        return {k: found[k] for k in LOSS_KINDS if k in found}

    def _over_budget(self, lost: int, limit: int, by_kind: dict[LossKind, int]) -> Held:
        kinds = ", ".join(f"{n} {_loss_words(k)}" for k, n in by_kind.items())
        detail = f"{lost} user(s) lose access or a role ({kinds})"
        if self.earlier_losses:
            window = self.policy.removal_window
            detail += f"; with {self.earlier_losses} already applied in the last {window}"
            detail += f" that is {lost + self.earlier_losses}"
        detail += f"; max_removals {self.policy.max_removals} allows {limit}"
        return Held(
            "max_removals",
            detail,
            removals=lost,
            limit=limit,
            losses=by_kind,
            earlier=self.earlier_losses or None,
        )


def _loss_words(kind: LossKind) -> str:
    match kind:
        case "removal":
            return "removed"
        case "suspension":
            return "suspended"
        case "demotion":
            return "demoted"
        case "workspace":
            return "losing a workspace role"
        case "rename":
            return "renamed"
        case "identity_change":
            return "identity changes (email replaced by the IdP user name)"
        case _:
            assert_never(kind)
