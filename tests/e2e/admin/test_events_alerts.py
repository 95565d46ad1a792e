"""Alerts and webhooks through the admin API and pages: a held plan is an event, an email
to the org's owners (once an hour) and a line on the overview; webhooks are managed
through the API with the secret shown once."""

from __future__ import annotations

import re
from collections.abc import Callable

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from mappings.directory import Directory
from sync.models import OutboxMessage, Webhook
from sync.reconcile import reconcile
from tests.e2e.admin.conftest import CSRF, MAPPING, Seeded, directory_of, sign_in

TIGHT = MAPPING.replace("max_removals: 5", "max_removals: 1")


def _alerts(session_factory: sessionmaker[Session]) -> list[tuple[str, str]]:
    with session_factory() as s:
        rows = s.execute(
            select(OutboxMessage.kind, OutboxMessage.recipient)
            .where(OutboxMessage.kind.like("alert:%"))
            .order_by(OutboxMessage.id)
        ).all()
    return [(r.kind, r.recipient) for r in rows]


def test_a_held_plan_is_an_event_an_email_to_the_owners_and_a_line_on_the_overview(
    client: FlaskClient,
    acme: Seeded,
    session_factory: sessionmaker[Session],
    put_directory: Callable[[int, Directory], None],
    save_version: Callable[[int, str], int],
) -> None:
    """Over the loss budget the plan is held: plan.held in the feed, one alert email to
    olga (the joined owner), none for a second held plan within the hour."""
    save_version(acme.id, TIGHT)
    put_directory(acme.id, directory_of({"olga@acme.com": ["Owners"]}))
    assert reconcile(session_factory, acme.id, dry_run=False, trigger="test").status == "held"
    feed = client.get("/api/v1/orgs/acme/events", headers=acme.auth("owner")).json
    assert feed is not None
    held = [e for e in feed["events"] if e["type"] == "plan.held"]
    assert len(held) == 1 and held[0]["plan_id"] and held[0]["detail"]["why"] == "max_removals"
    assert _alerts(session_factory) == [("alert:plan.held", "olga@acme.com")]
    put_directory(acme.id, directory_of({"olga@acme.com": ["Owners"], "nina@acme.com": []}))
    assert reconcile(session_factory, acme.id, dry_run=False, trigger="test").status == "held"
    again = client.get("/api/v1/orgs/acme/events?types=plan.held", headers=acme.auth("owner"))
    assert again.json is not None and len(again.json["events"]) == 2
    assert _alerts(session_factory) == [("alert:plan.held", "olga@acme.com")]  # quiet hour
    sign_in(client, acme.keys["owner"])
    page = client.get("/admin/").get_data(as_text=True)
    assert 'id="alerts"' in page and "a plan waits for approval" in page


def test_webhooks_are_managed_through_the_api_with_the_secret_shown_once(
    client: FlaskClient, acme: Seeded, session_factory: sessionmaker[Session]
) -> None:
    """POST answers 201 with whsec_ once; GET lists without it; a private address is a
    422 naming url; a read-only role gets 403; DELETE removes."""
    owner = acme.auth("owner")
    private = client.post(
        "/api/v1/orgs/acme/webhooks", json={"url": "http://10.0.0.8/"}, headers=owner
    )
    assert private.status_code == 422 and private.json is not None
    assert private.json["field"] == "url"
    refused = client.post(
        "/api/v1/orgs/acme/webhooks",
        json={"url": "http://93.184.216.34/hook"},
        headers=acme.auth("member"),
    )
    assert refused.status_code == 403
    made = client.post(
        "/api/v1/orgs/acme/webhooks",
        json={"url": "http://93.184.216.34/hook", "types": ["member.invited"]},
        headers=owner,
    )
    assert made.status_code == 201, made.json
    body = made.json
    assert body is not None and body["secret"].startswith("whsec_")
    listed = client.get("/api/v1/orgs/acme/webhooks", headers=owner)
    assert listed.json is not None and body["secret"] not in listed.get_data(as_text=True)
    assert listed.json["webhooks"][0]["types"] == ["member.invited"]
    hook = body["webhook"]["id"]
    nothing = client.post(f"/api/v1/orgs/acme/webhooks/{hook}/replay", json={}, headers=owner)
    assert nothing.status_code == 422  # no failed events to replay
    failures = client.get(f"/api/v1/orgs/acme/webhooks/{hook}/failures", headers=owner)
    assert failures.status_code == 200 and failures.json == {"failures": []}
    gone = client.delete(f"/api/v1/orgs/acme/webhooks/{hook}", headers=owner)
    assert gone.status_code == 204
    with session_factory() as s:
        assert s.scalars(select(Webhook)).all() == []
    assert client.delete(f"/api/v1/orgs/acme/webhooks/{hook}", headers=owner).status_code == 404


def test_the_webhooks_page_adds_shows_the_secret_once_and_removes(
    client: FlaskClient, acme: Seeded, session_factory: sessionmaker[Session]
) -> None:
    """The form adds an endpoint and the answer shows its secret; the listing never does;
    a refused URL is a message on the page; Remove deletes it."""
    sign_in(client, acme.keys["owner"])
    page = client.get("/admin/webhooks").get_data(as_text=True)
    match = CSRF.search(page)
    assert match and "No webhooks yet." in page
    token = match.group(1)
    form = {"csrf_token": token, "url": "http://93.184.216.34/hook", "types": "plan.held"}
    added = client.post("/admin/webhooks", data=form).get_data(as_text=True)
    secret = re.search(r"<code>(whsec_[^<]+)</code>", added)
    assert secret is not None
    listing = client.get("/admin/webhooks").get_data(as_text=True)
    assert "93.184.216.34" in listing and secret.group(1) not in listing
    refused = client.post(
        "/admin/webhooks",
        data={"csrf_token": token, "url": "http://127.0.0.1/"},
        headers={"Referer": "http://localhost/admin/webhooks"},
        follow_redirects=True,
    )
    assert "loopback or private" in refused.get_data(as_text=True)
    with session_factory() as s:
        hook = s.scalars(select(Webhook)).one()
    assert hook.types == ["plan.held"]
    gone = client.post(f"/admin/webhooks/{hook.id}/remove", data={"csrf_token": token})
    assert gone.status_code == 303
    assert "No webhooks yet." in client.get("/admin/webhooks").get_data(as_text=True)
