"""What an approval covers: changes to what exists must have been approved; additions not."""

from __future__ import annotations

from mappings.approval import beyond_approval
from mappings.operations import Held, Operation, Plan, Reason

HELD = Held("max_removals", "2 user(s) lose access")
REVOKE_A = Operation("revoke_invite", "a@acme.com")
REVOKE_B = Operation("revoke_invite", "b@acme.com")
DEMOTE_C = Operation("set_org_role", "c@acme.com", from_="editor", to="viewer")
INVITE_D = Operation("invite", "d@acme.com", org_role="viewer", notify=True, idp_id="00d")


def plan(*ops: Operation, held: Held = HELD) -> Plan:
    return Plan(operations=ops, held=held)


def test_a_fresh_plan_that_takes_away_less_and_adds_is_within_the_approval() -> None:
    """Fewer removals and a new invite: nothing beyond the approval."""
    approved = plan(REVOKE_A, REVOKE_B)
    assert beyond_approval(plan(REVOKE_A, INVITE_D), approved) == ()


def test_a_removal_or_role_change_the_approved_plan_lacked_is_beyond_it() -> None:
    """Another removal and a demotion are named; the reasons of an operation do not matter."""
    approved = plan(Operation("revoke_invite", "a@acme.com", reason=(Reason(1),)), REVOKE_B)
    fresh = plan(REVOKE_A, REVOKE_B, DEMOTE_C, Operation("remove_from_org", "e@acme.com"))
    assert beyond_approval(fresh, approved) == (
        DEMOTE_C,
        Operation("remove_from_org", "e@acme.com"),
    )


def test_a_demotion_to_another_role_than_approved_is_beyond_it() -> None:
    """Approving editor -> viewer does not approve editor -> member."""
    other = Operation("set_org_role", "c@acme.com", from_="editor", to="member")
    assert beyond_approval(plan(other), plan(DEMOTE_C)) == (other,)


def test_under_review_every_change_must_have_been_approved() -> None:
    """A reviewer saw every change: a new invite is beyond a review approval."""
    review = Held("review", "apply: review")
    assert beyond_approval(plan(REVOKE_A, INVITE_D), plan(REVOKE_A, held=review)) == (INVITE_D,)
