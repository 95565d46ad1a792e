"""Each preset's special rules, checked on whole plans."""

from __future__ import annotations

from datetime import timedelta

from mappings import Operation, Reason, Skipped
from tests.unit.builders import NOW, directory, expected, group, member, plan_of, state, user

SOM = {
    "role_model": "shareofmodel",
    "rules": [
        {"group": "SOM Owners", "org_role": "owner"},
        {"group": "SOM Analysts", "org_role": "editor"},
        {
            "match": "^ws-(?P<workspace>[a-z0-9-]+)-(?P<role>viewer|editor)$",
            "workspace": "{workspace}",
            "workspace_role": "{role}",
        },
    ],
    "policy": {"max_removals": 10},
}
WS_A = Reason(2, ("ws-brand-a-viewer",))


def test_shareofmodel_emails_a_new_invitee_but_gives_an_existing_guest_access_silently() -> None:
    """A brand-new email gets invite(notify) as guest; an existing guest only gets access."""
    d = directory(
        [user("u1", "new@acme.com"), user("u2", "guest@acme.com"), user("u0", "olga@acme.com")],
        [group("g0", "SOM Owners", "u0"), group("g1", "ws-brand-a-viewer", "u1", "u2")],
    )
    s = state(
        member("olga@acme.com", "owner", idp_id="u0"),
        member("guest@acme.com", "guest", idp_id="u2"),
        workspaces={"brand-a": 0},
    )
    assert plan_of(SOM, d, s) == expected(
        Operation(
            "invite",
            "new@acme.com",
            org_role="guest",
            notify=True,
            idp_id="u1",
            reason=(Reason(-1),),
        ),
        Operation(
            "add_to_workspace",
            "guest@acme.com",
            workspace="brand-a",
            roles=("viewer",),
            notify=False,
            reason=(WS_A,),
        ),
        Operation(
            "add_to_workspace",
            "new@acme.com",
            workspace="brand-a",
            roles=("viewer",),
            notify=False,
            reason=(WS_A,),
        ),
    )


def test_shareofmodel_org_editors_get_no_workspace_grants_they_are_covered() -> None:
    """An editor in a workspace group gets nothing there; the grant is reported as covered."""
    d = directory(
        [user("u1", "ed@acme.com"), user("u0", "olga@acme.com")],
        [
            group("g0", "SOM Owners", "u0"),
            group("g1", "SOM Analysts", "u1"),
            group("g2", "ws-brand-a-viewer", "u1"),
        ],
    )
    s = state(
        member("olga@acme.com", "owner", idp_id="u0"),
        member("ed@acme.com", "guest", idp_id="u1"),
        workspaces={"brand-a": 0},
    )
    assert plan_of(SOM, d, s) == expected(
        Operation(
            "set_org_role",
            "ed@acme.com",
            from_="guest",
            to="editor",
            reason=(Reason(1, ("SOM Analysts",)),),
        ),
        skipped=(
            Skipped(
                "add_to_workspace",
                "ed@acme.com",
                "covered_by_org_role",
                "brand-a",
                "org role editor already gives access to brand-a",
            ),
        ),
    )


def _creating(credits: int) -> dict[str, object]:
    rules = [dict(r) for r in SOM["rules"]]  # type: ignore[attr-defined]
    rules[2].update(create_workspace=True, credits=credits)
    return {**SOM, "rules": rules}


def test_shareofmodel_pro_plan_cannot_create_a_second_workspace() -> None:
    """On the pro plan a grant into a new workspace is skipped as plan_limit."""
    d = directory([user("u1", "g@acme.com")], [group("g1", "ws-new-viewer", "u1")])
    s = state(member("g@acme.com", "guest", idp_id="u1"), workspaces={"brand-a": 0}, plan="pro")
    assert plan_of(_creating(10), d, s) == expected(
        skipped=(
            Skipped(
                "add_to_workspace",
                "g@acme.com",
                "plan_limit",
                "new",
                "workspace new does not exist",
            ),
            Skipped(
                "create_workspace",
                "",
                "plan_limit",
                "new",
                "the pro plan allows 1 workspace; the org has 1",
            ),
        )
    )


def test_shareofmodel_enterprise_creates_a_workspace_within_the_org_credits() -> None:
    """Enterprise creates the workspace first, then grants into it."""
    d = directory([user("u1", "g@acme.com")], [group("g1", "ws-new-viewer", "u1")])
    s = state(member("g@acme.com", "guest", idp_id="u1"), workspaces={"brand-a": 600}, credits=1000)
    assert plan_of(_creating(400), d, s) == expected(
        Operation("create_workspace", workspace="new", credits=400),
        Operation(
            "add_to_workspace",
            "g@acme.com",
            workspace="new",
            roles=("viewer",),
            notify=False,
            reason=(Reason(2, ("ws-new-viewer",)),),
        ),
    )


