"""The invariants every plan keeps and the policies a mapping sets, on whole plans."""

from __future__ import annotations

from datetime import timedelta

from mappings import DirectoryUser, Held, Operation, Reason, Skipped
from tests.unit.builders import NOW, directory, expected, group, member, plan_of, state, user

SOTERAI = {
    "role_model": "soterai",
    "rules": [
        {"group": "Owners", "org_role": "owner"},
        {"group": "Staff", "org_role": "member"},
    ],
    "policy": {"max_removals": 100},
}
STAFF = Reason(1, ("Staff",))


def test_the_last_owner_is_never_demoted() -> None:
    """A mapping that demotes the only owner leaves them owner and says last_owner."""
    d = directory([user("s1", "owen@x.io")], [group("g1", "Staff", "s1")])
    s = state(member("owen@x.io", "owner", idp_id="s1"))
    assert plan_of(SOTERAI, d, s) == expected(
        skipped=(Skipped("set_org_role", "owen@x.io", "last_owner", None, "the last owner stays"),)
    )


def test_of_two_owners_both_demoted_one_stays_owner() -> None:
    """Two owners both losing the role: one change goes through, the other is refused."""
    d = directory([user("s1", "a@x.io"), user("s2", "b@x.io")], [group("g1", "Staff", "s1", "s2")])
    s = state(member("a@x.io", "owner"), member("b@x.io", "owner"))
    assert plan_of(SOTERAI, d, s) == expected(
        Operation("set_org_role", "b@x.io", from_="owner", to="member", reason=(STAFF,)),
        skipped=(Skipped("set_org_role", "a@x.io", "last_owner", None, "the last owner stays"),),
    )


def test_an_owner_may_leave_when_another_member_becomes_owner_in_the_same_plan() -> None:
    """A promotion to owner counts: the old owner's removal is allowed."""
    d = directory([user("s2", "new@x.io")], [group("g1", "Owners", "s2")])
    s = state(member("old@x.io", "owner"), member("new@x.io", "member"))
    assert plan_of(SOTERAI, d, s) == expected(
        Operation(
            "set_org_role", "new@x.io", from_="member", to="owner", reason=(Reason(0, ("Owners",)),)
        ),
        Operation("remove_from_org", "old@x.io", detail="not in the directory"),
    )


def test_the_last_owner_survives_even_when_protected_roles_are_allowed() -> None:
    """allow_protected lets owners be removed, but never the last one."""
    doc = {
        "role_model": "generic",
        "rules": [{"group": "Admins", "org_role": "admin"}],
        "policy": {"allow_protected": True, "max_removals": 100},
    }
    d = directory([user("x1", "ann@x.io")], [group("g1", "Admins", "x1")])
    s = state(member("ann@x.io", "admin"), member("root@x.io", "owner"), member("r2@x.io", "owner"))
    assert plan_of(doc, d, s) == expected(
        Operation("remove_from_org", "root@x.io", detail="not in the directory"),
        skipped=(
            Skipped("remove_from_org", "r2@x.io", "last_owner", None, "the last owner stays"),
        ),
    )


def test_a_templated_role_the_acting_role_may_not_grant_is_skipped_as_not_permitted() -> None:
    """A regex rule that yields 'owner' for a manager acting role invites nobody as owner."""
    doc = {
        "role_model": "soterai",
        "rules": [{"match": "^role-(?P<r>[a-z]+)$", "org_role": "{r}"}],
        "policy": {"acting_role": "manager"},
    }
    d = directory([user("s1", "eve@x.io")], [group("g1", "role-owner", "s1")])
    assert plan_of(doc, d, state()) == expected(
        skipped=(
            Skipped(
                "invite",
                "eve@x.io",
                "not_permitted",
                None,
                "acting role manager may not assign owner",
            ),
        )
    )


GENERIC = {
    "role_model": "generic",
    "rules": [
        {"group": "Admins", "org_role": "admin"},
        {"match": "^team-(?P<ws>[a-z]+)$", "workspace": "{ws}", "workspace_role": "editor"},
    ],
    "policy": {"max_removals": 1},
}


