"""``visible_roles`` says, as data, what ``visible_members`` shows: filtering members by
it (as the members list's query does) gives the same members with the same roles."""

from __future__ import annotations

from collections.abc import Mapping

from hypothesis import given
from hypothesis import strategies as st

from mappings import PRESETS, Member, load_role_model
from mappings.authority import Caller, key_roles, key_workspace_roles, visible_members
from mappings.visibility import visible_roles

ANNOTATION = load_role_model("annotation")
WORKSPACES = ("w1", "w2", "w3", "w4")

members = st.lists(
    st.dictionaries(
        st.sampled_from(WORKSPACES),
        st.lists(st.sampled_from(ANNOTATION.workspace_roles), min_size=1, unique=True),
        max_size=3,
    ),
    max_size=12,
).map(
    lambda specs: [
        Member(
            email=f"u{i}@x.example",
            org_role="member",
            workspaces={ws: tuple(sorted(r)) for ws, r in spec.items()},
        )
        for i, spec in enumerate(specs)
    ]
)
callers = st.builds(
    lambda role, ws: Caller("test", role, ws),
    st.sampled_from(key_roles(ANNOTATION)),
    st.dictionaries(st.sampled_from(WORKSPACES), st.sampled_from(key_workspace_roles(ANNOTATION))),
)


def _filtered(
    found: list[Member], seen: Mapping[str, frozenset[str]]
) -> dict[str, dict[str, tuple[str, ...]]]:
    """What the members list's query keeps: members holding a seen role, with only those."""
    out: dict[str, dict[str, tuple[str, ...]]] = {}
    for m in found:
        kept = {
            ws: tuple(r for r in roles if r in seen.get(ws, frozenset()))
            for ws, roles in m.workspaces.items()
        }
        kept = {ws: r for ws, r in kept.items() if r}
        if kept:
            out[m.email] = kept
    return out


@given(found=members, caller=callers)
def test_the_roles_a_caller_sees_filter_like_visible_members(
    found: list[Member], caller: Caller
) -> None:
    """Any annotation caller, scoped or org-wide, and any members: the same result."""
    seen = visible_roles(ANNOTATION, caller, WORKSPACES)
    assert seen is not None
    expected = {m.email: dict(m.workspaces) for m in visible_members(ANNOTATION, caller, found)}
    assert _filtered(found, seen) == expected


def test_an_admin_sees_every_role_and_a_scoped_manager_its_workspaces_only() -> None:
    """annotation: admin everywhere; a w1 project manager sees w1's lower roles only."""
    assert visible_roles(ANNOTATION, Caller("t", "admin"), WORKSPACES) == {
        ws: frozenset(ANNOTATION.workspace_roles) for ws in WORKSPACES
    }
    scoped = Caller("t", "member", {"w1": "project_manager"})
    assert visible_roles(ANNOTATION, scoped, WORKSPACES) == {
        "w1": frozenset({"member", "annotation_manager", "project_manager"})
    }


def test_no_filter_for_the_operator_or_where_visibility_is_org_wide() -> None:
    """None (everyone, whole) for the host's operator, and for every other preset."""
    assert visible_roles(ANNOTATION, Caller("cli", None), WORKSPACES) is None
    for name in sorted(set(PRESETS) - {"annotation"}):
        model = load_role_model(name)
        assert visible_roles(model, Caller("t", model.org_roles[0]), WORKSPACES) is None
