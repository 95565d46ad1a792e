"""The plan as a value: operations, skipped operations, held reasons, a fingerprint.

The JSON shape (docs/architecture.md section 6) is a public format: ``Plan.to_dict`` is its single
writer and ``Plan.from_dict`` its single reader.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, TypeGuard, assert_never, get_args

from mappings.errors import InputError
from mappings.rolemodel import RoleModel
from mappings.state import format_time, parse_time

__all__ = [
    "IDENTITY_CHANGE",
    "LOSS_KINDS",
    "OP_KINDS",
    "SKIP_REASONS",
    "Held",
    "HeldWhy",
    "LossKind",
    "OpKind",
    "Operation",
    "Plan",
    "Reason",
    "SkipReason",
    "Skipped",
    "is_op_kind",
    "is_skip_reason",
    "loss_kind",
]

# The order operations are listed and applied in: create workspaces before granting
# into them, renames before anything keyed by the new email, removals last.
OpKind = Literal[
    "create_workspace",
    "rename_member",
    "invite",
    "resend_invite",
    "reactivate",
    "set_org_role",
    "add_to_workspace",
    "set_workspace_roles",
    "remove_from_workspace",
    "suspend",
    "revoke_invite",
    "remove_from_org",
]
OP_KINDS: tuple[OpKind, ...] = get_args(OpKind)
REMOVAL_KINDS: tuple[OpKind, ...] = (
    "remove_from_org",
    "revoke_invite",
    "suspend",
    "remove_from_workspace",
)

# What a member can lose, in the order summaries list them; ``max_removals`` budgets them all.
LossKind = Literal["removal", "suspension", "demotion", "workspace", "rename", "identity_change"]
LOSS_KINDS: tuple[LossKind, ...] = get_args(LossKind)
# The operations that may be a loss (``loss_kind`` decides), for reading losses back.
LOSS_OPS: tuple[OpKind, ...] = (
    *REMOVAL_KINDS,
    "set_org_role",
    "set_workspace_roles",
    "rename_member",
)
# The detail of a rename whose new address is the IdP's user name because it sent no email
# (Graph's ``mail`` gone missing): reported as an identity change, not an ordinary rename.
IDENTITY_CHANGE = "identity change: the IdP sent no email, so its user name replaces the address"

SkipReason = Literal[
    "protected_role",
    "last_owner",
    "not_permitted",
    "manual_member",
    "covered_by_org_role",
    "plan_limit",
    "credit_limit",
    "unknown_workspace",
    "incomplete_snapshot",
    "identity_conflict",
    "idp_managed",
    "role_not_on_plan",
]
SKIP_REASONS: tuple[SkipReason, ...] = get_args(SkipReason)

# Why a plan waits for an admin.
HeldWhy = Literal["max_removals", "review", "last_owner"]


def is_op_kind(value: object) -> TypeGuard[OpKind]:
    """Whether ``value`` names a kind of operation."""
    return value in OP_KINDS


def is_skip_reason(value: object) -> TypeGuard[SkipReason]:
    """Whether ``value`` names a reason an operation is skipped."""
    return value in SKIP_REASONS


@dataclass(frozen=True, slots=True, order=True)
class Reason:
    """Why: the mapping rule index and the group path (outer group first) behind a grant."""

    rule: int
    groups: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"rule": self.rule, "groups": list(self.groups)}


@dataclass(frozen=True, slots=True)
class Operation:
    """One change; only the fields of its ``op`` are set (docs/architecture.md section 6.1)."""

    op: OpKind
    user: str = ""  # normalised email; empty for create_workspace
    workspace: str | None = None
    org_role: str | None = None  # invite
    notify: bool | None = None  # invite
    from_: str | tuple[str, ...] | None = None  # set_org_role, set_workspace_roles, rename
    to: str | tuple[str, ...] | None = None
    roles: tuple[str, ...] | None = None  # add_to_workspace
    credits: int | None = None  # create_workspace
    invited_at: datetime | None = None  # resend_invite
    idp_id: str | None = None  # invite / rename_member: the IdP's immutable id
    reason: tuple[Reason, ...] = ()
    detail: str | None = None  # human words for an operation no rule asks for (removals)

    def sort_key(self) -> tuple[int, str, str]:
        """Stable order: op kind, then user, then workspace."""
        return (OP_KINDS.index(self.op), self.user, self.workspace or "")

    def to_dict(self) -> dict[str, Any]:
        """JSON form with only the fields that are set."""
        out: dict[str, Any] = {"op": self.op}
        if self.user:
            out["user"] = self.user
        if self.workspace is not None:
            out["workspace"] = self.workspace
        for name, value in (
            ("org_role", self.org_role),
            ("notify", self.notify),
            ("from", self.from_),
            ("to", self.to),
            ("roles", self.roles),
            ("credits", self.credits),
            ("idp_id", self.idp_id),
        ):
            if value is not None:
                out[name] = list(value) if isinstance(value, tuple) else value
        if self.invited_at is not None:
            out["invited_at"] = format_time(self.invited_at)
        out["reason"] = [r.to_dict() for r in self.reason]
        if self.detail is not None:
            out["detail"] = self.detail
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], where: str = "operation") -> Operation:
        """Read the JSON form back."""
        kind = d.get("op") if isinstance(d, Mapping) else None
        if not is_op_kind(kind):
            raise InputError(f"'op' must be one of {', '.join(OP_KINDS)}", where)

        def seq(v: Any) -> Any:
            return tuple(v) if isinstance(v, list) else v

        reasons = tuple(
            Reason(int(r["rule"]), tuple(r.get("groups", ()))) for r in d.get("reason", ())
        )
        return cls(
            op=kind,
            user=d.get("user", ""),
            workspace=d.get("workspace"),
            org_role=d.get("org_role"),
            notify=d.get("notify"),
            from_=seq(d.get("from")),
            to=seq(d.get("to")),
            roles=seq(d.get("roles")),
            credits=d.get("credits"),
            invited_at=parse_time(d.get("invited_at"), f"{where}.invited_at"),
            idp_id=d.get("idp_id"),
            reason=reasons,
            detail=d.get("detail"),
        )


def loss_kind(op: Operation, model: RoleModel, status: str | None) -> LossKind | None:
    """What ``op`` takes from a member whose status before it is ``status``, or None."""
    match op.op:
        case "remove_from_org" | "revoke_invite":
            return "removal"  # a pending invite withdrawn is access taken away too
        case "suspend":
            return "suspension"
        case "remove_from_workspace":
            return "workspace"
        case "set_org_role":
            lower = model.org_rank(str(op.to)) < model.org_rank(str(op.from_))
            return "demotion" if lower else None
        case "set_workspace_roles":
            return "workspace" if _lowered(_roles(op.from_), _roles(op.to), model) else None
        case "rename_member":
            if status != "joined":
                return None
            # a joined member signs in with the address: renaming it locks them out until
            # they sign in again under the new one
            return "identity_change" if op.detail == IDENTITY_CHANGE else "rename"
        case "create_workspace" | "invite" | "resend_invite" | "reactivate" | "add_to_workspace":
            return None
        case _:
            assert_never(op.op)


def _roles(value: str | tuple[str, ...] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else value


def _lowered(before: tuple[str, ...], after: tuple[str, ...], model: RoleModel) -> bool:
    """A workspace grant is lowered when its highest role drops, or a role goes away and
    nothing higher comes in its place."""
    top_before = max((model.workspace_rank(r) for r in before), default=-1)
    top_after = max((model.workspace_rank(r) for r in after), default=-1)
    if top_after != top_before:
        return top_after < top_before
    return bool(set(before) - set(after))


@dataclass(frozen=True, slots=True)
class Skipped:
    """An operation the mapping asked for but the role model or policy refused."""

    op: OpKind
    user: str
    why: SkipReason
    workspace: str | None = None
    detail: str | None = None  # human words, e.g. "org role editor covers workspace viewer"

    def sort_key(self) -> tuple[str, str, str, str]:
        """Stable order."""
        return (self.op, self.user, self.workspace or "", self.why)

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        out: dict[str, Any] = {"op": self.op, "user": self.user}
        if self.workspace is not None:
            out["workspace"] = self.workspace
        out["why"] = self.why
        if self.detail is not None:
            out["detail"] = self.detail
        return out


@dataclass(frozen=True, slots=True)
class Held:
    """Why a plan waits for an admin: e.g. losses over ``max_removals``.

    ``removals`` is the number of people who would lose something, ``losses`` the same
    by kind (``LOSS_KINDS``), ``earlier`` the losses already applied within the policy's
    ``removal_window``; together they are more than ``limit``."""

    why: HeldWhy
    detail: str = ""
    removals: int | None = None
    limit: int | None = None
    losses: Mapping[LossKind, int] | None = None
    earlier: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        out: dict[str, Any] = {"why": self.why, "detail": self.detail}
        if self.removals is not None:
            out["removals"] = self.removals
        if self.limit is not None:
            out["limit"] = self.limit
        if self.losses is not None:
            out["losses"] = dict(self.losses)
        if self.earlier is not None:
            out["earlier"] = self.earlier
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Held:
        """Read the JSON form back."""
        losses = d.get("losses")
        return cls(
            d["why"],
            d.get("detail", ""),
            d.get("removals"),
            d.get("limit"),
            dict(losses) if isinstance(losses, Mapping) else None,
            d.get("earlier"),
        )


@dataclass(frozen=True, slots=True)
class Plan:
    """Operations (sorted), skipped, held, summary counts and an input fingerprint."""

    operations: tuple[Operation, ...] = ()
    skipped: tuple[Skipped, ...] = ()
    held: Held | None = None
    fingerprint: str = ""
    warnings: tuple[str, ...] = ()  # e.g. two directory users with one email
    summary: Mapping[str, int] = field(default_factory=dict)

    @property
    def is_empty(self) -> bool:
        """True when there is nothing to do."""
        return not self.operations

    def to_dict(self) -> dict[str, Any]:
        """The public JSON shape."""
        return {
            "operations": [o.to_dict() for o in self.operations],
            "skipped": [s.to_dict() for s in self.skipped],
            "held": self.held.to_dict() if self.held else None,
            "summary": dict(sorted(self.summary.items())),
            "warnings": list(self.warnings),
            "fingerprint": self.fingerprint,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Plan:
        """Read a saved plan file."""
        if not isinstance(d, Mapping) or not isinstance(d.get("operations"), list):
            raise InputError("a plan needs an 'operations' list", "$")
        ops = tuple(
            Operation.from_dict(o, f"operations[{i}]") for i, o in enumerate(d["operations"])
        )
        skipped = tuple(
            Skipped(s["op"], s["user"], s["why"], s.get("workspace"), s.get("detail"))
            for s in d.get("skipped", [])
        )
        held_raw = d.get("held")
        held = Held.from_dict(held_raw) if isinstance(held_raw, Mapping) else None
        return cls(
            operations=ops,
            skipped=skipped,
            held=held,
            fingerprint=str(d.get("fingerprint", "")),
            warnings=tuple(d.get("warnings", ())),
            summary=dict(d.get("summary", {})),
        )