def test_a_grant_into_an_unknown_workspace_is_skipped_without_create_workspace() -> None:
    """No create_workspace on the rule: the grant is skipped as unknown_workspace."""
    d = directory([user("x1", "kim@x.io")], [group("g1", "team-web", "x1")])
    s = state(member("kim@x.io", "member"))
    assert plan_of(GENERIC, d, s) == expected(
        skipped=(
            Skipped(
                "add_to_workspace",
                "kim@x.io",
                "unknown_workspace",
                "web",
                "workspace web does not exist",
            ),
        )
    )


def test_removals_over_max_removals_hold_the_plan() -> None:
    """Two removals against max_removals 1: the plan is held, its operations listed."""
    s = state(member("a@x.io", "member"), member("b@x.io", "member"), member("c@x.io", "member"))
    d = directory([user("x3", "c@x.io")], [group("g1", "Admins", "x3")])
    plan = plan_of(GENERIC, d, s)
    assert [o.op for o in plan.operations] == ["set_org_role", "remove_from_org", "remove_from_org"]
    assert plan.held == Held(
        "max_removals",
        "2 user(s) lose access or a role (2 removed); max_removals 1 allows 1",
        removals=2,
        limit=1,
        losses={"removal": 2},
    )


def test_a_percentage_max_removals_is_taken_of_the_current_members() -> None:
    """'50%' of four members allows two removals, not three."""
    doc = {**GENERIC, "policy": {"max_removals": "50%"}}
    s = state(*(member(f"{c}@x.io", "member") for c in "abcd"))
    keep_one = directory([user("x1", "a@x.io")], [group("g1", "Admins", "x1")])
    keep_two = directory(
        [user("x1", "a@x.io"), user("x2", "b@x.io")], [group("g1", "Admins", "x1", "x2")]
    )
    assert plan_of(doc, keep_two, s).held is None
    held = plan_of(doc, keep_one, s).held
    assert held is not None and (held.removals, held.limit) == (3, 2)


def test_a_review_policy_holds_any_plan_with_operations_but_not_an_empty_one() -> None:
    """apply: review holds a plan that changes something, and only then."""
    doc = {**GENERIC, "policy": {"apply": "review"}}
    d = directory([user("x1", "ann@x.io")], [group("g1", "Admins", "x1")])
    assert plan_of(doc, d, state()).held == Held(
        "review", "the mapping's policy asks for an admin's approval"
    )
    assert plan_of(doc, d, state(member("ann@x.io", "admin"))).held is None


def test_manual_members_are_left_alone_unless_the_mapping_manages_them() -> None:
    """A manual member is skipped as manual_member, and removed once managed."""
    s = state(member("hand@x.io", "member", origin="manual"))
    d = directory([], [])
    assert plan_of(GENERIC, d, s) == expected(
        skipped=(
            Skipped(
                "remove_from_org",
                "hand@x.io",
                "manual_member",
                None,
                "added by hand; the mapping leaves it alone",
            ),
        )
    )
    managed = {**GENERIC, "policy": {"manage_manual_members": True, "max_removals": 5}}
    assert plan_of(managed, d, s) == expected(
        Operation("remove_from_org", "hand@x.io", detail="not in the directory")
    )


def test_a_changed_email_with_the_same_idp_id_is_a_rename_not_remove_and_invite() -> None:
    """Same IdP id, new email: rename_member, and the member keeps their roles."""
    d = directory([user("x1", "Erin.Smith@x.io")], [group("g1", "Admins", "x1")])
    s = state(member("erin@x.io", "admin", idp_id="x1"))
    assert plan_of(GENERIC, d, s) == expected(
        Operation(
            "rename_member", "erin.smith@x.io", from_="erin@x.io", to="erin.smith@x.io", idp_id="x1"
        )
    )


def test_invites_are_resent_when_old_and_revoked_when_no_longer_wanted() -> None:
    """An 8-day-old invite is re-sent; an invite nobody maps any more is revoked."""
    old = NOW - timedelta(days=8)
    d = directory([user("x1", "ann@x.io")], [group("g1", "Admins", "x1")])
    s = state(
        member("ann@x.io", "admin", status="invited", invited_at=old),
        member("gone@x.io", "member", status="invited", invited_at=NOW),
    )
    assert plan_of(GENERIC, d, s) == expected(
        Operation("resend_invite", "ann@x.io", invited_at=old),
        Operation("revoke_invite", "gone@x.io", detail="not in the directory"),
    )


