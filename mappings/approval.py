"""How far an approval reaches: whether a fresh plan stays within an earlier plan's approval.

An approval of a held plan consents to the changes that plan makes to what already exists.
When the directory moves on before it is applied, the plan made from the new inputs is
applied under the same approval only if every change it makes to something existing (a
role lowered or raised, a rename, a removal, a suspension) was in the approved plan: it may
do less, and it may add (invites, new workspaces, workspace grants). Under ``apply:
review`` the reviewer consented to every change, so every change must have been approved.
"""

from __future__ import annotations

from mappings.operations import Operation, Plan

__all__ = ["ADDITIONS", "beyond_approval"]

ADDITIONS = frozenset(
    {"create_workspace", "invite", "resend_invite", "reactivate", "add_to_workspace"}
)

_Key = tuple[object, ...]


def _key(op: Operation) -> _Key:
    """What an operation does, without the why (rules and groups may be renumbered)."""
    return (op.op, op.user, op.workspace, op.org_role, op.from_, op.to, op.roles)


def beyond_approval(fresh: Plan, approved: Plan) -> tuple[Operation, ...]:
    """The operations of ``fresh`` that the approval of ``approved`` does not cover."""
    review = approved.held is not None and approved.held.why == "review"
    covered = {_key(op) for op in approved.operations}
    return tuple(
        op
        for op in fresh.operations
        if (review or op.op not in ADDITIONS) and _key(op) not in covered
    )
