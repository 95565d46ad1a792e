"""Admin API: mapping versions, draft validation and preview, explain, plans."""

from __future__ import annotations

from collections.abc import Callable

from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from mappings.directory import Directory
from sync.models import AuditEntry, Base, Member
from tests.e2e.admin.conftest import IF_V1, MAPPING, PEOPLE, Seeded, directory_of


def _row_counts(session_factory: sessionmaker[Session]) -> dict[str, int]:
    with session_factory.begin() as s:
        return {
            t.name: s.scalar(select(func.count()).select_from(t)) or 0
            for t in Base.metadata.sorted_tables
        }


def test_the_current_mapping_and_its_versions_are_listed(client: FlaskClient, acme: Seeded) -> None:
    """GET mapping returns the saved YAML; versions list it."""
    r = client.get("/api/v1/orgs/acme/mapping", headers=acme.auth("member"))
    assert (r.json["version"], r.json["document"]) == (1, MAPPING)
    versions = client.get("/api/v1/orgs/acme/mapping/versions", headers=acme.auth("member"))
    assert [v["version"] for v in versions.json["versions"]] == [1]


def test_validate_points_at_the_rule_and_field_of_an_error(
    client: FlaskClient, acme: Seeded
) -> None:
    """A draft with an unknown role is invalid, and the error names rules[1].org_role."""
    draft = MAPPING.replace("org_role: manager", "org_role: boss")
    r = client.post(
        "/api/v1/orgs/acme/mapping/validate", headers=acme.auth("owner"), json={"document": draft}
    )
    assert r.status_code == 200
    assert r.json["valid"] is False
    assert r.json["errors"][0]["field"] == "rules[1].org_role"
    ok = client.post(
        "/api/v1/orgs/acme/mapping/validate", headers=acme.auth("owner"), json={"document": MAPPING}
    )
    assert (ok.json["valid"], ok.json["rules"]) == (True, 3)


def test_saving_a_draft_makes_a_new_version_and_a_diff(client: FlaskClient, acme: Seeded) -> None:
    """An owner saves version 2; the diff between 1 and 2 shows the changed line."""
    draft = MAPPING.replace("max_removals: 5", "max_removals: 1")
    r = client.put(
        "/api/v1/orgs/acme/mapping", headers=acme.auth("owner") | IF_V1, json={"document": draft}
    )
    assert (r.status_code, r.json["version"]) == (201, 2)
    d = client.get("/api/v1/orgs/acme/mapping/diff?base=1&other=2", headers=acme.auth("owner"))
    assert "-  max_removals: 5" in d.json["diff"] and "+  max_removals: 1" in d.json["diff"]
    missing = client.get(
        "/api/v1/orgs/acme/mapping/diff?base=1&other=9", headers=acme.auth("owner")
    )
    assert missing.status_code == 404


def test_an_invalid_draft_is_not_saved(client: FlaskClient, acme: Seeded) -> None:
    """Saving a bad draft answers 422 naming the field, and the version stays 1."""
    r = client.put(
        "/api/v1/orgs/acme/mapping",
        headers=acme.auth("owner") | IF_V1,
        json={"document": "rules: [{group: Staff, org_role: boss}]"},
    )
    assert (r.status_code, r.json["field"]) == (422, "rules[0].org_role")
    assert client.get("/api/v1/orgs/acme/mapping", headers=acme.auth("owner")).json["version"] == 1


def test_a_pattern_with_a_lone_surrogate_escape_is_a_422_not_a_crash(
    client: FlaskClient, acme: Seeded
) -> None:
    """YAML's "\\ud800" escape in a ``match`` pattern is half a UTF-16 pair: saving and
    previewing answer 422 at the rule, and nothing is saved."""
    document = (
        'rules: [{match: "^ws-\\ud800(?P<n>[0-9]+)$", workspace: "w{n}", workspace_role: viewer}]'
    )
    for method, path in (("put", "mapping"), ("post", "preview")):
        r = getattr(client, method)(
            f"/api/v1/orgs/acme/{path}",
            headers=acme.auth("owner") | IF_V1,
            json={"document": document},
        )
        assert (r.status_code, r.json["field"]) == (422, "rules[0].match"), r.json
        assert "lone surrogate" in r.json["detail"]
    assert client.get("/api/v1/orgs/acme/mapping", headers=acme.auth("owner")).json["version"] == 1


def test_a_manager_cannot_save_a_mapping_that_acts_as_owner(
    client: FlaskClient, acme: Seeded
) -> None:
    """A mapping acting as owner can make owners, which a soterai manager may not: 403."""
    r = client.put(
        "/api/v1/orgs/acme/mapping",
        headers=acme.auth("manager") | IF_V1,
        json={"document": MAPPING},
    )
    assert (r.status_code, r.json["field"]) == (403, "policy.acting_role")
    assert client.get("/api/v1/orgs/acme/mapping", headers=acme.auth("owner")).json["version"] == 1


