"""A plan of a few users made from the scoped inputs equals the whole org's plan of them."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from mappings import (
    PRESETS,
    Directory,
    DirectoryGroup,
    DirectoryUser,
    GroupMember,
    Plan,
    PlatformState,
    RoleMapping,
    RoleModel,
    apply_to_state,
    make_plan,
)
from mappings.scope import scoped
from tests.unit.builders import NOW
from tests.unit.test_plan_properties import EMAILS, GROUPS, SETTINGS, mappings, states


@st.composite
def directories(draw: st.DrawFn) -> Directory:
    """Up to eight users whose emails and userNames may claim each other's identity, and
    four groups, nested, cycles allowed."""
    n = draw(st.integers(0, 8))
    users = []
    for i in range(n):
        name = draw(st.sampled_from(EMAILS))
        emails = tuple(draw(st.lists(st.sampled_from(EMAILS), max_size=1)))
        users.append(
            DirectoryUser(
                id=f"d{i}",
                user_name=name.upper() if draw(st.booleans()) else name,
                emails=emails,
                active=draw(st.booleans()),
                roles=tuple(draw(st.lists(st.sampled_from(["Admin", "Reader"]), max_size=1))),
            )
        )
    refs = [f"d{i}" for i in range(n)] + [f"g{j}" for j in range(len(GROUPS))]
    groups = tuple(
        DirectoryGroup(
            id=f"g{j}",
            display_name=name,
            members=tuple(
                GroupMember(r, "Group" if r.startswith("g") else "User")
                for r in draw(st.lists(st.sampled_from(refs), max_size=6, unique=True))
            ),
        )
        for j, name in enumerate(GROUPS)
    )
    return Directory(users=tuple(users), groups=groups)


@st.composite
def writes(draw: st.DrawFn) -> tuple[Directory, PlatformState, RoleMapping, RoleModel, list[str]]:
    """An org, optionally settled by applying its plan first, and the users a write
    touched: IdP ids (a SCIM write's) and sometimes an email (the CLI's)."""
    model = PRESETS[draw(st.sampled_from(sorted(PRESETS)))]
    d, s, mapping = draw(directories()), draw(states(model)), draw(mappings(model))
    if draw(st.booleans()):
        s = apply_to_state(s, make_plan(d, s, mapping, model, now=NOW), model, now=NOW)
    ids = [u.id for u in d.users] + ["d9"]
    touched = draw(st.lists(st.sampled_from(ids + EMAILS[:2]), min_size=1, max_size=3))
    return d, s, mapping, model, touched


def _decisions(plan: Plan) -> dict[str, Any]:
    body = plan.to_dict()
    return {k: body[k] for k in ("operations", "skipped", "held", "summary")}


@SETTINGS
@given(writes())
def test_the_scoped_plan_equals_the_whole_org_plan_of_the_touched_users(scenario: Any) -> None:
    d, s, mapping, model, touched = scenario
    whole = make_plan(d, s, mapping, model, now=NOW, users=touched, earlier_losses=1)
    sd, ss = scoped(d, s, touched, model.top_org_role)
    part = make_plan(
        sd,
        ss,
        mapping,
        model,
        now=NOW,
        users=touched,
        earlier_losses=1,
        member_count=len(s.members),
    )
    assert _decisions(part) == _decisions(whole)


@SETTINGS
@given(writes())
def test_the_scoped_inputs_hold_no_one_the_write_does_not_reach(scenario: Any) -> None:
    """Scoping keeps only what the closure reaches: all of it only when it reaches all."""
    d, s, _, model, touched = scenario
    sd, ss = scoped(d, s, touched, model.top_org_role)
    assert {u.id for u in sd.users} <= {u.id for u in d.users}
    assert all(m in s.members for m in ss.members)
    assert ss.workspaces == s.workspaces