def test_shareofmodel_workspace_credits_may_not_pass_the_org_credits() -> None:
    """A new workspace whose credits overflow the org's pool is skipped as credit_limit."""
    d = directory([user("u1", "g@acme.com")], [group("g1", "ws-new-viewer", "u1")])
    s = state(member("g@acme.com", "guest", idp_id="u1"), workspaces={"brand-a": 600}, credits=1000)
    plan = plan_of(_creating(401), d, s)
    assert plan.operations == ()
    assert [(x.op, x.why) for x in plan.skipped] == [
        ("add_to_workspace", "credit_limit"),
        ("create_workspace", "credit_limit"),
    ]


def test_shareofmodel_owner_is_protected_from_removal() -> None:
    """An owner gone from the directory is not removed; the skip says protected_role."""
    d = directory([user("u0", "olga@acme.com")], [group("g0", "SOM Owners", "u0")])
    s = state(member("olga@acme.com", "owner"), member("otto@acme.com", "owner"))
    assert plan_of(SOM, d, s) == expected(
        skipped=(
            Skipped(
                "remove_from_org", "otto@acme.com", "protected_role", None, "owner is protected"
            ),
        )
    )


AIHUB = {
    "role_model": "aihub",
    "rules": [
        {"group": "AI Admins", "org_role": "admin"},
        {"group": "AI Users", "org_role": "user"},
        {
            "match": "^proj-(?P<workspace>[a-z]+)-(?P<role>user|manager)$",
            "workspace": "{workspace}",
            "workspace_role": "{role}",
        },
        {"role": "Admin", "org_role": "admin"},
    ],
    "policy": {"max_removals": 10},
}


def test_aihub_admins_are_never_removed_from_a_workspace() -> None:
    """An admin's workspace entries stay, and workspace grants to admins are covered."""
    d = directory(
        [user("a1", "ada@lab.example")],
        [group("g1", "AI Admins", "a1"), group("g2", "proj-vision-user", "a1")],
    )
    s = state(
        member("ada@lab.example", "admin", workspaces={"speech": ("manager",)}),
        workspaces={"vision": 0, "speech": 0},
    )
    assert plan_of(AIHUB, d, s) == expected(
        skipped=(
            Skipped(
                "add_to_workspace",
                "ada@lab.example",
                "covered_by_org_role",
                "vision",
                "org role admin already gives access to vision",
            ),
        )
    )


def test_aihub_removing_an_org_member_is_one_operation_that_cascades() -> None:
    """A user gone from the directory is removed from the org, not workspace by workspace."""
    d = directory([user("a1", "ada@lab.example")], [group("g1", "AI Admins", "a1")])
    s = state(
        member("ada@lab.example", "admin"),
        member("fay@lab.example", "user", workspaces={"vision": ("user",), "speech": ("user",)}),
        workspaces={"vision": 0, "speech": 0},
    )
    assert plan_of(AIHUB, d, s) == expected(
        Operation("remove_from_org", "fay@lab.example", detail="not in the directory")
    )


def test_aihub_app_role_admin_matches_like_a_group_case_insensitively() -> None:
    """An Entra app role value 'admin' satisfies a rule with role: Admin."""
    d = directory([user("a1", "eli@lab.example", roles=("admin",))], [])
    s = state(member("boss@lab.example", "admin", origin="manual"))
    assert plan_of(AIHUB, d, s) == expected(
        Operation(
            "invite",
            "eli@lab.example",
            org_role="admin",
            notify=True,
            idp_id="a1",
            reason=(Reason(3, ("role:Admin",)),),
        ),
        skipped=(
            Skipped(
                "remove_from_org",
                "boss@lab.example",
                "manual_member",
                None,
                "added by hand; the mapping leaves it alone",
            ),
        ),
    )


def test_aihub_a_demoted_admin_gets_the_workspace_roles_of_their_groups() -> None:
    """Admin -> user changes the org role and then grants the workspace role explicitly."""
    d = directory(
        [user("a1", "ada@lab.example"), user("a2", "ben@lab.example")],
        [
            group("g1", "AI Admins", "a1"),
            group("g2", "AI Users", "a2"),
            group("g3", "proj-vision-manager", "a2"),
        ],
    )
    s = state(
        member("ada@lab.example", "admin"),
        member("ben@lab.example", "admin"),
        workspaces={"vision": 0},
    )
    assert plan_of(AIHUB, d, s) == expected(
        Operation(
            "set_org_role",
            "ben@lab.example",
            from_="admin",
            to="user",
            reason=(Reason(1, ("AI Users",)),),
        ),
        Operation(
            "add_to_workspace",
            "ben@lab.example",
            workspace="vision",
            roles=("manager",),
            notify=True,
            reason=(Reason(2, ("proj-vision-manager",)),),
        ),
    )


