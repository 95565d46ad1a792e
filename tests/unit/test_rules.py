"""The role model's rules on members and workspaces, as whole values."""

from __future__ import annotations

from mappings.presets import PRESETS
from mappings.rules import (
    Refusal,
    member_roles_refusal,
    new_workspace_refusal,
    reachable_top_holders,
    top_holder_to_keep,
    workspace_limit,
)
from mappings.state import Member

SOM, AIHUB, SOTERAI, ANNOTATION = (
    PRESETS[n] for n in ("shareofmodel", "aihub", "soterai", "annotation")
)


def test_a_workspace_holds_one_role_unless_the_model_makes_them_sets() -> None:
    """shareofmodel refuses viewer+editor in one workspace; annotation takes several."""
    assert member_roles_refusal(SOM, "guest", {"a": ["viewer", "editor"]}) == Refusal(
        "one_role_per_workspace",
        "role model 'shareofmodel' allows one role per workspace",
        "workspaces.a",
    )
    assert member_roles_refusal(SOM, "guest", {"a": ["editor", "editor"]}) is None
    assert member_roles_refusal(ANNOTATION, "member", {"a": ["member", "admin"]}) is None


def test_unknown_roles_are_refused_naming_the_field() -> None:
    """An org role or workspace role the model lacks names its field and the known roles."""
    assert member_roles_refusal(SOTERAI, "boss", {}) == Refusal(
        "unknown_role", "must be one of member, manager, owner", "org_role"
    )
    assert member_roles_refusal(SOM, "guest", {"a": ["admin"]}) == Refusal(
        "unknown_role", "'admin' is not one of viewer, editor", "workspaces.a"
    )
    assert member_roles_refusal(SOTERAI, "member", {"a": ["member"]}) == Refusal(
        "unknown_role", "role model 'soterai' has no workspace roles", "workspaces.a"
    )


def test_workspace_roles_only_where_the_model_allows_them_for_the_org_role() -> None:
    """shareofmodel gives workspace roles to guests only; an empty list always passes."""
    assert member_roles_refusal(SOM, "viewer", {"a": ["editor"]}) == Refusal(
        "workspace_roles_only_for",
        "org role viewer already gives access to every workspace; workspace roles are for guest",
        "workspaces.a",
    )
    assert member_roles_refusal(SOM, "guest", {"a": ["editor"]}) is None
    assert member_roles_refusal(SOM, "owner", {"a": []}) is None


def test_an_explicit_workspace_role_is_never_below_what_the_org_role_implies() -> None:
    """aihub admins are managers everywhere: an explicit user role is refused, manager is not."""
    assert member_roles_refusal(AIHUB, "admin", {"alpha": ["user"]}) == Refusal(
        "below_implied_role",
        "org role admin is manager in every workspace, never user",
        "workspaces.alpha",
    )
    assert member_roles_refusal(AIHUB, "admin", {"alpha": ["manager"]}) is None
    assert member_roles_refusal(AIHUB, "user", {"alpha": ["user"]}) is None


def test_an_unlisted_plan_gets_the_smallest_limit_and_a_model_without_plans_none() -> None:
    """pro 1, enterprise unlimited, 'trial' (unlisted) 1; soterai lists no plans."""
    assert [workspace_limit(SOM, p) for p in ("pro", "enterprise", "trial")] == [1, None, 1]
    assert workspace_limit(SOTERAI, "anything") is None


def test_a_new_workspace_is_refused_past_the_plan_limit_or_the_credit_pool() -> None:
    """The plan limit names the field name, the credit pool the field credits."""
    assert new_workspace_refusal(SOM, "pro", 1, 0, 0, None) == Refusal(
        "plan_limit", "the pro plan allows 1 workspace; the org has 1", "name"
    )
    assert new_workspace_refusal(SOM, "trial", 1, 0, 0, None) == Refusal(
        "plan_limit",
        "the trial plan is not one of shareofmodel's plans (pro, enterprise):"
        " it gets the smallest limit, 1 workspace; the org has 1",
        "name",
    )
    assert new_workspace_refusal(SOM, "enterprise", 5, 600, 500, 1000) == Refusal(
        "credit_limit", "500 credits would exceed the org's pool: 600 of 1000 in use", "credits"
    )
    assert new_workspace_refusal(SOM, "enterprise", 5, 600, 400, 1000) is None
    assert new_workspace_refusal(SOM, "enterprise", 5, 600, 500, None) is None
    assert new_workspace_refusal(AIHUB, "enterprise", 5, 600, 500, 1000) is None  # no credits


def test_only_joined_holders_of_the_top_role_are_reachable() -> None:
    """Invited and suspended owners cannot sign in, so they do not count."""
    members = {
        m.key: m
        for m in (
            Member("boss@x.io", "owner"),
            Member("new@x.io", "owner", status="invited"),
            Member("gone@x.io", "owner", status="suspended"),
            Member("max@x.io", "manager"),
        )
    }
    assert reachable_top_holders(SOTERAI, members) == {"boss@x.io"}


def test_the_last_reachable_holder_is_kept_unless_another_remains_or_joins() -> None:
    """Demoting boss is refused alone; allowed when another owner stays or is reactivated."""
    demote = {"boss@x.io": ("member", "joined")}
    assert top_holder_to_keep(SOTERAI, {"boss@x.io"}, demote) == "boss@x.io"
    assert top_holder_to_keep(SOTERAI, {"boss@x.io", "ann@x.io"}, demote) is None
    back = demote | {"new@x.io": ("owner", "joined")}
    assert top_holder_to_keep(SOTERAI, {"boss@x.io"}, back) is None
    both = {"a@x.io": ("owner", "gone"), "b@x.io": ("owner", "suspended")}
    assert top_holder_to_keep(SOTERAI, {"a@x.io", "b@x.io"}, both) == "a@x.io"
    assert top_holder_to_keep(SOTERAI, set(), demote) is None