def test_a_fresh_invite_is_left_alone() -> None:
    """An invite younger than resend_after_days needs nothing."""
    d = directory([user("x1", "ann@x.io")], [group("g1", "Admins", "x1")])
    s = state(member("ann@x.io", "admin", status="invited", invited_at=NOW - timedelta(days=6)))
    assert plan_of(GENERIC, d, s) == expected()


def test_unmapped_keep_leaves_members_but_revokes_expired_invites() -> None:
    """With unmapped: keep, unmapped members stay; only an expired invite is revoked."""
    doc = {**GENERIC, "policy": {"unmapped": "keep", "max_removals": 1}}
    d = directory([user("x1", "a@x.io"), user("x2", "b@x.io")], [])
    s = state(
        member("a@x.io", "admin"),
        member("b@x.io", "member", status="invited", invited_at=NOW - timedelta(days=31)),
    )
    assert plan_of(doc, d, s) == expected(
        Operation("revoke_invite", "b@x.io", detail="the invite expired and no rule maps this user")
    )


def test_unmapped_default_role_invites_everyone_in_scope_with_the_default_role() -> None:
    """unmapped: default_role gives users no rule maps the default org role."""
    doc = {**GENERIC, "scope": {"groups": ["Everyone"]}, "policy": {"unmapped": "default_role"}}
    d = directory([user("x1", "a@x.io"), user("x2", "out@x.io")], [group("g1", "Everyone", "x1")])
    assert plan_of(doc, d, state()) == expected(
        Operation(
            "invite", "a@x.io", org_role="member", notify=True, idp_id="x1", reason=(Reason(-1),)
        )
    )


def test_deactivated_users_are_suspended_and_reactivated_when_back() -> None:
    """active=false suspends a joined member; active again reactivates a suspended one."""
    d = directory(
        [user("x1", "a@x.io", active=False), user("x2", "b@x.io")],
        [group("g1", "Admins", "x1", "x2")],
    )
    s = state(member("a@x.io", "admin"), member("b@x.io", "admin", status="suspended"))
    assert plan_of(GENERIC, d, s) == expected(
        Operation("reactivate", "b@x.io", reason=(Reason(0, ("Admins",)),)),
        Operation("suspend", "a@x.io", detail="deactivated in the IdP"),
    )


def test_a_plan_for_one_user_changes_only_that_user() -> None:
    """users= restricts the plan by email or IdP id; other users' changes are not listed."""
    d = directory([user("x1", "a@x.io"), user("x2", "b@x.io")], [group("g1", "Admins", "x1", "x2")])
    s = state(member("gone@x.io", "member"))
    only_a = expected(
        Operation(
            "invite",
            "a@x.io",
            org_role="admin",
            notify=True,
            idp_id="x1",
            reason=(Reason(0, ("Admins",)),),
        )
    )
    assert plan_of(GENERIC, d, s, users=["A@x.io"]) == only_a
    assert plan_of(GENERIC, d, s, users=["x1"]) == only_a


def test_a_plan_for_one_user_still_protects_the_last_owner_of_the_whole_org() -> None:
    """Restricting to the owner does not hide that they are the org's only owner."""
    d = directory([user("s1", "owen@x.io"), user("s2", "m@x.io")], [group("g1", "Staff", "s1")])
    s = state(member("owen@x.io", "owner", idp_id="s1"), member("m@x.io", "member"))
    plan = plan_of(SOTERAI, d, s, users=["s1"])
    assert plan.operations == ()
    assert [x.why for x in plan.skipped] == ["last_owner"]


def test_a_snapshot_in_doubt_removes_nobody() -> None:
    """complete=False turns every removal into a skipped one; grants still go through."""
    d = directory([user("x1", "a@x.io")], [group("g1", "Admins", "x1")])
    s = state(member("b@x.io", "member", workspaces={}))
    assert plan_of(GENERIC, d, s, complete=False) == expected(
        Operation(
            "invite",
            "a@x.io",
            org_role="admin",
            notify=True,
            idp_id="x1",
            reason=(Reason(0, ("Admins",)),),
        ),
        skipped=(
            Skipped(
                "remove_from_org",
                "b@x.io",
                "incomplete_snapshot",
                None,
                "the directory snapshot may be incomplete",
            ),
        ),
    )