def test_a_draft_preview_shows_the_plan_and_changes_nothing(
    client: FlaskClient, acme: Seeded, session_factory: sessionmaker[Session]
) -> None:
    """Preview: invites for nina and paul, removal of gone@, and not one row written."""
    before = _row_counts(session_factory)
    r = client.post(
        "/api/v1/orgs/acme/preview", headers=acme.auth("member"), json={"document": MAPPING}
    )
    assert r.status_code == 200
    ops = {(o["op"], o["user"]) for o in r.json["plan"]["operations"]}
    assert ("invite", "nina@acme.com") in ops and ("invite", "paul@acme.com") in ops
    assert ("remove_from_org", "gone@acme.com") in ops
    assert r.json["plan"]["summary"]["invite"] == 2
    assert "+ invite" in r.json["text"]
    assert _row_counts(session_factory) == before


def test_a_broken_draft_preview_is_a_422_naming_the_place(
    client: FlaskClient, acme: Seeded
) -> None:
    """Unparseable YAML: 422 whose field gives the line."""
    r = client.post(
        "/api/v1/orgs/acme/preview", headers=acme.auth("owner"), json={"document": "rules: [\n"}
    )
    assert r.status_code == 422
    assert r.json["field"].startswith("line ")


def test_explain_names_the_rule_and_group_and_what_lost(client: FlaskClient, acme: Seeded) -> None:
    """olga is owner by rules[0] via Owners; her Staff member grant lost to owner."""
    r = client.get("/api/v1/orgs/acme/explain/olga@acme.com", headers=acme.auth("member"))
    assert r.json["org_role"] == "owner"
    grants = {(g["role"], g["rule"], tuple(g["groups"]), g["won"]) for g in r.json["grants"]}
    assert ("owner", 0, ("Owners",), True) in grants
    assert ("member", 2, ("Staff",), False) in grants
    (owner,) = [g for g in r.json["grants"] if g["role"] == "owner"]
    assert [(w["role"], w["rule"]) for w in owner["won_over"]] == [("member", 2)]


def test_a_plan_is_created_shown_approved_and_applied_with_audit(
    client: FlaskClient, acme: Seeded, session_factory: sessionmaker[Session]
) -> None:
    """Owner creates a plan, reads it as text and Markdown, approves it and applies it."""
    made = client.post("/api/v1/orgs/acme/plans", headers=acme.auth("owner"), json={})
    assert made.status_code == 201
    plan_id, fp = made.json["id"], made.json["fingerprint"]
    text = client.get(f"/api/v1/orgs/acme/plans/{plan_id}?format=text", headers=acme.auth("owner"))
    md = client.get(
        f"/api/v1/orgs/acme/plans/{plan_id}?format=markdown", headers=acme.auth("owner")
    )
    assert "invite" in text.get_data(as_text=True) and md.mimetype == "text/markdown"
    wrong = client.post(
        f"/api/v1/orgs/acme/plans/{plan_id}/approve",
        headers=acme.auth("owner"),
        json={"fingerprint": "sha256:nope"},
    )
    assert wrong.status_code == 409
    ok = client.post(
        f"/api/v1/orgs/acme/plans/{plan_id}/approve",
        headers=acme.auth("owner"),
        json={"fingerprint": fp},
    )
    assert ok.json["status"] == "approved"
    applied = client.post(f"/api/v1/orgs/acme/plans/{plan_id}/apply", headers=acme.auth("owner"))
    assert applied.status_code == 200, applied.json
    assert applied.json["status"] == "applied"
    with session_factory.begin() as s:
        emails = set(s.scalars(select(Member.email)))
        audited = set(s.scalars(select(AuditEntry.op).where(AuditEntry.plan_id == plan_id)))
    assert "nina@acme.com" in emails and "gone@acme.com" not in emails
    assert {"approve_plan", "invite", "remove_from_org"} <= audited


