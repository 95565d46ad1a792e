"""Resolution: nested groups, provenance, conflicts, app roles, duplicate emails."""

from __future__ import annotations

from mappings import (
    DirectoryGroup,
    GroupMember,
    Reason,
    explain,
    load_role_model,
    parse_mapping,
    render_explanation,
    resolve,
)
from tests.unit.builders import directory, group, user

MODEL = load_role_model("generic")
MAPPING = parse_mapping(
    {
        "role_model": "generic",
        "rules": [
            {"group": "Staff", "org_role": "member"},
            {"group": "Admins", "org_role": "admin"},
            {"group": "externalId:ext-7", "org_role": "admin"},
            {
                "match": "^team-(?P<ws>[a-z]+)-(?P<r>viewer|editor)$",
                "workspace": "{ws}",
                "workspace_role": "{r}",
            },
        ],
    }
)


def test_nested_groups_count_transitively_with_the_group_path_as_provenance() -> None:
    """A user two levels down gets the outer group's role; the reason names the path."""
    d = directory(
        [user("u1", "deep@x.io")],
        [group("g1", "Admins", "g2"), group("g2", "Ops", "g3"), group("g3", "Night shift", "u1")],
    )
    desired = resolve(d, MAPPING, MODEL)
    assert desired.users["deep@x.io"].org_role == "admin"
    assert desired.users["deep@x.io"].reasons_for("admin") == (
        Reason(1, ("Admins", "Ops", "Night shift")),
    )


def test_a_cycle_of_nested_groups_terminates_and_still_finds_every_user() -> None:
    """Groups that contain each other resolve without hanging."""
    d = directory(
        [user("u1", "a@x.io"), user("u2", "b@x.io")],
        [group("g1", "Admins", "g2", "u1"), group("g2", "Loop", "g1", "u2")],
    )
    desired = resolve(d, MAPPING, MODEL)
    assert {k: u.org_role for k, u in desired.users.items()} == {
        "a@x.io": "admin",
        "b@x.io": "admin",
    }


def test_the_highest_org_role_and_highest_workspace_role_win_and_the_rest_is_lost() -> None:
    """member+admin gives admin; viewer+editor in one workspace gives editor; losers kept."""
    d = directory(
        [user("u1", "a@x.io")],
        [
            group("g1", "Staff", "u1"),
            group("g2", "Admins", "u1"),
            group("g3", "team-docs-viewer", "u1"),
            group("g4", "team-docs-editor", "u1"),
        ],
    )
    a = resolve(d, MAPPING, MODEL).users["a@x.io"]
    assert (a.org_role, dict(a.workspaces)) == ("admin", {"docs": ("editor",)})
    assert sorted((g.role, g.workspace) for g in a.lost) == [("member", None), ("viewer", "docs")]


def test_groups_are_found_by_name_case_insensitively_or_by_external_id() -> None:
    """'ADMINS' matches rule Admins; externalId:ext-7 matches the group with that id."""
    renamed = DirectoryGroup(
        id="g9", display_name="Renamed in IdP", external_id="ext-7", members=(GroupMember("u2"),)
    )
    d = directory(
        [user("u1", "a@x.io"), user("u2", "b@x.io")], [group("g1", "ADMINS", "u1"), renamed]
    )
    desired = resolve(d, MAPPING, MODEL)
    assert desired.users["a@x.io"].org_role == "admin"
    assert desired.users["b@x.io"].reasons_for("admin") == (Reason(2, ("Renamed in IdP",)),)


def test_a_workspace_grant_alone_gives_the_default_org_role_and_fills_templates() -> None:
    """team-web-viewer gives viewer in web, and the org role falls back to the default."""
    d = directory([user("u1", "a@x.io")], [group("g1", "team-web-viewer", "u1")])
    a = resolve(d, MAPPING, MODEL).users["a@x.io"]
    assert dict(a.workspaces) == {"web": ("viewer",)}
    assert a.org_role == "member"


