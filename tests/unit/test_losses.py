"""What counts as a loss, and how ``max_removals`` budgets losses over a window."""

from __future__ import annotations

from datetime import timedelta

import pytest

from mappings import PRESETS, Operation, parse_mapping
from mappings.errors import MappingError
from mappings.operations import IDENTITY_CHANGE, loss_kind
from tests.unit.builders import directory, group, member, plan_of, state, user

GENERIC = PRESETS["generic"]
ANNOTATION = PRESETS["annotation"]


@pytest.mark.parametrize(
    ("op", "status", "kind"),
    [
        (Operation("remove_from_org", "a@x.io"), "joined", "removal"),
        (Operation("revoke_invite", "a@x.io"), "invited", "removal"),
        (Operation("suspend", "a@x.io"), "joined", "suspension"),
        (Operation("set_org_role", "a@x.io", from_="admin", to="member"), "joined", "demotion"),
        (Operation("set_org_role", "a@x.io", from_="member", to="admin"), "joined", None),
        (Operation("remove_from_workspace", "a@x.io", workspace="w"), "joined", "workspace"),
        (
            Operation(
                "set_workspace_roles", "a@x.io", workspace="w", from_=("editor",), to=("viewer",)
            ),
            "joined",
            "workspace",
        ),
        (
            Operation(
                "set_workspace_roles", "a@x.io", workspace="w", from_=("viewer",), to=("admin",)
            ),
            "joined",
            None,
        ),
        (Operation("rename_member", "b@x.io", from_="a@x.io", to="b@x.io"), "joined", "rename"),
        (Operation("rename_member", "b@x.io", from_="a@x.io", to="b@x.io"), "invited", None),
        (
            Operation(
                "rename_member", "a@x.lan", from_="a@x.io", to="a@x.lan", detail=IDENTITY_CHANGE
            ),
            "joined",
            "identity_change",
        ),
        (Operation("invite", "a@x.io", org_role="member"), None, None),
        (Operation("reactivate", "a@x.io"), "suspended", None),
        (Operation("add_to_workspace", "a@x.io", workspace="w", roles=("viewer",)), "joined", None),
    ],
)
def test_each_operation_is_a_loss_of_one_kind_or_none(
    op: Operation, status: str | None, kind: str | None
) -> None:
    """Removals, suspensions, demotions, lowered workspace roles and joined renames lose."""
    assert loss_kind(op, GENERIC, status) == kind


def test_a_workspace_role_taken_from_a_set_with_nothing_higher_in_its_place_is_a_loss() -> None:
    """{member, admin} -> {admin} loses member; {member} -> {member, admin} loses nothing."""
    lower = Operation(
        "set_workspace_roles", "a@x.io", workspace="w", from_=("member", "admin"), to=("admin",)
    )
    higher = Operation(
        "set_workspace_roles", "a@x.io", workspace="w", from_=("member",), to=("member", "admin")
    )
    assert loss_kind(lower, ANNOTATION, "joined") == "workspace"
    assert loss_kind(higher, ANNOTATION, "joined") is None


DOC = {
    "role_model": "generic",
    "rules": [{"group": "Admins", "org_role": "admin"}, {"group": "Staff", "org_role": "member"}],
    "policy": {"max_removals": 2},
}


def _demoting(n: int) -> tuple[object, object]:
    """``n`` admins the directory now lists as staff only."""
    emails = [f"p{i}@x.io" for i in range(n)]
    d = directory(
        [user(f"u{i}", e) for i, e in enumerate(emails)],
        [group("g1", "Staff", *(f"u{i}" for i in range(n)))],
    )
    s = state(*(member(e, "admin") for e in emails), member("root@x.io", "owner"))
    return d, s


def test_demotions_count_against_max_removals() -> None:
    """Three demotions against a budget of two: the plan is held, by kind."""
    d, s = _demoting(3)
    plan = plan_of(DOC, d, s)  # type: ignore[arg-type]
    assert plan.held is not None
    assert plan.held.losses == {"demotion": 3}
    assert plan.held.detail == (
        "3 user(s) lose access or a role (3 demoted); max_removals 2 allows 2"
    )


def test_losses_already_applied_in_the_window_use_up_the_budget() -> None:
    """Two demotions fit a budget of two, but not after one loss earlier in the window."""
    d, s = _demoting(2)
    assert plan_of(DOC, d, s).held is None  # type: ignore[arg-type]
    held = plan_of(DOC, d, s, earlier_losses=1).held  # type: ignore[arg-type]
    assert held is not None and held.earlier == 1
    assert held.detail == (
        "2 user(s) lose access or a role (2 demoted); with 1 already applied in the last 24h "
        "that is 3; max_removals 2 allows 2"
    )


def test_a_plan_without_losses_is_never_held_by_an_exhausted_budget() -> None:
    """Invites alone go through even when the window's budget is used up."""
    d = directory([user("u1", "new@x.io")], [group("g1", "Staff", "u1")])
    plan = plan_of(DOC, d, state(member("root@x.io", "owner")), earlier_losses=50)
    assert [o.op for o in plan.operations] == ["invite"] and plan.held is None


def test_the_window_and_the_group_drop_parse_with_defaults() -> None:
    """Defaults 24h and 20%; a window in days; null turns either off."""
    policy = parse_mapping({"role_model": "generic"}).policy
    assert (policy.window(), policy.group_drop_percent()) == (timedelta(hours=24), 20.0)
    doc = {"role_model": "generic", "policy": {"removal_window": "7d", "max_group_drop": "5%"}}
    policy = parse_mapping(doc).policy
    assert (policy.window(), policy.group_drop_percent()) == (timedelta(days=7), 5.0)
    off = {"role_model": "generic", "policy": {"removal_window": None, "max_group_drop": None}}
    policy = parse_mapping(off).policy
    assert (policy.window(), policy.group_drop_percent()) == (None, None)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("removal_window", "forever"),
        ("removal_window", 24),
        ("removal_window", "400d"),
        ("max_group_drop", "120%"),
        ("max_group_drop", 20),
    ],
)
def test_a_bad_window_or_group_drop_names_the_field(field: str, value: object) -> None:
    """A mapping with a bad value is refused where it is."""
    with pytest.raises(MappingError) as info:
        parse_mapping({"role_model": "generic", "policy": {field: value}})
    assert info.value.where == f"policy.{field}"
