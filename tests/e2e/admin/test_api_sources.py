"""Admin API: sources with their last run, and 'run now' against a loopback SCIM server."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker

from sync.models import Source
from tests.e2e.admin.conftest import MAPPING, PEOPLE, Seeded, sign_in
from tests.fakes.scim import FakeScim


@pytest.fixture
def scim() -> Iterator[FakeScim]:
    """A loopback SCIM server serving the people of the mapping tests."""
    fake = FakeScim()
    groups = sorted({g for gs in PEOPLE.values() for g in gs})
    fake.load(
        {
            "users": [
                {"id": e, "userName": e, "active": True, "emails": [{"value": e, "primary": True}]}
                for e in PEOPLE
            ],
            "groups": [
                {
                    "id": f"g-{g}",
                    "displayName": g,
                    "members": [{"value": e} for e, gs in PEOPLE.items() if g in gs],
                }
                for g in groups
            ],
        }
    )
    yield fake
    fake.close()


@pytest.fixture
def acme(
    seed: Callable[..., Seeded],
    save_version: Callable[[int, str], int],
    session_factory: sessionmaker[Session],
    scim: FakeScim,
) -> Seeded:
    """A soterai org with a mapping and a scim-pull source pointing at the fake server."""
    org = seed("acme", "soterai", ["owner", "member"])
    save_version(org.id, MAPPING)
    with session_factory.begin() as s:
        s.add(
            Source(
                org_id=org.id,
                name="hr-scim",
                kind="scim-pull",
                config={"base_url": scim.url, "page_size": 2},
                secret=f"env:RB_TEST_SCIM_TOKEN_{org.id}",
            )
        )
    return org


def test_run_now_pulls_the_source_and_the_last_run_is_listed(
    client: FlaskClient, acme: Seeded, scim: FakeScim, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An owner runs the pull: the run succeeds, members are invited, sources show it."""
    monkeypatch.setenv(f"RB_TEST_SCIM_TOKEN_{acme.id}", scim.token)
    r = client.post("/api/v1/orgs/acme/sources/hr-scim/run", headers=acme.auth("owner"))
    assert r.status_code == 200, r.json
    assert r.json["outcome"] not in ("failed", "suspicious"), r.json
    members = client.get("/api/v1/orgs/acme/members", headers=acme.auth("owner")).json["members"]
    assert {m["email"] for m in members} == set(PEOPLE)
    (source,) = client.get("/api/v1/orgs/acme/sources", headers=acme.auth("member")).json["sources"]
    assert (source["name"], source["kind"]) == ("hr-scim", "scim-pull")
    assert source["last_run"]["id"] == r.json["id"]
    runs = client.get("/api/v1/orgs/acme/runs", headers=acme.auth("member")).json["runs"]
    assert r.json["id"] in {run["id"] for run in runs}


def test_a_failing_pull_is_reported_and_removes_no_one(
    client: FlaskClient, acme: Seeded, scim: FakeScim, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A wrong token: the run is recorded as failed with its reason, nothing changes."""
    monkeypatch.setenv(f"RB_TEST_SCIM_TOKEN_{acme.id}", "wrong-token")
    r = client.post("/api/v1/orgs/acme/sources/hr-scim/run", headers=acme.auth("owner"))
    assert (r.status_code, r.json["outcome"]) == (200, "failed")
    assert r.json["error"]
    assert client.get("/api/v1/orgs/acme/members", headers=acme.auth("owner")).json["members"] == []


def test_run_now_needs_a_managing_role_and_a_known_source(
    client: FlaskClient, acme: Seeded
) -> None:
    """A member key gets 403; an unknown source 404 naming it."""
    member = client.post("/api/v1/orgs/acme/sources/hr-scim/run", headers=acme.auth("member"))
    unknown = client.post("/api/v1/orgs/acme/sources/nope/run", headers=acme.auth("owner"))
    assert member.status_code == 403
    assert (unknown.status_code, unknown.json["field"]) == (404, "name")


def test_the_overview_runs_a_source_and_the_runs_page_shows_it(
    client: FlaskClient, acme: Seeded, scim: FakeScim, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The overview's 'Run now' form pulls the source; the run appears in the history."""
    monkeypatch.setenv(f"RB_TEST_SCIM_TOKEN_{acme.id}", scim.token)
    token = sign_in(client, acme.keys["owner"])
    assert 'action="/admin/sources/hr-scim/run"' in client.get("/admin/").get_data(as_text=True)
    r = client.post("/admin/sources/hr-scim/run", data={"csrf_token": token})
    assert r.status_code == 303 and r.headers["Location"].endswith("/admin/runs")
    html = client.get("/admin/runs").get_data(as_text=True)
    assert "apikey:" in html and "failed" not in html