def test_two_directory_users_with_one_identity_are_refused_not_merged() -> None:
    """Dup@x.io and dup@X.io (two sources): neither is invited; one skip says why."""
    d = directory(
        [user("x1", "Dup@x.io"), user("x2", "dup@X.io"), user("x3", "ok@x.io")],
        [group("g1", "Admins", "x2", "x3"), group("g2", "team-docs", "x1")],
    )
    assert plan_of(GENERIC, d, state(workspaces={"docs": 0})) == expected(
        Operation(
            "invite",
            "ok@x.io",
            org_role="admin",
            notify=True,
            idp_id="x3",
            reason=(Reason(0, ("Admins",)),),
        ),
        skipped=(
            Skipped(
                "invite",
                "dup@x.io",
                "identity_conflict",
                None,
                "directory users x1, x2 claim dup@x.io; no one is invited until the IdP "
                "tells them apart",
            ),
        ),
    )


def test_straße_and_strasse_are_one_identity_so_the_member_keeps_their_roles() -> None:
    """Casefolding makes both one key: the existing member is neither promoted nor removed."""
    d = directory(
        [
            user("x0", "root@corp.com"),
            user("x1", "strasse@corp.com"),
            user("x2", "straße@corp.com"),
        ],
        [group("g1", "Admins", "x2")],
    )
    s = state(member("root@corp.com", "owner"), member("strasse@corp.com", "member"))
    plan = plan_of({**GENERIC, "policy": {"unmapped": "keep"}}, d, s)
    assert plan == expected(
        skipped=(
            Skipped(
                "set_org_role",
                "strasse@corp.com",
                "identity_conflict",
                None,
                "directory users x1, x2 claim strasse@corp.com; the member is left as is until "
                "the IdP tells them apart",
            ),
        ),
    )


def test_an_email_equal_to_another_users_username_is_a_conflict() -> None:
    """A's primary email is B's userName: the key is refused; B keeps their own email's key."""
    a = DirectoryUser("xa", "a@x.io", emails=("boss@x.io",))
    b = DirectoryUser("xb", "boss@x.io", emails=("robert@x.io",))
    d = directory([a, b], [group("g1", "Admins", "xa", "xb")])
    plan = plan_of(GENERIC, d, state())
    assert plan == expected(
        Operation(
            "invite",
            "robert@x.io",
            org_role="admin",
            notify=True,
            idp_id="xb",
            reason=(Reason(0, ("Admins",)),),
        ),
        skipped=(
            Skipped(
                "invite",
                "boss@x.io",
                "identity_conflict",
                None,
                "directory users xa, xb claim boss@x.io; no one is invited until the IdP "
                "tells them apart",
            ),
        ),
    )


def test_a_member_whose_idp_user_joined_a_conflict_is_not_removed() -> None:
    """x1 changed email onto x2's: the member under x1's old email is left, not removed."""
    d = directory([user("x1", "b@x.io"), user("x2", "B@x.io")], [group("g1", "Admins", "x1", "x2")])
    s = state(member("a@x.io", "admin", idp_id="x1"))
    plan = plan_of(GENERIC, d, s)
    assert [(k.op, k.user, k.why) for k in plan.skipped] == [
        ("invite", "b@x.io", "identity_conflict"),
        ("set_org_role", "a@x.io", "identity_conflict"),
    ]
    assert plan.operations == ()


def test_a_deactivated_user_whose_email_also_changed_is_suspended_under_the_old_email() -> None:
    """The IdP id links the member to the inactive user: suspend, not remove as unknown."""
    d = directory([user("x1", "new@x.io", active=False)], [group("g1", "Admins", "x1")])
    s = state(member("root@x.io", "owner"), member("old@x.io", "admin", idp_id="x1"))
    assert plan_of(GENERIC, d, s) == expected(
        Operation("suspend", "old@x.io", detail="deactivated in the IdP"),
        skipped=(
            Skipped("remove_from_org", "root@x.io", "protected_role", None, "owner is protected"),
        ),
    )


def test_an_email_taken_by_another_member_is_not_renamed_onto() -> None:
    """If the new email already is a member, the old one is not renamed over it."""
    d = directory([user("x1", "b@x.io")], [group("g1", "Admins", "x1")])
    s = state(member("a@x.io", "admin", idp_id="x1"), member("b@x.io", "admin"))
    plan = plan_of({**GENERIC, "policy": {"max_removals": 5}}, d, s)
    assert [(o.op, o.user) for o in plan.operations] == [("remove_from_org", "a@x.io")]
