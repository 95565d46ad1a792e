"""Admin API: every list paged by an opaque cursor, responses that match the OpenAPI
document's schemas, and the mapping PUT guarded by If-Match."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jsonschema
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker

from sync.store.audit import record_audit
from tests.e2e.admin.conftest import IF_V1, MAPPING, Seeded


def _walk(client: FlaskClient, url: str, key: str, headers: dict[str, str]) -> list[list[Any]]:
    """Every page of a list, following next_cursor."""
    pages: list[list[Any]] = []
    cursor: str | None = None
    while True:
        sep = "&" if "?" in url else "?"
        r = client.get(url + (f"{sep}cursor={cursor}" if cursor else ""), headers=headers)
        assert r.status_code == 200, r.json
        pages.append(r.json[key])
        cursor = r.json["next_cursor"]
        if cursor is None:
            return pages


def test_members_come_a_page_at_a_time_each_once_in_email_order(
    client: FlaskClient, seed: Callable[..., Seeded]
) -> None:
    """Seven members at limit=3: pages of 3, 3, 1, every email once, by email."""
    emails = [f"user{i}@acme.com" for i in range(7)]
    org = seed("acme", "soterai", ["owner"], [(e, "member", "joined", "idp", {}) for e in emails])
    pages = _walk(client, "/api/v1/orgs/acme/members?limit=3", "members", org.auth("owner"))
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [m["email"] for p in pages for m in p] == sorted(emails)


def test_member_filters_narrow_the_list(client: FlaskClient, seed: Callable[..., Seeded]) -> None:
    """role=, status= and q= each narrow the members listed."""
    org = seed(
        "acme",
        "soterai",
        ["owner"],
        [
            ("olga@acme.com", "owner", "joined", "idp", {}),
            ("max@acme.com", "manager", "invited", "manual", {}),
            ("nina@acme.com", "member", "joined", "idp", {}),
        ],
    )

    def emails(query: str) -> list[str]:
        r = client.get(f"/api/v1/orgs/acme/members?{query}", headers=org.auth("owner"))
        return [m["email"] for m in r.json["members"]]

    assert emails("role=manager") == ["max@acme.com"]
    assert emails("status=joined") == ["nina@acme.com", "olga@acme.com"]
    assert emails("q=NIN") == ["nina@acme.com"]


def test_audit_pages_skip_nothing_and_repeat_nothing_while_entries_are_added(
    client: FlaskClient, acme: Seeded, session_factory: sessionmaker[Session]
) -> None:
    """Twelve entries read 5 at a time, newest first; an entry written meanwhile is not
    repeated nor does it shift the pages."""
    with session_factory.begin() as s:
        for i in range(12):
            record_audit(s, acme.id, "test", "note", f"u{i}@acme.com", {"i": i})
    first = client.get("/api/v1/orgs/acme/audit?limit=5&op=note", headers=acme.auth("owner")).json
    with session_factory.begin() as s:
        record_audit(s, acme.id, "test", "note", "late@acme.com", {"i": 99})
    seen = [e["detail"]["i"] for e in first["entries"]]
    cursor = first["next_cursor"]
    while cursor:
        r = client.get(
            f"/api/v1/orgs/acme/audit?limit=5&op=note&cursor={cursor}", headers=acme.auth("owner")
        )
        seen += [e["detail"]["i"] for e in r.json["entries"]]
        cursor = r.json["next_cursor"]
    assert seen == list(range(11, -1, -1))


def test_a_bad_cursor_or_limit_is_a_422_naming_it(client: FlaskClient, acme: Seeded) -> None:
    """A made-up cursor, another list's cursor and a limit out of range are 422 problems."""
    with_runs = client.get("/api/v1/orgs/acme/members?limit=1", headers=acme.auth("owner")).json
    members_cursor = with_runs["next_cursor"]
    assert members_cursor is not None
    for url, field in [
        ("/api/v1/orgs/acme/audit?cursor=bm9wZQ", "cursor"),
        (f"/api/v1/orgs/acme/audit?cursor={members_cursor}", "cursor"),
        ("/api/v1/orgs/acme/plans?limit=0", "limit"),
        ("/api/v1/orgs/acme/runs?limit=100000", "limit"),
    ]:
        r = client.get(url, headers=acme.auth("owner"))
        assert (r.status_code, r.json["field"]) == (422, field), url


def _schema_of(doc: dict[str, Any], path: str, method: str, status: int) -> dict[str, Any]:
    content = doc["paths"][path][method]["responses"][str(status)]["content"]
    ref = content["application/json"]["schema"]["$ref"]
    return {"$ref": ref, "components": doc["components"]}


