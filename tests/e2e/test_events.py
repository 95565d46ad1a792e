"""The event feed: written with each change, read back in order through the admin API
with an opaque cursor, numbered 1, 2, 3... per org with no gaps, even under concurrent
SCIM writers."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from threading import Barrier
from typing import Any

from flask import Flask
from openapi_spec_validator import validate
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from sync.credentials.apikeys import create_api_key
from sync.credentials.tokens import create_token
from sync.models import AuditEntry, Event, Organisation
from sync.store.mappings import save_mapping
from sync.store.orgs import create_org
from tests.e2e.conftest import Scim, group, user
from tests.fuzz.serving import served_app

DEFAULT_ROLE = """
role_model: aihub
rules:
  - group: "AI Admins"
    org_role: admin
policy:
  unmapped: default_role
  default_role: user
  max_removals: 1000
  acting_role: admin
"""
WRITERS = 16


def _org(app: Flask, session_factory: sessionmaker[Session]) -> tuple[Scim, dict[str, str]]:
    """An aihub org whose mapping invites every pushed user; its SCIM client and API
    headers."""
    with session_factory.begin() as s:
        org = create_org(s, "acme", "aihub")
        save_mapping(s, org.id, DEFAULT_ROLE)
        _, token = create_token(s, "acme")
        _, key = create_api_key(s, org.id, "admin", ["user", "admin"])
    return Scim(app.test_client(), token), {"Authorization": f"Bearer {key}"}


def _all_events(app: Flask, headers: dict[str, str], **query: str) -> list[dict[str, Any]]:
    """Every event, page by page, following ``next_cursor``."""
    client = app.test_client()
    out: list[dict[str, Any]] = []
    cursor = ""
    while True:
        args = {**query, **({"after": cursor} if cursor else {})}
        page = client.get("/api/v1/orgs/acme/events", query_string=args, headers=headers)
        assert page.status_code == 200, page.json
        body = page.json
        assert body is not None
        out.extend(body["events"])
        cursor = body["next_cursor"]
        if not body["has_more"]:
            return out


def test_scim_writes_that_invite_give_member_invited_events_numbered_from_one(
    app: Flask, session_factory: sessionmaker[Session]
) -> None:
    """Three SCIM user creates: member.invited with seq 1, 2, 3, the IdP id, the after
    state, and the plan and audit entry behind each; paged two at a time by cursor."""
    scim, headers = _org(app, session_factory)
    ids = []
    for name in ("ann@acme.com", "bob@acme.com", "cid@acme.com"):
        created = scim.post("/Users", user(name))
        assert created.status_code == 201
        ids.append(created.json["id"])
    events = _all_events(app, headers, limit="2")
    assert [(e["seq"], e["type"], e["email"]) for e in events] == [
        (1, "member.invited", "ann@acme.com"),
        (2, "plan.applied", None),
        (3, "member.invited", "bob@acme.com"),
        (4, "plan.applied", None),
        (5, "member.invited", "cid@acme.com"),
        (6, "plan.applied", None),
    ]
    invited = [e for e in events if e["type"] == "member.invited"]
    assert [e["idp_id"] for e in invited] == ids
    assert invited[0]["after"] == {"status": "invited", "org_role": "user"}
    assert all(e["plan_id"] and e["audit_id"] and e["org"] == "acme" for e in invited)
    assert all(e["id"].startswith("evt_") for e in events)
    only = _all_events(app, headers, types="member.invited")
    assert [e["seq"] for e in only] == [1, 3, 5]


def test_each_event_names_the_audit_entry_of_its_own_operation(
    app: Flask, session_factory: sessionmaker[Session]
) -> None:
    """25 users invited one write each, then promoted by one group create naming all 25:
    every event's ``audit_id`` is the audit entry of the same operation on the same person
    (on SQLite the ids of more than 20 entries are counted from the newest one)."""
    scim, headers = _org(app, session_factory)
    names = [f"p{i:02d}@acme.com" for i in range(25)]
    ids = [scim.post("/Users", user(name)).json["id"] for name in names]
    assert scim.post("/Groups", group("AI Admins", *ids)).status_code == 201
    events = [e for e in _all_events(app, headers) if e["type"] != "plan.applied"]
    assert len(events) == 50
    with session_factory() as s:
        entries = {a.id: (a.op, a.user) for a in s.scalars(select(AuditEntry))}
    kinds = {"member.invited": "invite", "member.org_role_changed": "set_org_role"}
    assert [entries[e["audit_id"]] for e in events] == [
        (kinds[e["type"]], e["email"]) for e in events
    ]
    assert sorted(e["email"] for e in events if e["type"] == "member.org_role_changed") == names


def test_a_deactivation_and_a_group_change_give_their_events(
    app: Flask, session_factory: sessionmaker[Session]
) -> None:
    """A user put in the admins group is promoted; deactivated before accepting, the invite
    is revoked (or the member suspended): the events say what it was before and after."""
    scim, headers = _org(app, session_factory)
    made = scim.post("/Users", user("ann@acme.com")).json
    assert scim.post("/Groups", group("AI Admins", made["id"])).status_code == 201
    replaced = scim.put(f"/Users/{made['id']}", user("ann@acme.com", active=False))
    assert replaced.status_code == 200
    kinds = [(e["type"], e["before"], e["after"]) for e in _all_events(app, headers)]
    assert ("member.org_role_changed", {"org_role": "user"}, {"org_role": "admin"}) in kinds
    changed = [k for k in kinds if k[0] in ("member.suspended", "invite.revoked")]
    assert changed and changed[0][1] == {"status": "invited", "org_role": "admin"}


def test_the_events_api_refuses_a_bad_cursor_or_type_and_is_typed_in_openapi(
    app: Flask, session_factory: sessionmaker[Session]
) -> None:
    """A cursor it never gave and an unknown type are 422 naming the parameter; the
    OpenAPI document has a response schema for the page, not an empty object."""
    _, headers = _org(app, session_factory)
    client = app.test_client()
    bad = client.get("/api/v1/orgs/acme/events?after=!!", headers=headers)
    assert bad.status_code == 422 and bad.json is not None and bad.json["field"] == "after"
    typo = client.get("/api/v1/orgs/acme/events?types=member.eaten", headers=headers)
    assert typo.status_code == 422 and typo.json is not None and typo.json["field"] == "types"
    limit = client.get("/api/v1/orgs/acme/events?limit=0", headers=headers)
    assert limit.status_code == 422
    doc = client.get("/api/v1/openapi.json").json
    assert doc is not None
    ok = doc["paths"]["/api/v1/orgs/{org}/events"]["get"]["responses"]["200"]
    ref = ok["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    page = doc["components"]["schemas"][ref]
    assert set(page["properties"]) == {"events", "next_cursor", "has_more"}
    event = doc["components"]["schemas"]["EventOut"]
    assert {"id", "seq", "type", "before", "after", "plan_id", "audit_id"} <= set(
        event["properties"]
    )
    validate(doc)


def test_sixteen_concurrent_scim_writers_leave_no_gap_in_the_sequence(
    session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    """Sixteen clients create users at once: every invite has its event, numbered
    1..n with no gap and no repeat (the database refuses a repeated (org, seq))."""
    with served_app(session_factory, tmp_path, DEFAULT_ROLE) as served:
        barrier = Barrier(WRITERS)

        def create(n: int) -> int:
            barrier.wait()
            return served.post("/Users", user(f"user{n}@acme.com")).status_code

        with ThreadPoolExecutor(WRITERS) as pool:
            codes = list(pool.map(create, range(WRITERS)))
        # a second wave, some writers racing on one name
        with ThreadPoolExecutor(WRITERS) as pool:
            more = list(
                pool.map(
                    lambda n: served.post("/Users", user(f"x{n % 4}@acme.com")), range(WRITERS)
                )
            )
    assert codes == [201] * WRITERS
    assert sorted({r.status_code for r in more}) == [201, 409]
    with session_factory() as s:
        org_id = s.scalar(select(Organisation.id).where(Organisation.name == "acme"))
        rows = s.execute(
            select(Event.seq, Event.type, Event.email).where(Event.org_id == org_id)
        ).all()
    seqs = sorted(r.seq for r in rows)
    assert seqs == list(range(1, len(seqs) + 1))
    invited = sorted(r.email for r in rows if r.type == "member.invited")
    assert invited == sorted(
        [f"user{n}@acme.com" for n in range(WRITERS)] + [f"x{n}@acme.com" for n in range(4)]
    )
