"""What an API key's role may do, decided from the role model's ``manages``."""

from __future__ import annotations

from mappings.authority import (
    key_roles,
    key_workspace_roles,
    member_workspace_scope,
    refusal_for_admin_action,
    refusal_for_mapping,
    refusal_for_member_change,
    refusal_for_plan,
    refusal_for_workspace_change,
)
from mappings.operations import Operation, Plan
from mappings.presets import load_role_model
from mappings.state import Member, Organisation, PlatformState

SOTERAI = load_role_model("soterai")
ANNOTATION = load_role_model("annotation")
STATE = PlatformState(
    Organisation("acme"),
    members=(
        Member("olga@acme.com", "owner"),
        Member("max@acme.com", "manager"),
        Member("mia@acme.com", "member"),
    ),
)


def test_a_signed_in_member_carries_their_highest_managing_role_per_workspace() -> None:
    """A member's workspace roles become a scope as a key's would: the highest managing
    role of each workspace; a workspace where they only hold a role that manages no one,
    and a model whose workspace roles manage no one, add nothing (org-wide as before)."""
    held = {
        "w1": ["member", "project_manager", "annotation_manager"],
        "w2": ["member"],
        "w3": ["developer", "admin"],
    }
    assert member_workspace_scope(ANNOTATION, held) == {"w1": "project_manager", "w3": "admin"}
    assert member_workspace_scope(ANNOTATION, {"w2": ["member"]}) == {}
    assert member_workspace_scope(load_role_model("aihub"), {"w1": ["user"]}) == {}
    assert member_workspace_scope(load_role_model("aihub"), {"w1": ["user", "manager"]}) == {
        "w1": "manager"
    }


def test_soterai_managers_manage_members_and_managers_but_not_owners() -> None:
    """Promoting to manager is fine; demoting or making an owner is refused."""
    assert refusal_for_member_change(SOTERAI, "manager", "member", "manager") is None
    assert refusal_for_member_change(SOTERAI, "manager", "owner", "member") is not None
    assert refusal_for_member_change(SOTERAI, "manager", None, "owner") is not None
    assert refusal_for_member_change(SOTERAI, "owner", "owner", "member") is None


def test_a_plan_touching_an_owner_is_refused_to_a_manager_only() -> None:
    """Removing the owner olga needs an owner key; removing mia does not."""
    remove_olga = Plan(operations=(Operation("remove_from_org", "olga@acme.com"),))
    remove_mia = Plan(operations=(Operation("remove_from_org", "mia@acme.com"),))
    refusal = refusal_for_plan(SOTERAI, "manager", remove_olga, STATE)
    assert refusal == "role 'manager' may not manage owner (remove_from_org olga@acme.com)"
    assert refusal_for_plan(SOTERAI, "manager", remove_mia, STATE) is None
    assert refusal_for_plan(SOTERAI, "owner", remove_olga, STATE) is None


def test_inviting_as_owner_and_promoting_to_owner_are_owner_business() -> None:
    """An invite's role and a role change's target both count."""
    invite = Plan(operations=(Operation("invite", "new@acme.com", org_role="owner"),))
    promote = Plan(
        operations=(Operation("set_org_role", "mia@acme.com", from_="member", to="owner"),)
    )
    assert refusal_for_plan(SOTERAI, "manager", invite, STATE) is not None
    assert refusal_for_plan(SOTERAI, "manager", promote, STATE) is not None


def test_a_mapping_can_only_delegate_what_the_key_itself_manages() -> None:
    """A manager may save a mapping acting as manager, not one acting as owner."""
    assert refusal_for_mapping(SOTERAI, "manager", "manager") is None
    assert refusal_for_mapping(SOTERAI, "manager", "owner") == (
        "the mapping acts as 'owner', which manages owner; role 'manager' does not"
    )


def test_members_only_read_and_annotation_keys_carry_workspace_roles() -> None:
    """A soterai member manages no one; annotation keys carry admin org-wide and the lesser
    managing workspace roles only in named workspaces."""
    assert refusal_for_admin_action(SOTERAI, "member") is not None
    assert refusal_for_admin_action(SOTERAI, "manager") is None
    assert key_roles(ANNOTATION) == ("member", "admin")
    assert key_workspace_roles(ANNOTATION) == (
        "annotation_manager",
        "project_manager",
        "developer",
        "admin",
    )
    assert refusal_for_workspace_change(ANNOTATION, "developer", [], ["developer"]) is None
    assert refusal_for_workspace_change(ANNOTATION, "developer", ["admin"], []) is not None
