"""A member signed in through the org's identity provider acts with the workspace roles
they hold, read on every request: in an annotation org (visibility per workspace) a
project manager of w1 sees on the admin pages exactly what a key scoped to
{w1: project_manager} sees, on the pages and through the API; once the role is taken
away, the next page no longer shows what it showed."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker

from sync.credentials.apikeys import create_api_key
from tests.e2e.admin.conftest import MemberSpec, Seeded, set_provider, sign_in
from tests.fakes.oidc import FakeOidc

# pia (added by hand, so an admin may change her roles) holds two roles in w1 (the project
# manager one counts) and a plain one in w2
PIA: MemberSpec = (
    "pia@ann.com",
    "member",
    "joined",
    "manual",
    {"w1": ["member", "project_manager"], "w2": ["member"]},
)
MEMBERS: list[MemberSpec] = [
    PIA,
    ("anna@ann.com", "member", "joined", "idp", {"w1": ["member"]}),
    ("amir@ann.com", "member", "joined", "idp", {"w1": ["annotation_manager"]}),
    ("dev@ann.com", "member", "joined", "idp", {"w1": ["developer"]}),  # above a PM
    ("bo@ann.com", "member", "joined", "idp", {"w2": ["member"]}),
    ("wes@ann.com", "member", "joined", "idp", {"w3": ["annotation_manager"]}),
]
_ROW = re.compile(
    r'<td><a href="/admin/members/[^"]+">([^<]+)</a>.*?</td>.*?<td>([^<]*)</td>\s*</tr>', re.S
)


@pytest.fixture
def ann(seed: Callable[..., Seeded], client: FlaskClient, provider: FakeOidc) -> Seeded:
    """The annotation org: six members across w1, w2 and w3, sign-in through ``provider``
    (set with the org role's key: annotation's top org role is member)."""
    org = seed(
        "ann", "annotation", ["member", "admin"], MEMBERS, workspaces={"w1": 0, "w2": 0, "w3": 0}
    )
    set_provider(client, org, provider, "member")
    return org


def _members_page(client: FlaskClient) -> dict[str, str]:
    """The overview's members table: email -> the workspace roles shown."""
    r = client.get("/admin/")
    assert r.status_code == 200
    text = r.get_data(as_text=True)
    table = text[text.index('<table id="members">') :]
    return {html.unescape(e): html.unescape(w) for e, w in _ROW.findall(table)}


def _oidc_client(app: Flask, provider: FakeOidc, email: str) -> FlaskClient:
    client = app.test_client()
    provider.sign_in_as(email)
    start = client.get("/admin/signin/oidc/ann")
    assert start.status_code == 302
    answer = urlsplit(provider.visit(start.location))
    done = client.get(f"{answer.path}?{answer.query}")
    assert done.status_code == 302, done.get_data(as_text=True)
    return client


def _key_client(app: Flask, key: str) -> FlaskClient:
    client = app.test_client()
    sign_in(client, key)
    return client


def _key(factory: sessionmaker[Session], org: Seeded, workspaces: dict[str, str]) -> str:
    with factory.begin() as s:
        return create_api_key(s, org.id, "member", ["member"], f"key {workspaces}", workspaces)[1]


def _api_members(client: FlaskClient, key: str) -> dict[str, str]:
    """The API's members list with ``key``, shown as the page shows workspaces."""
    r = client.get("/api/v1/orgs/ann/members", headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 200, r.json
    return {
        m["email"]: "; ".join(f"{ws}: {', '.join(roles)}" for ws, roles in m["workspaces"].items())
        for m in r.json["members"]
    }


def test_a_project_manager_signed_in_sees_what_a_key_of_that_role_sees(
    app: Flask,
    client: FlaskClient,
    ann: Seeded,
    provider: FakeOidc,
    session_factory: sessionmaker[Session],
) -> None:
    """Pia, project manager of w1, sees w1's members up to project managers, with only
    those roles (not the developer, not w2 or w3): the same members page as a key scoped
    {w1: project_manager} and that key's API list."""
    pia = _oidc_client(app, provider, "pia@ann.com")
    seen = _members_page(pia)
    assert seen == {
        "amir@ann.com": "w1: annotation_manager",
        "anna@ann.com": "w1: member",
        "pia@ann.com": "w1: member, project_manager",
    }
    scoped = _key(session_factory, ann, {"w1": "project_manager"})
    assert _members_page(_key_client(app, scoped)) == seen
    assert _api_members(client, scoped) == seen
    assert pia.get("/admin/members/amir@ann.com").status_code == 200
    assert pia.get("/admin/members/dev@ann.com").status_code == 404


def test_taking_the_workspace_role_away_counts_on_the_next_request(
    app: Flask,
    client: FlaskClient,
    ann: Seeded,
    provider: FakeOidc,
    session_factory: sessionmaker[Session],
) -> None:
    """Once pia is no longer project manager of w1, her next page is an org-wide member's
    (members only where they hold the member role): w1's annotation manager and her own
    project manager role are gone from it, as from the page of a key of that role."""
    pia = _oidc_client(app, provider, "pia@ann.com")
    assert "amir@ann.com" in _members_page(pia)
    body = {"email": "pia@ann.com", "workspaces": {"w1": ["member"], "w2": ["member"]}}
    r = client.put("/api/v1/orgs/ann/members", json=body, headers=ann.auth("admin"))
    assert r.status_code == 200, r.json
    seen = _members_page(pia)
    assert "amir@ann.com" not in seen and seen["pia@ann.com"] == "w1: member; w2: member"
    assert seen == _members_page(_key_client(app, ann.keys["member"]))
    assert pia.get("/admin/members/amir@ann.com").status_code == 404