def test_real_responses_match_the_openapi_schemas(client: FlaskClient, acme: Seeded) -> None:
    """Each list, the org, the mapping, a plan, a save, the events page and the webhooks
    validate against the document."""
    doc = client.get("/api/v1/openapi.json").json
    owner = acme.auth("owner")
    plan = client.post("/api/v1/orgs/acme/plans", headers=owner, json={})
    checks: list[tuple[str, str, int, Any]] = [
        ("/api/v1/orgs/{org}/plans", "post", 201, plan),
        ("/api/v1/orgs/{org}", "get", 200, client.get("/api/v1/orgs/acme", headers=owner)),
        ("/api/v1/orgs", "get", 200, client.get("/api/v1/orgs", headers=owner)),
    ]
    for name in ("members", "audit", "plans", "runs", "mapping", "sources", "workspaces"):
        checks.append(
            (
                f"/api/v1/orgs/{{org}}/{name}",
                "get",
                200,
                client.get(f"/api/v1/orgs/acme/{name}", headers=owner),
            )
        )
    saved = client.put(
        "/api/v1/orgs/acme/mapping", headers=owner | IF_V1, json={"document": MAPPING}
    )
    checks.append(("/api/v1/orgs/{org}/mapping", "put", 201, saved))
    events = client.get("/api/v1/orgs/acme/events?limit=2", headers=owner)
    assert events.json["events"], "the plan made events to check"
    hook = client.post(  # never delivered: no worker runs in this test
        "/api/v1/orgs/acme/webhooks", headers=owner, json={"url": "http://93.184.216.34/hook"}
    )
    hook_path = "/api/v1/orgs/{org}/webhooks/{webhook_id}"
    hook_id = hook.json["webhook"]["id"]
    checks += [
        ("/api/v1/orgs/{org}/events", "get", 200, events),
        ("/api/v1/orgs/{org}/webhooks", "post", 201, hook),
        ("/api/v1/orgs/{org}/webhooks", "get", 200, client.get(
            "/api/v1/orgs/acme/webhooks", headers=owner)),
        (f"{hook_path}/failures", "get", 200, client.get(
            f"/api/v1/orgs/acme/webhooks/{hook_id}/failures", headers=owner)),
    ]  # fmt: skip
    for path, method, status, response in checks:
        assert response.status_code == status, (path, response.json)
        jsonschema.validate(response.json, _schema_of(doc, path, method, status))
    removed = client.delete(f"/api/v1/orgs/acme/webhooks/{hook_id}", headers=owner)
    assert removed.status_code == 204 and "204" in doc["paths"][hook_path]["delete"]["responses"]
    members = doc["components"]["schemas"]["MemberList"]
    assert set(members["required"]) == {"members", "next_cursor"}


def test_the_mapping_put_needs_the_etag_of_the_newest_version(
    client: FlaskClient, acme: Seeded
) -> None:
    """GET gives ETag "v1"; PUT without If-Match is 428; of two saves made from v1 the
    second is 412 and changes nothing."""
    owner = acme.auth("owner")
    got = client.get("/api/v1/orgs/acme/mapping", headers=owner)
    assert got.headers["ETag"] == '"v1"'
    draft = {"document": MAPPING.replace("max_removals: 5", "max_removals: 4")}
    missing = client.put("/api/v1/orgs/acme/mapping", headers=owner, json=draft)
    assert (missing.status_code, missing.json["field"]) == (428, "If-Match")
    mine = client.put("/api/v1/orgs/acme/mapping", headers=owner | IF_V1, json=draft)
    assert (mine.status_code, mine.headers["ETag"]) == (201, '"v2"')
    theirs = client.put(
        "/api/v1/orgs/acme/mapping", headers=owner | IF_V1, json={"document": MAPPING}
    )
    assert theirs.status_code == 412 and "version 2" in theirs.json["detail"]
    now = client.get("/api/v1/orgs/acme/mapping", headers=owner).json
    assert (now["version"], now["document"]) == (2, draft["document"])


def test_the_mapping_schema_is_served_without_a_key(client: FlaskClient) -> None:
    """GET /api/v1/mapping.schema.json needs no key, and the test mapping validates."""
    import yaml

    r = client.get("/api/v1/mapping.schema.json")
    assert r.status_code == 200 and r.mimetype == "application/schema+json"
    jsonschema.validate(yaml.safe_load(MAPPING), r.get_json(force=True))
    bad = {"rules": [{"group": "Staff"}]}
    assert list(jsonschema.Draft202012Validator(r.get_json(force=True)).iter_errors(bad))
