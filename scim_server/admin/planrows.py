"""A plan as rows of the admin pages' diff table: ``+`` adds, ``~`` changes, ``-`` removals,
and skipped lines with their reason. Presentation only; the plan is the core's."""

from __future__ import annotations

from dataclasses import dataclass

from mappings.mapping import RoleMapping
from mappings.operations import Operation, Plan, Reason
from mappings.render import describe, sign, summary_text

__all__ = ["PlanTable", "Row", "consequences", "plan_table"]

_KINDS = {"+": "add", "~": "change", "-": "remove"}


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the table."""

    sign: str
    kind: str  # add | change | remove | skip
    op: str
    user: str
    words: str
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PlanTable:
    """The rows, the counts per sign and the plan's summary line."""

    rows: tuple[Row, ...]
    adds: int
    changes: int
    removals: int
    skipped: int
    summary: str


def _reason_text(reason: Reason, mapping: RoleMapping | None) -> str:
    path = " > ".join(reason.groups)
    if reason.rule < 0:
        return f"role model: {path}" if path else "policy"
    rule = f"rules[{reason.rule}]"
    if mapping is not None and reason.rule < len(mapping.rules):
        rule += f" ({mapping.rules[reason.rule].selector})"
    return f"{rule} via {path}" if path else rule


def _row(op: Operation, mapping: RoleMapping | None) -> Row:
    mark = sign(op.op)
    reasons = tuple(_reason_text(r, mapping) for r in op.reason)
    return Row(mark, _KINDS[mark], op.op, op.user, describe(op), reasons)


def plan_table(plan: Plan, mapping: RoleMapping | None = None) -> PlanTable:
    """The table of ``plan``; ``mapping`` names the rules behind each line."""
    rows = [_row(op, mapping) for op in plan.operations]
    for s in plan.skipped:
        ws = f" in {s.workspace}" if s.workspace else ""
        detail = f": {s.detail}" if s.detail else ""
        rows.append(Row("!", "skip", s.op, s.user, f"{s.op} {s.user}{ws}", (f"{s.why}{detail}",)))
    count = {k: sum(1 for r in rows if r.kind == k) for k in ("add", "change", "remove", "skip")}
    return PlanTable(
        tuple(rows),
        count["add"],
        count["change"],
        count["remove"],
        count["skip"],
        summary_text(plan.summary),
    )


_PHRASES = {
    "remove_from_org": "remove {n} from the org",
    "suspend": "suspend {n}",
    "revoke_invite": "revoke {n} invite(s)",
    "remove_from_workspace": "take {n} out of a workspace",
    "set_org_role": "change {n} org role(s)",
    "set_workspace_roles": "change {n} workspace role(s)",
    "add_to_workspace": "add {n} to a workspace",
    "invite": "invite {n}",
    "resend_invite": "resend {n} invite(s)",
    "reactivate": "reactivate {n}",
    "rename_member": "rename {n}",
    "create_workspace": "create {n} workspace(s)",
}


def consequences(summary: dict[str, int]) -> str:
    """What a plan does in words, removals first: "remove 1,500 from the org, invite 3"."""
    order = {op: i for i, op in enumerate(_PHRASES)}
    parts = [
        _PHRASES.get(op, op + " {n}").format(n=f"{n:,}")
        for op, n in sorted(summary.items(), key=lambda kv: order.get(kv[0], 99))
        if n
    ]
    return ", ".join(parts) if parts else "nothing"
