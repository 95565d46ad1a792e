"""The presets against the platforms' own documents, and workspace-scoped authority,
decided in the core."""

from __future__ import annotations

from mappings import Operation, Plan, load_role_model
from mappings.authority import (
    Caller,
    key_roles,
    refusal_for_admin_action,
    refusal_for_key_scope,
    refusal_for_member_change,
    refusal_for_plan,
    refusal_for_workspace_change,
    refusal_for_workspace_create,
    visible_members,
)
from mappings.mapping import PERCENT_FLOOR, Policy
from mappings.rules import (
    default_org_role_on,
    member_roles_refusal,
    org_roles_on_plan,
    plan_refusal,
    workspaces_at_creation,
)
from tests.unit.builders import directory, group, member, plan_of, state, user

SOM = load_role_model("shareofmodel")
AIHUB = load_role_model("aihub")
SOTERAI = load_role_model("soterai")
ANNOTATION = load_role_model("annotation")


def test_shareofmodel_only_owners_manage_members() -> None:
    """Editors edit content; only owners manage members, roles and workspaces."""
    assert refusal_for_admin_action(SOM, "editor") is not None
    assert refusal_for_member_change(SOM, "editor", None, "guest") is not None
    assert refusal_for_workspace_create(SOM, "editor") is not None
    assert refusal_for_workspace_create(SOM, "owner") is None


def test_every_shipped_platform_declares_its_plans_and_refuses_others() -> None:
    """An unknown plan is refused with the list of the model's plans."""
    for model in (SOM, AIHUB, SOTERAI, ANNOTATION):
        assert model.plans and model.plan_by_default in model.plans
        assert plan_refusal(model, model.plan_by_default) is None
    refusal = plan_refusal(SOTERAI, "banana")
    assert refusal is not None
    assert refusal.detail == "'banana' is not a soterai plan; one of: team, enterprise"


def test_a_pro_org_starts_with_its_one_workspace() -> None:
    """Pro allows exactly one workspace: the org has it from creation."""
    assert workspaces_at_creation(SOM, "pro") == 1
    assert workspaces_at_creation(SOM, "enterprise") == 0
    assert workspaces_at_creation(AIHUB, "team") == 0


def test_soterai_member_role_exists_on_enterprise_only() -> None:
    """On team, new people are managers and a rule mapping to member is skipped."""
    assert org_roles_on_plan(SOTERAI, "team") == ("manager", "owner")
    assert default_org_role_on(SOTERAI, "team") == "manager"
    assert default_org_role_on(SOTERAI, "enterprise") == "member"
    refusal = member_roles_refusal(SOTERAI, "member", {}, plan="team")
    assert refusal is not None and refusal.reason == "role_not_on_plan"
    doc = {
        "role_model": "soterai",
        "rules": [{"group": "Staff", "org_role": "member"}],
        "policy": {"acting_role": "owner"},
    }
    d = directory([user("u1", "ann@acme.com")], [group("g1", "Staff", "u1")])
    plan = plan_of(doc, d, state(plan="team"))
    assert plan.operations == ()
    assert [(s.op, s.user, s.why) for s in plan.skipped] == [
        ("invite", "ann@acme.com", "role_not_on_plan")
    ]
    assert plan_of(doc, d, state(plan="enterprise")).summary == {"invite": 1}


ANN = {
    "role_model": "annotation",
    "rules": [{"group": "Labelers B", "workspace": "b", "workspace_role": "member"}],
    "policy": {"max_removals": None},
}


def test_annotation_implicit_membership_survives_a_second_workspace() -> None:
    """The member role a person got in the org's only workspace is kept when another
    workspace appears; no one is removed for having only that role."""
    d = directory(
        [user("u1", "lab@acme.com"), user("u2", "bee@acme.com")],
        [group("g1", "Everyone", "u1", "u2"), group("g2", "Labelers B", "u2")],
    )
    doc = {**ANN, "rules": [*ANN["rules"], {"group": "Everyone", "org_role": "member"}]}
    one = state(member("lab@acme.com", "member", idp_id="u1"), workspaces={"a": 0})
    granted = plan_of(doc, d, one)
    assert Operation("add_to_workspace", "lab@acme.com", workspace="a", roles=("member",)) in [
        Operation(o.op, o.user, workspace=o.workspace, roles=o.roles) for o in granted.operations
    ]
    two = state(
        member("lab@acme.com", "member", idp_id="u1", workspaces={"a": ("member",)}),
        member("bee@acme.com", "member", idp_id="u2", workspaces={"a": ("member",)}),
        workspaces={"a": 0, "b": 0},
    )
    plan = plan_of(doc, d, two)
    assert [(o.op, o.user, o.workspace) for o in plan.operations] == [
        ("add_to_workspace", "bee@acme.com", "b")
    ]


