"""``mappings.manual.plan_manual_change``: a change by hand is a plan or a refusal with
the rule's reason, never a half of both; properties over every preset."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mappings.apply import apply_to_state
from mappings.authority import Caller, roles_touched
from mappings.errors import InputError
from mappings.manual import CHANGE_KINDS, ManualChange, plan_manual_change
from mappings.presets import PRESETS
from mappings.state import Member, Organisation, PlatformState, Workspace

NOW = datetime(2026, 12, 1, tzinfo=UTC)
OPERATOR = Caller("cli", None)
EMAILS = ("a@x.io", "b@x.io", "c@x.io", "d@x.io")


def _state(*members: Member, workspaces: tuple[str, ...] = ("w1",)) -> PlatformState:
    return PlatformState(
        Organisation("org"), tuple(Workspace(w) for w in workspaces), tuple(members)
    )


def test_a_manual_invite_is_an_invite_operation_with_the_welcome_email() -> None:
    """An invite by hand is the IdP path's ``invite`` (notified per the role model)."""
    plan = plan_manual_change(
        _state(), PRESETS["soterai"], ManualChange("invite", "New@X.io", "member"), OPERATOR, NOW
    )
    assert [(o.op, o.user, o.org_role, o.notify) for o in plan.operations] == [
        ("invite", "new@x.io", "member", True)
    ]
    assert plan.skipped == ()


def test_the_last_joined_owner_is_kept_while_an_invited_owner_does_not_count() -> None:
    """soterai: demoting the only joined owner is refused with last_owner."""
    state = _state(
        Member("boss@x.io", "owner", origin="manual"),
        Member("new@x.io", "owner", "invited", origin="manual"),
    )
    plan = plan_manual_change(
        state, PRESETS["soterai"], ManualChange("set", "boss@x.io", "member"), OPERATOR, NOW
    )
    assert plan.operations == ()
    assert [(s.op, s.why) for s in plan.skipped] == [("set_org_role", "last_owner")]


def test_a_request_that_cannot_be_understood_raises_naming_the_field() -> None:
    """Unknown role, unknown workspace, no email: ``InputError`` with the field."""
    model = PRESETS["annotation"]
    cases = [
        (ManualChange("invite", "a@x.io", "boss"), "org_role"),
        (ManualChange("invite", "a@x.io", "member", {"ghost": ["member"]}), "workspaces.ghost"),
        (ManualChange("invite", "not-an-email", "member"), "email"),
        (ManualChange("invite", "a@x.io", "member", {"w1": ["x"]}), "workspaces.w1"),
    ]
    for change, where in cases:
        with pytest.raises(InputError) as caught:
            plan_manual_change(_state(), model, change, OPERATOR, NOW)
        assert caught.value.where == where


MODELS = sorted(PRESETS)


@st.composite
def scenarios(draw: Any) -> tuple[Any, PlatformState, ManualChange, Caller]:
    model = PRESETS[draw(st.sampled_from(MODELS))]
    workspaces = ("w1", "w2")
    members = []
    for email in draw(st.lists(st.sampled_from(EMAILS), unique=True, max_size=4)):
        role = draw(st.sampled_from(model.org_roles))
        grants = {}
        if model.workspace_roles and not model.covers_workspaces(role):
            for ws in draw(st.lists(st.sampled_from(workspaces), unique=True, max_size=2)):
                grants[ws] = (draw(st.sampled_from(model.workspace_roles)),)
        members.append(
            Member(
                email,
                role,
                draw(st.sampled_from(("invited", "joined", "suspended"))),
                draw(st.sampled_from(("idp", "manual"))),
                workspaces=grants,
            )
        )
    state = _state(*members, workspaces=workspaces)
    kind = draw(st.sampled_from(CHANGE_KINDS))
    wanted: dict[str, list[str]] = {}
    if model.workspace_roles and draw(st.booleans()):
        wanted[draw(st.sampled_from(workspaces))] = draw(
            st.lists(st.sampled_from(model.workspace_roles), unique=True, max_size=1)
        )
    change = ManualChange(
        kind, draw(st.sampled_from(EMAILS)), draw(st.sampled_from(model.org_roles)), wanted
    )
    role = draw(st.none() | st.sampled_from(sorted(set(model.org_roles) | set(model.manages))))
    return model, state, change, Caller("test", role)


def _joined_top(state: PlatformState, top: str) -> int:
    return sum(1 for m in state.members if m.org_role == top and m.status == "joined")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_a_manual_plan_keeps_a_joined_owner_and_the_callers_reach(scenario: Any) -> None:
    """Whatever the change: either operations or one refusal, never both; applied, the
    org keeps a joined holder of the top role if it had one; a caller with a role touches
    only roles it manages."""
    model, state, change, caller = scenario
    try:
        plan = plan_manual_change(state, model, change, caller, NOW)
    except InputError:
        return
    assert not (plan.operations and plan.skipped)
    assert len(plan.skipped) <= 1
    if caller.role is not None:
        for op in plan.operations:
            for role in roles_touched(op, state, model):
                assert model.may_manage(caller.role, role), (op, caller.role)
    after = apply_to_state(state, plan, model, now=NOW)
    if _joined_top(state, model.top_org_role):
        assert _joined_top(after, model.top_org_role) >= 1


def test_a_promotion_past_guest_takes_the_workspace_roles_away_first() -> None:
    """shareofmodel: a guest with a workspace role made viewer keeps a role viewers do not
    take: refused (covered_by_org_role) until the request takes it away too."""
    model = PRESETS["shareofmodel"]
    state = _state(Member("g@x.io", "guest", origin="manual", workspaces={"w1": ("viewer",)}))
    refused = plan_manual_change(
        state, model, ManualChange("set", "g@x.io", "viewer"), OPERATOR, NOW
    )
    assert [(s.why, s.workspace) for s in refused.skipped] == [("covered_by_org_role", "w1")]
    done = plan_manual_change(
        state, model, ManualChange("set", "g@x.io", "viewer", {"w1": []}), OPERATOR, NOW
    )
    assert [o.op for o in done.operations] == ["set_org_role", "remove_from_workspace"]
    removed = plan_manual_change(state, model, ManualChange("remove", "g@x.io"), OPERATOR, NOW)
    assert [o.op for o in removed.operations] == ["remove_from_org"]


def test_a_workspace_scoped_caller_changes_by_hand_only_where_its_authority_reaches() -> None:
    """aihub: a key of org role user holding manager in w1 sets a user's workspace roles
    in w1; in w2 the change is not_permitted in the words a plan's approver is refused
    with (``mappings.authority.refusal_for_operation``, one decision for both)."""
    model = PRESETS["aihub"]
    scoped = Caller("apikey:1:w1 manager", "user", {"w1": "manager"})
    state = _state(
        Member("u@x.io", "user", origin="manual", workspaces={"w1": ("user",), "w2": ("user",)}),
        workspaces=("w1", "w2"),
    )
    inside = plan_manual_change(
        state, model, ManualChange("set", "u@x.io", None, {"w1": []}), scoped, NOW
    )
    assert not inside.skipped and [o.workspace for o in inside.operations] == ["w1"]
    outside = plan_manual_change(
        state, model, ManualChange("set", "u@x.io", None, {"w2": []}), scoped, NOW
    )
    [refused] = outside.skipped
    assert (refused.why, refused.workspace) == ("not_permitted", "w2")
    assert refused.detail == (
        "role 'user' manages no one org-wide; this key manages only in workspace(s) w1"
    )
