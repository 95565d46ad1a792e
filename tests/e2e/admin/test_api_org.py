"""Admin API: authentication, cross-org refusal, org, workspaces and members."""

from __future__ import annotations

from collections.abc import Callable

from flask.testing import FlaskClient
from openapi_spec_validator import validate
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from mappings.directory import Directory
from sync.models import AuditEntry, Member, Workspace
from tests.e2e.admin.conftest import Seeded, directory_of

SOTERAI_MEMBERS = [
    ("olga@acme.com", "owner", "joined", "idp", {}),
    ("otto@acme.com", "owner", "joined", "manual", {}),
    ("max@acme.com", "manager", "joined", "manual", {}),
    ("mia@acme.com", "member", "joined", "manual", {}),
]


OWNERS_MAPPING = """\
role_model: soterai
rules:
  - group: "Owners"
    org_role: owner
policy:
  max_removals: 5
"""


def _soterai(seed: Callable[..., Seeded], name: str = "acme") -> Seeded:
    return seed(name, "soterai", ["owner", "manager", "member"], SOTERAI_MEMBERS)


def test_a_request_without_a_key_gets_a_401_problem(client: FlaskClient) -> None:
    """No bearer key: 401, a problem document and a WWW-Authenticate challenge."""
    r = client.get("/api/v1/orgs/acme")
    assert r.status_code == 401
    assert r.mimetype == "application/problem+json"
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    assert "Bearer" in r.json["detail"]


def test_an_unknown_key_gets_a_401(client: FlaskClient, seed: Callable[..., Seeded]) -> None:
    """A made-up key is refused like no key."""
    _soterai(seed)
    r = client.get("/api/v1/orgs/acme", headers={"Authorization": "Bearer rbk_madeup"})
    assert r.status_code == 401
    assert r.json["title"] == "unauthorized"


def test_a_key_of_org_a_gets_404_for_everything_of_org_b(
    client: FlaskClient, seed: Callable[..., Seeded]
) -> None:
    """Every org-B path answers 404 to an org-A owner key, exactly as for a missing org."""
    a, _b = _soterai(seed, "a"), _soterai(seed, "b")
    paths = [
        ("get", "/api/v1/orgs/b"),
        ("get", "/api/v1/orgs/b/workspaces"),
        ("post", "/api/v1/orgs/b/workspaces"),
        ("get", "/api/v1/orgs/b/members"),
        ("put", "/api/v1/orgs/b/members"),
        ("get", "/api/v1/orgs/b/members/olga@acme.com"),
        ("get", "/api/v1/orgs/b/runs"),
        ("get", "/api/v1/orgs/b/audit"),
        ("get", "/api/v1/orgs/b/sources"),
        ("post", "/api/v1/orgs/b/sources/okta/run"),
    ]
    body = {"email": "eve@evil.com", "org_role": "owner", "name": "x"}
    for method, path in paths:
        r = getattr(client, method)(path, headers=a.auth("owner"), json=body)
        missing = getattr(client, method)(path.replace("/b", "/zz"), headers=a.auth("owner"))
        assert (r.status_code, r.json["title"]) == (404, "not found"), path
        assert missing.status_code == 404
    assert client.get("/api/v1/orgs", headers=a.auth("owner")).json == {
        "orgs": [{"name": "a", "role": "owner"}]
    }
    assert "eve@evil.com" not in str(
        client.get("/api/v1/orgs/a/members", headers=a.auth("owner")).json
    )


def test_the_org_shows_its_role_model_workspaces_and_members_by_role(
    client: FlaskClient, seed: Callable[..., Seeded]
) -> None:
    """GET the org: role model, roles, workspaces and how many members hold each role."""
    org = seed(
        "som",
        "shareofmodel",
        ["owner"],
        [
            ("o@x.com", "owner", "joined", "idp", {}),
            ("g@x.com", "guest", "joined", "idp", {"a": ["viewer"]}),
        ],
        workspaces={"a": 100},
        credits=1000,
    )
    r = client.get("/api/v1/orgs/som", headers=org.auth("owner"))
    assert r.status_code == 200
    assert r.json["role_model"] == "shareofmodel"
    assert r.json["org_roles"] == ["guest", "viewer", "editor", "owner"]
    assert r.json["workspaces"] == [{"name": "a", "credits": 100}]
    assert r.json["members_by_role"] == {"owner": 1, "guest": 1}