def test_aihub_admin_never_holds_a_lower_explicit_workspace_role() -> None:
    """The manual path refuses it; a plan takes an explicit lower role away."""
    refusal = member_roles_refusal(AIHUB, "admin", {"alpha": ["user"]})
    assert refusal is not None and refusal.reason == "below_implied_role"
    doc = {"role_model": "aihub", "rules": [{"group": "Admins", "org_role": "admin"}]}
    d = directory([user("u1", "ada@acme.com")], [group("g1", "Admins", "u1")])
    s = state(
        member("ada@acme.com", "admin", idp_id="u1", workspaces={"alpha": ("user",)}),
        workspaces={"alpha": 0},
    )
    plan = plan_of(doc, d, s)
    assert [(o.op, o.user, o.workspace) for o in plan.operations] == [
        ("remove_from_workspace", "ada@acme.com", "alpha")
    ]
    # also when a rule still grants the explicit role (nothing else to change)
    doc = {
        "role_model": "aihub",
        "rules": [
            {"group": "Admins", "org_role": "admin"},
            {"group": "Admins", "workspace": "alpha", "workspace_role": "user"},
        ],
    }
    plan = plan_of(doc, d, s)
    assert [(o.op, o.user, o.workspace) for o in plan.operations] == [
        ("remove_from_workspace", "ada@acme.com", "alpha")
    ]


def test_a_percentage_max_removals_has_a_floor_count() -> None:
    """10% of a 5-member org still lets the first removal through; 0% allows none."""
    assert Policy(max_removals="10%").removal_limit(5) == PERCENT_FLOOR == 1
    assert Policy(max_removals="10%").removal_limit(50) == 5
    assert Policy(max_removals="0%").removal_limit(50) == 0


MANAGER_ALPHA = Caller("apikey:1:m", "user", {"alpha": "manager"})


def _workspace_plan(*ops: Operation) -> Plan:
    return Plan(operations=ops)


def test_a_workspace_manager_key_manages_only_its_workspace() -> None:
    """aihub: a user who is manager of alpha adds users to alpha, nowhere else, and takes
    no org-wide action."""
    s = state(
        member("ann@acme.com", "user"),
        member("boss@acme.com", "admin"),
        workspaces={"alpha": 0, "beta": 0},
    )
    add = Operation("add_to_workspace", "ann@acme.com", workspace="alpha", roles=("user",))
    assert refusal_for_plan(AIHUB, MANAGER_ALPHA, _workspace_plan(add), s) is None
    beta = Operation("add_to_workspace", "ann@acme.com", workspace="beta", roles=("user",))
    assert refusal_for_plan(AIHUB, MANAGER_ALPHA, _workspace_plan(beta), s) is not None
    promote = Operation("add_to_workspace", "ann@acme.com", workspace="alpha", roles=("manager",))
    assert refusal_for_plan(AIHUB, MANAGER_ALPHA, _workspace_plan(promote), s) is not None
    invite = Operation("invite", "new@acme.com", org_role="user")
    assert refusal_for_plan(AIHUB, MANAGER_ALPHA, _workspace_plan(invite), s) is not None
    assert refusal_for_admin_action(AIHUB, MANAGER_ALPHA) is not None
    assert refusal_for_workspace_create(AIHUB, MANAGER_ALPHA) is not None
    assert refusal_for_workspace_change(AIHUB, MANAGER_ALPHA, [], ["user"], "alpha") is None
    assert refusal_for_workspace_change(AIHUB, MANAGER_ALPHA, [], ["user"], "beta") is not None
    assert refusal_for_member_change(AIHUB, MANAGER_ALPHA, "user", None) is None
    assert refusal_for_member_change(AIHUB, MANAGER_ALPHA, "user", "admin") is not None


def test_annotation_project_manager_key_is_bounded_by_its_workspaces() -> None:
    """Management and visibility are per workspace; powerful roles only to admins."""
    pm = Caller("k", "member", {"w1": "project_manager"})
    s = state(
        member("dev@acme.com", "member", workspaces={"w1": ("developer", "member")}),
        member("lab@acme.com", "member", workspaces={"w1": ("member",), "w2": ("member",)}),
        member("far@acme.com", "member", workspaces={"w2": ("admin",)}),
        workspaces={"w1": 0, "w2": 0},
    )
    seen = {m.email: dict(m.workspaces) for m in visible_members(ANNOTATION, pm, s.members)}
    assert seen == {"dev@acme.com": {"w1": ("member",)}, "lab@acme.com": {"w1": ("member",)}}
    admin = Caller("k", "member", {"w1": "admin"})
    seen = {m.email: dict(m.workspaces) for m in visible_members(ANNOTATION, admin, s.members)}
    assert seen["dev@acme.com"] == {"w1": ("developer", "member")}
    assert "far@acme.com" not in seen
    assert len(visible_members(ANNOTATION, Caller("cli", None), s.members)) == 3
    assert len(visible_members(AIHUB, pm.role or "", s.members)) == 3
    assert refusal_for_workspace_create(ANNOTATION, "annotation_manager") is not None
    assert refusal_for_workspace_create(ANNOTATION, "admin") is None
    add = Operation("add_to_workspace", "lab@acme.com", workspace="w2", roles=("member",))
    assert refusal_for_plan(ANNOTATION, pm, _workspace_plan(add), s) is not None


def test_keys_carry_a_lesser_workspace_role_only_in_named_workspaces() -> None:
    """A project manager key names its workspaces; a key's workspace must exist."""
    assert "project_manager" not in key_roles(ANNOTATION)
    assert refusal_for_key_scope(ANNOTATION, "member", {"w1": "project_manager"}, ["w1"]) is None
    assert refusal_for_key_scope(ANNOTATION, "member", {"nope": "admin"}, ["w1"]) == (
        "no workspace 'nope' in the org"
    )
    assert refusal_for_key_scope(AIHUB, "user", {"alpha": "user"}, ["alpha"]) is not None
    assert refusal_for_key_scope(AIHUB, "user", {"alpha": "manager"}, ["alpha"]) is None