def test_a_manager_cannot_approve_or_apply_a_plan_touching_an_owner(
    client: FlaskClient,
    acme: Seeded,
    put_directory: Callable[[int, Directory], None],
    session_factory: sessionmaker[Session],
) -> None:
    """When olga leaves Owners the plan demotes an owner: a manager key gets 403 twice."""
    people = dict(PEOPLE) | {"olga@acme.com": ["Staff"], "otto@acme.com": ["Owners"]}
    put_directory(acme.id, directory_of(people))
    made = client.post("/api/v1/orgs/acme/plans", headers=acme.auth("owner"), json={})
    plan_id, fp = made.json["id"], made.json["fingerprint"]
    approve = client.post(
        f"/api/v1/orgs/acme/plans/{plan_id}/approve",
        headers=acme.auth("manager"),
        json={"fingerprint": fp},
    )
    apply = client.post(f"/api/v1/orgs/acme/plans/{plan_id}/apply", headers=acme.auth("manager"))
    assert (approve.status_code, apply.status_code) == (403, 403)
    assert "owner" in approve.json["detail"]
    with session_factory.begin() as s:
        olga = s.scalars(select(Member.org_role).where(Member.email == "olga@acme.com")).one()
    assert olga == "owner"


def test_waiting_plans_are_listed_by_status(client: FlaskClient, acme: Seeded) -> None:
    """A held plan (over max_removals) is listed under status=held, and bad statuses are 422."""
    client.put(
        "/api/v1/orgs/acme/mapping",
        headers=acme.auth("owner") | IF_V1,
        json={"document": MAPPING.replace("max_removals: 5", "max_removals: 0")},
    )
    made = client.post("/api/v1/orgs/acme/plans", headers=acme.auth("owner"), json={})
    assert made.json["status"] == "held"
    held = client.get("/api/v1/orgs/acme/plans?status=pending,held", headers=acme.auth("member"))
    assert held.status_code == 200, held.json
    assert [p["id"] for p in held.json["plans"]] == [made.json["id"]]
    bad = client.get("/api/v1/orgs/acme/plans?status=weird", headers=acme.auth("member"))
    assert (bad.status_code, bad.json["field"]) == (422, "status")
    unapproved = client.post(
        f"/api/v1/orgs/acme/plans/{made.json['id']}/apply", headers=acme.auth("owner")
    )
    assert unapproved.status_code == 409


def test_a_key_of_another_org_gets_404_for_this_orgs_mapping_and_plans(
    client: FlaskClient, acme: Seeded, seed: Callable[..., Seeded]
) -> None:
    """An owner key of org 'other' sees none of acme's mapping, preview, explain or plans."""
    other = seed("other", "soterai", ["owner"])
    plan_id = client.post("/api/v1/orgs/acme/plans", headers=acme.auth("owner"), json={}).json["id"]
    doc = {"document": MAPPING, "fingerprint": "x"}
    calls = [
        ("get", "/api/v1/orgs/acme/mapping"),
        ("post", "/api/v1/orgs/acme/mapping/validate"),
        ("put", "/api/v1/orgs/acme/mapping"),
        ("get", "/api/v1/orgs/acme/mapping/versions"),
        ("get", "/api/v1/orgs/acme/mapping/diff?base=1&other=1"),
        ("post", "/api/v1/orgs/acme/preview"),
        ("get", "/api/v1/orgs/acme/explain/olga@acme.com"),
        ("get", "/api/v1/orgs/acme/plans"),
        ("post", "/api/v1/orgs/acme/plans"),
        ("get", f"/api/v1/orgs/acme/plans/{plan_id}"),
        ("post", f"/api/v1/orgs/acme/plans/{plan_id}/approve"),
        ("post", f"/api/v1/orgs/acme/plans/{plan_id}/apply"),
        ("get", f"/api/v1/orgs/other/plans/{plan_id}"),
        ("post", f"/api/v1/orgs/other/plans/{plan_id}/apply"),
    ]
    for method, path in calls:
        r = getattr(client, method)(path, headers=other.auth("owner"), json=doc)
        assert r.status_code == 404, (path, r.status_code)
    status = client.get(f"/api/v1/orgs/acme/plans/{plan_id}", headers=acme.auth("owner"))
    assert status.json["status"] == "pending"


def test_an_internal_error_is_a_bare_problem_without_internals(
    client: FlaskClient, acme: Seeded, session_factory: sessionmaker[Session]
) -> None:
    """A stored plan that cannot be read gives 500 'internal error' and no traceback."""
    from sync.models import SavedPlan

    with session_factory.begin() as s:
        bad = SavedPlan(
            org_id=acme.id,
            fingerprint="sha256:x",
            status="pending",
            body={"operations": [{"op": "invite", "reason": [{"no": 1}]}]},
        )
        s.add(bad)
        s.flush()
        plan_id = bad.id
    r = client.get(f"/api/v1/orgs/acme/plans/{plan_id}?format=text", headers=acme.auth("owner"))
    assert r.status_code == 500
    assert r.json == {"type": "about:blank", "title": "internal error", "status": 500}
    assert "Traceback" not in r.get_data(as_text=True)
