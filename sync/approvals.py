"""The approval a reconcile may act on: the org's approved plan, re-read against a fresh plan.

A held plan approved before it could be applied is not stranded when the directory moves
on: the reconcile that plans from the new inputs applies the fresh plan under that approval
while it stays within it (``mappings.approval``), and otherwise holds the fresh plan with a
reason saying that the approval lapsed and why.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from sqlalchemy import select
from sqlalchemy.orm import Session

from mappings.approval import beyond_approval
from mappings.operations import Plan
from mappings.render import describe
from sync.models import SavedPlan

__all__ = ["Approval", "approval_of", "standing_approval"]

_NAMED = 3  # operations named in a lapse reason; the rest are counted


@dataclass(frozen=True, slots=True)
class Approval:
    """The approved plan that covers a fresh plan (``row``), or why none does (``lapsed``)."""

    row: SavedPlan | None = None
    lapsed: str | None = None

    def explain(self, plan: Plan) -> Plan:
        """``plan`` with the lapse in its hold's detail (unchanged when nothing lapsed)."""
        if self.lapsed is None or plan.held is None:
            return plan
        detail = f"{self.lapsed}; {plan.held.detail}" if plan.held.detail else self.lapsed
        return replace(plan, held=replace(plan.held, detail=detail))


def standing_approval(session: Session, org_id: int, plan: Plan) -> Approval:
    """The org's newest approved, unapplied plan, if it covers ``plan``; else why not."""
    row = session.scalar(
        select(SavedPlan)
        .where(SavedPlan.org_id == org_id, SavedPlan.status == "approved")
        .order_by(SavedPlan.id.desc())
        .limit(1)
    )
    return approval_of(row, plan)


def approval_of(row: SavedPlan | None, plan: Plan) -> Approval:
    """Whether the approval of ``row`` (approved, not applied) covers ``plan``."""
    if row is None or plan.held is None:
        return Approval(row)
    extra = beyond_approval(plan, Plan.from_dict(row.body))
    if not extra:
        return Approval(row)
    named = ", ".join(describe(op) for op in extra[:_NAMED])
    more = f" and {len(extra) - _NAMED} more" if len(extra) > _NAMED else ""
    return Approval(
        lapsed=(
            f"the approval of plan {row.id} by {row.approved_by} lapsed: the directory "
            f"changed and this plan also does what plan {row.id} did not ({named}{more})"
        )
    )
