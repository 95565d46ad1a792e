"""Properties that hold for any directory, state and mapping (hypothesis)."""

from __future__ import annotations

import json
import os
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mappings import (
    PRESETS,
    Directory,
    DirectoryGroup,
    DirectoryUser,
    GroupMember,
    Member,
    Organisation,
    Plan,
    PlatformState,
    RoleMapping,
    RoleModel,
    Workspace,
    apply_to_state,
    make_plan,
    parse_mapping,
    render_json,
)
from mappings.operations import loss_kind
from tests.unit.builders import NOW

EMAILS = [f"p{i}@x.io" for i in range(6)]
GROUPS = ["G0", "G1", "G2", "G3"]
WORKSPACES = ["a", "b", "c", "d"]
# PROPERTY_EXAMPLES raises the count for a longer hunt than the suite's default run.
SETTINGS = settings(
    max_examples=int(os.environ.get("PROPERTY_EXAMPLES", "80")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@st.composite
def directories(draw: st.DrawFn) -> Directory:
    """Up to six users (emails may repeat) and four groups, nested, cycles allowed."""
    n = draw(st.integers(0, 6))
    users = tuple(
        DirectoryUser(
            id=f"d{i}",
            user_name=draw(st.sampled_from(EMAILS)),
            emails=(),
            active=draw(st.booleans()),
            roles=tuple(draw(st.lists(st.sampled_from(["Admin", "Reader"]), max_size=1))),
        )
        for i in range(n)
    )
    refs = [f"d{i}" for i in range(n)] + [f"g{j}" for j in range(len(GROUPS))]
    groups = tuple(
        DirectoryGroup(
            id=f"g{j}",
            display_name=name,
            members=tuple(
                GroupMember(r, "Group" if r.startswith("g") else "User")
                for r in draw(st.lists(st.sampled_from(refs), max_size=5, unique=True))
            ),
        )
        for j, name in enumerate(GROUPS)
    )
    return Directory(users=users, groups=groups)


def _managed(model: RoleModel, acting: str, roles: tuple[str, ...]) -> list[str]:
    return [r for r in roles if model.may_manage(acting, r)]


@st.composite
def mappings(draw: st.DrawFn, model: RoleModel) -> RoleMapping:
    """A valid mapping for ``model``: group and app-role rules, workspace rules, policies."""
    acting = draw(st.sampled_from(sorted(model.manages)))
    org = _managed(model, acting, model.org_roles)
    ws = _managed(model, acting, model.workspace_roles)
    rules: list[dict[str, Any]] = []
    for _ in range(draw(st.integers(0, 5))):
        selector = draw(st.sampled_from([{"group": g} for g in GROUPS] + [{"role": "Admin"}]))
        if ws and draw(st.booleans()):
            roles = draw(st.lists(st.sampled_from(ws), min_size=1, max_size=2, unique=True))
            rule = {**selector, "workspace": draw(st.sampled_from(WORKSPACES))}
            rule["workspace_roles"] = roles if model.workspace_roles_are_sets else roles[:1]
            if draw(st.integers(0, 3)):
                rule.update(create_workspace=True, credits=draw(st.integers(0, 50)))
            rules.append(rule)
        elif org:
            rules.append({**selector, "org_role": draw(st.sampled_from(org))})
    unmapped = draw(st.sampled_from(["remove", "keep"] + (["default_role"] if org else [])))
    policy = {
        "acting_role": acting,
        "unmapped": unmapped,
        "manage_manual_members": draw(st.booleans()),
        "allow_protected": draw(st.booleans()),
        "max_removals": draw(st.sampled_from([0, 2, "50%", None])),
    }
    if unmapped == "default_role":
        policy["default_role"] = draw(st.sampled_from(org))
    return parse_mapping({"role_model": model.name, "rules": rules, "policy": policy})


@st.composite
def states(draw: st.DrawFn, model: RoleModel) -> PlatformState:
    """Members with any role, status and origin; workspaces with credits."""
    workspaces = draw(st.lists(st.sampled_from(WORKSPACES), unique=True, max_size=2))
    members = []
    for email in draw(st.lists(st.sampled_from(EMAILS), unique=True, max_size=5)):
        ws: dict[str, tuple[str, ...]] = {}
        if model.workspace_roles:
            for w in draw(st.lists(st.sampled_from(workspaces or ["a"]), unique=True, max_size=2)):
                roles = draw(
                    st.lists(
                        st.sampled_from(model.workspace_roles),
                        min_size=1,
                        max_size=2 if model.workspace_roles_are_sets else 1,
                        unique=True,
                    )
                )
                ws[w] = tuple(sorted(roles))
        members.append(
            Member(
                email=email,
                org_role=draw(st.sampled_from(model.org_roles)),
                status=draw(st.sampled_from(["invited", "joined", "suspended"])),
                origin=draw(st.sampled_from(["idp", "idp", "manual"])),
                idp_id=draw(st.sampled_from([None, "d0", "d1", "d2", "d3"])),
                invited_at=NOW - timedelta(days=draw(st.integers(0, 40))),
                workspaces=ws,
            )
        )
    org = Organisation(
        "Acme",
        plan=draw(st.sampled_from(["pro", "enterprise"])),
        credits=draw(st.sampled_from([None, 30, 100])),
    )
    return PlatformState(org, tuple(Workspace(w, 10) for w in workspaces), tuple(members))


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[Directory, PlatformState, RoleMapping, RoleModel]:
    """A preset, a mapping for it, a directory and a state."""
    model = PRESETS[draw(st.sampled_from(sorted(PRESETS)))]
    return draw(directories()), draw(states(model)), draw(mappings(model)), model


def _joined_top(state: PlatformState, model: RoleModel) -> int:
    return sum(
        1 for m in state.members if m.org_role == model.top_org_role and m.status == "joined"
    )


@SETTINGS
@given(scenarios())
def test_applying_a_plan_then_planning_again_finds_nothing_to_do(scenario: Any) -> None:
    """Idempotence: the plan of the state a plan produces is empty."""
    d, s, mapping, model = scenario
    plan = make_plan(d, s, mapping, model, now=NOW)
    after = apply_to_state(s, plan, model, now=NOW)
    again = make_plan(d, after, mapping, model, now=NOW)
    assert again.operations == ()


@SETTINGS
@given(scenarios())
def test_the_last_owner_survives_any_mapping(scenario: Any) -> None:
    """An org with a joined holder of the top role still has one after the plan."""
    d, s, mapping, model = scenario
    plan = make_plan(d, s, mapping, model, now=NOW)
    if plan.held is not None and plan.held.why == "last_owner":
        return  # the last joined holder is deactivated in the IdP: the plan waits for an admin
    after = apply_to_state(s, plan, model, now=NOW)
    if _joined_top(s, model):
        assert _joined_top(after, model) >= 1


def _roles_touched(op: Any, members: dict[str, Member]) -> set[str]:
    m = members.get(op.user)
    if op.op == "invite":
        return {op.org_role}
    if op.op == "set_org_role":
        return {op.from_, op.to}
    if op.op == "add_to_workspace":
        return set(op.roles)
    if op.op == "set_workspace_roles":
        return set(op.from_) | set(op.to)
    if op.op == "remove_from_workspace" and m is not None:
        return set(m.workspaces.get(op.workspace, ()))
    if op.op in ("remove_from_org", "suspend", "revoke_invite", "reactivate") and m is not None:
        return {m.org_role}
    return set()


@SETTINGS
@given(scenarios())
def test_no_plan_contains_an_operation_its_acting_role_may_not_perform(scenario: Any) -> None:
    """Every role an operation grants or takes away is one the acting role manages."""
    d, s, mapping, model = scenario
    plan = make_plan(d, s, mapping, model, now=NOW)
    members = {m.key: m for m in s.members}
    acting = mapping.policy.acting_role
    for op in plan.operations:
        for role in _roles_touched(op, members):
            assert model.may_manage(acting, role), (op, acting)


@SETTINGS
@given(scenarios())
def test_equal_inputs_give_equal_plans_and_fingerprints(scenario: Any) -> None:
    """Planning twice, or with the directory listed in reverse, gives the same plan."""
    d, s, mapping, model = scenario
    reversed_d = Directory(users=d.users[::-1], groups=d.groups[::-1])
    first = make_plan(d, s, mapping, model, now=NOW)
    assert make_plan(d, s, mapping, model, now=NOW) == first
    assert make_plan(reversed_d, s, mapping, model, now=NOW).fingerprint == first.fingerprint


@SETTINGS
@given(scenarios())
def test_every_plan_reads_back_from_its_json(scenario: Any) -> None:
    """Plan.from_dict(json.loads(render_json(plan))) == plan, so saved plans apply as made."""
    d, s, mapping, model = scenario
    plan = make_plan(d, s, mapping, model, now=NOW)
    assert Plan.from_dict(json.loads(render_json(plan))) == plan


def _people_losing(plan: Plan, state: PlatformState, model: RoleModel) -> int:
    status = {m.email: m.status for m in state.members}
    lost = set()
    for op in plan.operations:
        who = str(op.from_) if op.op == "rename_member" else op.user
        if loss_kind(op, model, status.get(who)) is not None:
            lost.add(op.user)
    return len(lost)


@SETTINGS
@given(scenarios(), st.integers(0, 3))
def test_a_plan_whose_losses_exceed_the_budget_is_held(scenario: Any, earlier: int) -> None:
    """Losses in the plan plus those already applied in the window over max_removals: held;
    within it, never held for max_removals."""
    d, s, mapping, model = scenario
    plan = make_plan(d, s, mapping, model, now=NOW, earlier_losses=earlier)
    lost = _people_losing(plan, s, model)
    limit = mapping.policy.removal_limit(len(s.members))
    over = limit is not None and lost > 0 and lost + earlier > limit
    if plan.held is not None and plan.held.why == "last_owner":
        return  # a hold for the last owner comes first
    assert (plan.held is not None and plan.held.why == "max_removals") == over
    if over:
        assert plan.held is not None and plan.held.removals == lost
