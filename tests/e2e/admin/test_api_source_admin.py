"""Admin API: an org's admins add and edit a pulled source (the secret write-only),
pause it, and queue "run now" for the scheduler, which runs the pull."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.test import TestResponse

from sync.models import AuditEntry, Source, SyncRun
from sync.scheduler import PullScheduler
from tests.e2e.admin.conftest import MAPPING, Seeded
from tests.fakes.scim import FakeScim


@pytest.fixture
def scim() -> Iterator[FakeScim]:
    """A loopback SCIM server with one user."""
    fake = FakeScim()
    e = "nina@acme.com"
    fake.load(
        {
            "users": [
                {"id": e, "userName": e, "active": True, "emails": [{"value": e, "primary": True}]}
            ],
            "groups": [{"id": "g-staff", "displayName": "Staff", "members": [{"value": e}]}],
        }
    )
    yield fake
    fake.close()


def _add(client: FlaskClient, org: Seeded, scim: FakeScim, role: str = "owner") -> TestResponse:
    body = {
        "name": "hr",
        "kind": "scim-pull",
        "config": {"base_url": scim.url},
        "secret": scim.token,
    }
    return client.post("/api/v1/orgs/acme/sources", headers=org.auth(role), json=body)


def test_a_source_is_added_and_edited_and_its_secret_never_shown(
    client: FlaskClient,
    seed: Callable[..., Seeded],
    scim: FakeScim,
    session_factory: sessionmaker[Session],
) -> None:
    """201 without the secret; stored sealed; an edit without a secret keeps it; an
    env: reference is refused; each change is an audit entry naming the key."""
    org = seed("acme", "soterai", ["owner"])
    r = _add(client, org, scim)
    assert r.status_code == 201, r.json
    assert r.json["has_secret"] is True and scim.token not in r.get_data(as_text=True)
    edit = {"kind": "scim-pull", "config": {"base_url": scim.url + "/"}, "schedule": "15m"}
    e = client.put("/api/v1/orgs/acme/sources/hr", headers=org.auth("owner"), json=edit)
    assert e.status_code == 200 and e.json["schedule"] == "15m" and e.json["has_secret"]
    sneaky = edit | {"secret": "file:/etc/passwd"}
    bad = client.put("/api/v1/orgs/acme/sources/hr", headers=org.auth("owner"), json=sneaky)
    assert (bad.status_code, bad.json["field"]) == (422, "secret")
    with session_factory.begin() as s:
        (row,) = s.scalars(select(Source))
        assert row.secret is not None and row.secret.startswith("fernet:")
        entries = list(s.execute(select(AuditEntry.op, AuditEntry.actor).order_by(AuditEntry.id)))
    assert [op for op, _ in entries] == ["create_source", "update_source"]
    assert all(actor.endswith(":owner key") for _, actor in entries)


def test_a_member_may_not_add_a_source(
    client: FlaskClient, seed: Callable[..., Seeded], scim: FakeScim
) -> None:
    """A key whose role manages no one: 403."""
    org = seed("acme", "soterai", ["member"])
    assert _add(client, org, scim, "member").status_code == 403


def test_run_now_is_queued_and_the_scheduler_runs_it(
    client: FlaskClient,
    seed: Callable[..., Seeded],
    save_version: Callable[[int, str], int],
    scim: FakeScim,
    session_factory: sessionmaker[Session],
) -> None:
    """202 and no run yet; a paused source refuses; the scheduler claims the request
    and the pull's run appears with the requester as its trigger."""
    org = seed("acme", "soterai", ["owner"])
    save_version(org.id, MAPPING)
    _add(client, org, scim)
    owner = org.auth("owner")
    assert client.post("/api/v1/orgs/acme/sources/hr/pause", headers=owner).json["enabled"] is False
    paused = client.post("/api/v1/orgs/acme/sources/hr/run-request", headers=owner)
    assert paused.status_code == 422
    client.post("/api/v1/orgs/acme/sources/hr/resume", headers=owner)
    r = client.post("/api/v1/orgs/acme/sources/hr/run-request", headers=owner)
    assert r.status_code == 202 and r.json["run_requested"] is True
    assert client.get("/api/v1/orgs/acme/runs", headers=owner).json["runs"] == []
    scheduler = PullScheduler(session_factory, secret_key="test-secret", refresh_seconds=3600)
    scheduler.start()
    try:
        runs: list[SyncRun] = []
        for _ in range(300):  # until the pull has finished (no speed is asserted)
            with session_factory.begin() as s:
                runs = list(s.scalars(select(SyncRun).where(SyncRun.finished_at.is_not(None))))
            if runs:
                break
            time.sleep(0.1)
    finally:
        scheduler.shutdown()
    assert runs and runs[0].trigger.startswith("request:apikey:")
    source = client.get("/api/v1/orgs/acme/sources", headers=owner).json["sources"][0]
    assert source["last_run"]["id"] == runs[0].id