def test_members_list_org_role_status_workspace_roles_and_origin(
    client: FlaskClient, seed: Callable[..., Seeded]
) -> None:
    """The member list carries what an admin needs to see for each member."""
    org = seed(
        "som",
        "shareofmodel",
        ["owner"],
        [("g@x.com", "guest", "invited", "manual", {"a": ["editor"]})],
        workspaces={"a": 0},
    )
    r = client.get("/api/v1/orgs/som/members", headers=org.auth("owner"))
    (m,) = r.json["members"]
    assert (m["email"], m["org_role"], m["status"], m["origin"]) == (
        "g@x.com",
        "guest",
        "invited",
        "manual",
    )
    assert m["workspaces"] == {"a": ["editor"]}


def test_a_manager_may_add_a_manual_member_and_it_is_audited(
    client: FlaskClient, seed: Callable[..., Seeded], session_factory: sessionmaker[Session]
) -> None:
    """A soterai manager key adds a member: 201, invited, manual, one audit entry."""
    org = _soterai(seed)
    r = client.put(
        "/api/v1/orgs/acme/members",
        headers=org.auth("manager"),
        json={"email": "New@Acme.com", "org_role": "member"},
    )
    assert r.status_code == 201
    assert (r.json["email"], r.json["status"], r.json["origin"]) == (
        "new@acme.com",
        "invited",
        "manual",
    )
    with session_factory.begin() as s:
        entry = s.scalars(select(AuditEntry)).one()
    assert (entry.op, entry.user) == ("invite", "new@acme.com")
    assert entry.actor.endswith(":manager key")


def test_a_manager_cannot_change_an_owner_or_make_one(
    client: FlaskClient, seed: Callable[..., Seeded], session_factory: sessionmaker[Session]
) -> None:
    """soterai managers never manage owners: both directions are 403 and change nothing."""
    org = _soterai(seed)
    demote = client.put(
        "/api/v1/orgs/acme/members",
        headers=org.auth("manager"),
        json={"email": "otto@acme.com", "org_role": "member"},
    )
    promote = client.put(
        "/api/v1/orgs/acme/members",
        headers=org.auth("manager"),
        json={"email": "mia@acme.com", "org_role": "owner"},
    )
    assert (demote.status_code, promote.status_code) == (403, 403)
    assert "owner" in demote.json["detail"] and promote.json["field"] == "org_role"
    with session_factory.begin() as s:
        roles = dict(s.execute(select(Member.email, Member.org_role)).all())
        assert s.scalar(select(func.count()).select_from(AuditEntry)) == 0
    assert roles == {
        "olga@acme.com": "owner",
        "otto@acme.com": "owner",
        "max@acme.com": "manager",
        "mia@acme.com": "member",
    }


def test_an_owner_may_promote_a_member_to_owner(
    client: FlaskClient, seed: Callable[..., Seeded]
) -> None:
    """The owner key manages everyone, owners included."""
    org = _soterai(seed)
    r = client.put(
        "/api/v1/orgs/acme/members",
        headers=org.auth("owner"),
        json={"email": "mia@acme.com", "org_role": "owner"},
    )
    assert (r.status_code, r.json["org_role"]) == (200, "owner")


def test_a_member_key_may_read_but_not_write(
    client: FlaskClient, seed: Callable[..., Seeded]
) -> None:
    """A soterai member manages no one: reads work, writes are 403."""
    org = _soterai(seed)
    assert client.get("/api/v1/orgs/acme/members", headers=org.auth("member")).status_code == 200
    r = client.put(
        "/api/v1/orgs/acme/members",
        headers=org.auth("member"),
        json={"email": "z@acme.com", "org_role": "member"},
    )
    assert r.status_code == 403
    r = client.post("/api/v1/orgs/acme/workspaces", headers=org.auth("member"), json={"name": "w"})
    assert r.status_code == 403


def test_a_bad_member_body_is_a_422_naming_the_field(
    client: FlaskClient, seed: Callable[..., Seeded]
) -> None:
    """Invalid email, unknown role or unknown field: 422 with the field, nothing written."""
    org = _soterai(seed)
    cases = [
        ({"email": "not-an-email", "org_role": "member"}, "email"),
        ({"email": "a@acme.com", "org_role": "boss"}, "org_role"),
        ({"email": "a@acme.com", "colour": "red"}, "colour"),
    ]
    for body, field in cases:
        r = client.put("/api/v1/orgs/acme/members", headers=org.auth("owner"), json=body)
        assert (r.status_code, r.json["field"]) == (422, field), body
    members = client.get("/api/v1/orgs/acme/members", headers=org.auth("owner")).json["members"]
    assert len(members) == 4