def test_a_regex_capture_naming_an_unknown_role_is_a_warning_not_a_grant() -> None:
    """A templated org role that names no role of the model grants nothing and warns."""
    mapping = parse_mapping(
        {"role_model": "generic", "rules": [{"match": "^role-(?P<r>.+)$", "org_role": "{r}"}]}
    )
    d = directory([user("u1", "a@x.io")], [group("g1", "role-chief", "u1")])
    desired = resolve(d, mapping, MODEL)
    assert desired.users == {}
    assert desired.warnings == ("rules[0]: group 'role-chief' names unknown org role 'chief'",)


def test_explain_says_which_rule_and_group_gave_each_role_and_what_lost() -> None:
    """The explanation lists the winning admin grant and the member grant it beat."""
    d = directory(
        [user("u1", "a@x.io")],
        [group("g1", "Staff", "u1"), group("g2", "Admins", "g3"), group("g3", "Ops", "u1")],
    )
    text = render_explanation(explain(d, MAPPING, MODEL, "A@x.io"))
    assert "Org role: admin" in text
    assert "+ org admin from rules[1] (group Admins) via Admins > Ops: won" in text
    assert "x org member from rules[0] (group Staff) via Staff: lost to admin" in text


def test_explain_a_user_no_rule_maps_names_the_unmapped_policy() -> None:
    """A directory user without grants is explained by the unmapped policy."""
    d = directory([user("u1", "a@x.io")], [])
    e = explain(d, MAPPING, MODEL, "u1")
    assert (e.found, e.org_role, e.notes) == (
        True,
        None,
        ("no rule maps this user; policy unmapped is remove",),
    )
    assert explain(d, MAPPING, MODEL, "nobody@x.io").found is False


def test_a_rule_may_name_a_group_by_its_source_id() -> None:
    """group: 'id:g7' matches the group with that id whatever its display name."""
    mapping = parse_mapping(
        {"role_model": "generic", "rules": [{"group": "id:g7", "org_role": "admin"}]}
    )
    d = directory(
        [user("u1", "a@x.io"), user("u2", "b@x.io")],
        [group("g7", "Platform team", "u1"), group("g8", "id:g7", "u2")],
    )
    assert {k: u.org_role for k, u in resolve(d, mapping, MODEL).users.items()} == {
        "a@x.io": "admin"
    }


def test_two_users_with_one_identity_key_are_a_conflict_and_get_nothing() -> None:
    """straße@ and STRASSE@ fold to one key: both are refused, no grants merge, others stay."""
    d = directory(
        [user("u1", "straße@x.io"), user("u2", "STRASSE@x.io"), user("u3", "ok@x.io")],
        [group("g1", "Admins", "u1", "u3"), group("g2", "Staff", "u2")],
    )
    desired = resolve(d, MAPPING, MODEL)
    assert (dict(desired.conflicts), set(desired.users), desired.unmapped, set(desired.known)) == (
        {"strasse@x.io": ("u1", "u2")},
        {"ok@x.io"},
        frozenset(),
        {"ok@x.io"},
    )
    why = explain(d, MAPPING, MODEL, "straße@x.io")
    assert (why.org_role, why.in_scope, why.notes) == (
        None,
        True,
        ("directory users u1, u2 claim this identity: neither gets a role (identity_conflict)",),
    )


def test_full_width_and_ligature_letters_fold_into_the_plain_address() -> None:
    """NFKC: full-width fin@ and fin@ with the fi ligature are the same identity as fin@."""
    d = directory(
        [user("u1", "\uff46\uff49\uff4e@x.io"), user("u2", "\ufb01n@x.io"), user("u3", "fin@x.io")],
        [group("g1", "Admins", "u1", "u2", "u3")],
    )
    assert dict(resolve(d, MAPPING, MODEL).conflicts) == {"fin@x.io": ("u1", "u2", "u3")}