SOTERAI = {
    "role_model": "soterai",
    "rules": [
        {"group": "Managers", "org_role": "manager"},
        {"group": "Staff", "org_role": "member"},
    ],
    "policy": {"acting_role": "manager", "max_removals": 10},
}


def test_soterai_a_manager_acting_role_never_touches_owners() -> None:
    """Demoting or removing an owner is skipped as not_permitted when the sync acts as manager."""
    d = directory([user("s1", "owen@sec.example")], [group("g1", "Staff", "s1")])
    s = state(member("owen@sec.example", "owner"), member("quinn@sec.example", "owner"))
    assert plan_of(SOTERAI, d, s) == expected(
        skipped=(
            Skipped(
                "remove_from_org",
                "quinn@sec.example",
                "not_permitted",
                None,
                "acting role manager may not manage owner",
            ),
            Skipped(
                "set_org_role",
                "owen@sec.example",
                "not_permitted",
                None,
                "acting role manager may not change owner to member",
            ),
        )
    )


def test_soterai_deactivation_revokes_access_at_once_and_pending_invites_are_resent() -> None:
    """A deactivated user is removed (not suspended); a 3-day-old invite is re-sent."""
    old = NOW - timedelta(days=3)
    d = directory(
        [user("s1", "nia@sec.example", active=False), user("s2", "pat@sec.example")],
        [group("g1", "Staff", "s1", "s2")],
    )
    s = state(
        member("owen@sec.example", "owner", origin="manual"),
        member("nia@sec.example", "member"),
        member("pat@sec.example", "member", status="invited", invited_at=old),
    )
    assert plan_of(SOTERAI, d, s) == expected(
        Operation("resend_invite", "pat@sec.example", invited_at=old),
        Operation("remove_from_org", "nia@sec.example", detail="deactivated in the IdP"),
        skipped=(
            Skipped(
                "remove_from_org",
                "owen@sec.example",
                "manual_member",
                None,
                "added by hand; the mapping leaves it alone",
            ),
        ),
    )


ANNOTATION = {
    "role_model": "annotation",
    "rules": [
        {"group": "Labelers", "org_role": "member"},
        {"group": "Devs", "workspace": "main", "workspace_role": "developer"},
        {"group": "PMs", "workspace": "main", "workspace_roles": ["project_manager"]},
    ],
    "policy": {"max_removals": 10},
}


def test_annotation_unites_role_sets_and_adds_every_member_to_the_only_workspace() -> None:
    """Roles from several rules are united; the single workspace adds 'member' for all."""
    d = directory(
        [user("n1", "bo@label.example"), user("n2", "amy@label.example")],
        [group("g1", "Labelers", "n1", "n2"), group("g2", "Devs", "n1"), group("g3", "PMs", "n1")],
    )
    s = state(
        member("bo@label.example", "member", workspaces={"main": ("developer",)}),
        workspaces={"main": 0},
    )
    implicit = Reason(-1, ("the org's only workspace",))
    assert plan_of(ANNOTATION, d, s) == expected(
        Operation(
            "invite",
            "amy@label.example",
            org_role="member",
            notify=True,
            idp_id="n2",
            reason=(Reason(0, ("Labelers",)),),
        ),
        Operation(
            "add_to_workspace",
            "amy@label.example",
            workspace="main",
            roles=("member",),
            notify=False,
            reason=(implicit,),
        ),
        Operation(
            "set_workspace_roles",
            "bo@label.example",
            workspace="main",
            from_=("developer",),
            to=("member", "project_manager", "developer"),
            reason=(Reason(1, ("Devs",)), Reason(2, ("PMs",))),
        ),
    )


def test_annotation_two_workspaces_mean_no_implicit_membership() -> None:
    """With two workspaces, org members are not added to any workspace implicitly."""
    d = directory([user("n2", "amy@label.example")], [group("g1", "Labelers", "n2")])
    s = state(member("amy@label.example", "member"), workspaces={"main": 0, "side": 0})
    assert plan_of(ANNOTATION, d, s) == expected()


def test_shareofmodel_a_plan_it_does_not_know_gets_the_smallest_workspace_limit() -> None:
    """An org on an unknown plan ('trial') may not create a second workspace either."""
    d = directory([user("u1", "g@acme.com")], [group("g1", "ws-new-viewer", "u1")])
    s = state(member("g@acme.com", "guest", idp_id="u1"), workspaces={"brand-a": 0}, plan="trial")
    plan = plan_of(_creating(10), d, s)
    assert (plan.operations, [x.why for x in plan.skipped]) == ((), ["plan_limit", "plan_limit"])