def test_workspaces_are_created_within_the_plan_and_credits(
    client: FlaskClient, seed: Callable[..., Seeded], session_factory: sessionmaker[Session]
) -> None:
    """shareofmodel: credits may not pass the org's; a pro plan has one workspace."""
    ent = seed("ent", "shareofmodel", ["owner"], workspaces={"a": 600}, credits=1000)
    pro = seed("pro", "shareofmodel", ["owner"], workspaces={"a": 0}, plan="pro")
    ok = client.post(
        "/api/v1/orgs/ent/workspaces", headers=ent.auth("owner"), json={"name": "b", "credits": 400}
    )
    over = client.post(
        "/api/v1/orgs/ent/workspaces", headers=ent.auth("owner"), json={"name": "c", "credits": 1}
    )
    plan = client.post("/api/v1/orgs/pro/workspaces", headers=pro.auth("owner"), json={"name": "b"})
    assert ok.status_code == 201
    assert (over.status_code, over.json["field"]) == (422, "credits")
    assert "1000 of 1000 in use" in over.json["detail"]
    assert (plan.status_code, plan.json["field"]) == (422, "name")
    with session_factory.begin() as s:
        names = sorted(s.scalars(select(Workspace.name)))
    assert names == ["a", "a", "b"]


def test_the_openapi_document_lists_every_api_route(client: FlaskClient) -> None:
    """The document is public, OpenAPI 3.1, and names each route with its body schema."""
    r = client.get("/api/v1/openapi.json")
    assert r.status_code == 200
    doc = r.json
    assert doc["openapi"].startswith("3.1")
    assert "/api/v1/orgs/{org}/members" in doc["paths"]
    put = doc["paths"]["/api/v1/orgs/{org}/members"]["put"]
    assert put["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "MemberRoles"
    )
    assert "email" in doc["components"]["schemas"]["MemberRoles"]["properties"]
    validate(doc)  # a valid OpenAPI 3.1 document, or this raises naming the problem


def test_an_unknown_api_path_is_a_problem_document(client: FlaskClient) -> None:
    """Even a route that does not exist answers JSON, not an HTML page."""
    r = client.get("/api/v1/nothing-here")
    assert (r.status_code, r.mimetype) == (404, "application/problem+json")


def test_a_member_the_idp_manages_is_not_changed_by_hand(
    client: FlaskClient, seed: Callable[..., Seeded]
) -> None:
    """An idp-origin member's role belongs to the mapping: 409, role unchanged."""
    org = _soterai(seed)
    r = client.put(
        "/api/v1/orgs/acme/members",
        headers=org.auth("owner"),
        json={"email": "olga@acme.com", "org_role": "manager"},
    )
    assert (r.status_code, r.json["field"]) == (409, "email")
    after = client.get("/api/v1/orgs/acme/members/olga@acme.com", headers=org.auth("owner"))
    assert after.json["org_role"] == "owner"


def test_the_last_owner_cannot_be_demoted_by_hand(
    client: FlaskClient, seed: Callable[..., Seeded]
) -> None:
    """With one (manual) owner left, demoting them is a 409 and they stay owner."""
    org = seed("solo", "soterai", ["owner"], [("otto@acme.com", "owner", "joined", "manual", {})])
    r = client.put(
        "/api/v1/orgs/solo/members",
        headers=org.auth("owner"),
        json={"email": "otto@acme.com", "org_role": "member"},
    )
    assert r.status_code == 409 and "last owner" in r.json["detail"]
    after = client.get("/api/v1/orgs/solo/members/otto@acme.com", headers=org.auth("owner"))
    assert after.json["org_role"] == "owner"


def test_annotation_keys_manage_only_the_workspace_roles_below_them(
    client: FlaskClient, seed: Callable[..., Seeded]
) -> None:
    """A project_manager key may give annotation_manager but not developer."""
    org = seed("ann", "annotation", ["project_manager"], workspaces={"w1": 0, "w2": 0})
    ok = client.put(
        "/api/v1/orgs/ann/members",
        headers=org.auth("project_manager"),
        json={"email": "a@ann.com", "workspaces": {"w1": ["member", "annotation_manager"]}},
    )
    refused = client.put(
        "/api/v1/orgs/ann/members",
        headers=org.auth("project_manager"),
        json={"email": "b@ann.com", "workspaces": {"w1": ["developer"]}},
    )
    assert ok.status_code == 201, ok.json
    assert ok.json["workspaces"] == {"w1": ["annotation_manager", "member"]}
    assert (refused.status_code, refused.json["field"]) == (403, "workspaces")
    members = client.get("/api/v1/orgs/ann/members", headers=org.auth("project_manager"))
    assert [m["email"] for m in members.json["members"]] == ["a@ann.com"]


def test_an_invited_owner_does_not_let_the_last_joined_owner_be_demoted(
    client: FlaskClient, seed: Callable[..., Seeded]
) -> None:
    """boss is the only joined owner: inviting newowner as owner, then demoting boss, is a 409."""
    org = seed("solo", "soterai", ["owner"], [("boss@acme.com", "owner", "joined", "manual", {})])
    invited = client.put(
        "/api/v1/orgs/solo/members",
        headers=org.auth("owner"),
        json={"email": "newowner@acme.com", "org_role": "owner"},
    )
    assert (invited.status_code, invited.json["status"]) == (201, "invited")
    r = client.put(
        "/api/v1/orgs/solo/members",
        headers=org.auth("owner"),
        json={"email": "boss@acme.com", "org_role": "member"},
    )
    assert (r.status_code, r.json["detail"]) == (
        409,
        "boss@acme.com is the last owner who has joined; make someone else owner first",
    )
    after = client.get("/api/v1/orgs/solo/members/boss@acme.com", headers=org.auth("owner"))
    assert after.json["org_role"] == "owner"


def test_a_plan_removing_the_last_joined_owner_keeps_them_while_an_owner_is_invited(
    client: FlaskClient,
    seed: Callable[..., Seeded],
    put_directory: Callable[[int, Directory], None],
    save_version: Callable[[int, str], int],
) -> None:
    """The IdP drops boss, the only joined owner; the invited owner does not count: last_owner."""
    org = seed(
        "solo",
        "soterai",
        ["owner"],
        [
            ("boss@acme.com", "owner", "joined", "idp", {}),
            ("newowner@acme.com", "owner", "invited", "idp", {}),
        ],
    )
    put_directory(org.id, directory_of({"newowner@acme.com": ["Owners"]}))
    save_version(org.id, OWNERS_MAPPING)
    made = client.post("/api/v1/orgs/solo/plans", headers=org.auth("owner"), json={})
    assert made.status_code == 201, made.json
    plan = made.json["plan"]
    assert [o for o in plan["operations"] if o["user"] == "boss@acme.com"] == []
    assert [(s["op"], s["user"], s["why"]) for s in plan["skipped"]] == [
        ("remove_from_org", "boss@acme.com", "last_owner")
    ]


def test_a_workspace_role_is_refused_to_an_org_role_that_covers_every_workspace(
    client: FlaskClient, seed: Callable[..., Seeded]
) -> None:
    """shareofmodel viewers see every workspace, aihub admins manage them: 422, nothing stored."""
    som = seed(
        "som",
        "shareofmodel",
        ["owner"],
        [("v@x.com", "viewer", "joined", "manual", {})],
        workspaces={"a": 0},
    )
    hub = seed(
        "hub",
        "aihub",
        ["admin"],
        [("ad@x.com", "admin", "joined", "manual", {})],
        workspaces={"alpha": 0},
    )
    viewer = client.put(
        "/api/v1/orgs/som/members",
        headers=som.auth("owner"),
        json={"email": "v@x.com", "workspaces": {"a": ["editor"]}},
    )
    admin = client.put(
        "/api/v1/orgs/hub/members",
        headers=hub.auth("admin"),
        json={"email": "ad@x.com", "workspaces": {"alpha": ["user"]}},
    )
    assert (viewer.status_code, viewer.json["field"]) == (422, "workspaces.a")
    assert (admin.status_code, admin.json["field"]) == (422, "workspaces.alpha")
    assert "manager in every workspace" in admin.json["detail"]
    for org, name, who in ((som, "som", "owner"), (hub, "hub", "admin")):
        members = client.get(f"/api/v1/orgs/{name}/members", headers=org.auth(who)).json
        assert [m["workspaces"] for m in members["members"]] == [{}]
