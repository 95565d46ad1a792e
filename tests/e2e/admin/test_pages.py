"""Admin pages through the test client: sign-in, the session cookie, CSRF, each page."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from mappings.directory import Directory
from sync.credentials.apikeys import revoke_api_key, verify_api_key
from sync.models import MappingVersion
from tests.e2e.admin.conftest import (
    CSRF,
    IF_V1,
    MAPPING,
    PEOPLE,
    Seeded,
    csrf_on,
    directory_of,
    sign_in,
)


@pytest.fixture
def acme(seed_acme: Callable[..., Seeded]) -> Seeded:
    """The soterai org of the API tests before max joined: olga owner, gone@ a member."""
    return seed_acme(["owner", "manager"])


def test_pages_need_a_signed_in_key(client: FlaskClient) -> None:
    """An anonymous visitor is sent to the sign-in page."""
    r = client.get("/admin/plans")
    assert r.status_code == 302 and "/admin/sign-in" in r.headers["Location"]


def test_sign_in_sets_a_hardened_session_cookie_without_the_key(
    client: FlaskClient, acme: Seeded
) -> None:
    """The cookie is HttpOnly and SameSite=Lax and does not carry the key."""
    token = csrf_on(client, "/admin/sign-in")
    r = client.post("/admin/sign-in", data={"api_key": acme.keys["owner"], "csrf_token": token})
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert acme.keys["owner"] not in cookie
    assert "acme" in client.get("/admin/").get_data(as_text=True)


def test_a_wrong_key_does_not_sign_in(client: FlaskClient, acme: Seeded) -> None:
    """A bad key: 401 with a message, and pages still redirect."""
    token = csrf_on(client, "/admin/sign-in")
    r = client.post("/admin/sign-in", data={"api_key": "rbk_wrong", "csrf_token": token})
    assert r.status_code == 401 and "unknown or revoked" in r.get_data(as_text=True)
    assert client.get("/admin/").status_code == 302


def test_a_form_without_its_csrf_token_is_refused(
    client: FlaskClient, acme: Seeded, session_factory: sessionmaker[Session]
) -> None:
    """Saving a mapping without the token: 400 and no new version."""
    sign_in(client, acme.keys["owner"])
    r = client.post("/admin/mapping", data={"document": MAPPING, "action": "save"})
    assert r.status_code == 400
    sign_in_without = client.post("/admin/sign-in", data={"api_key": acme.keys["owner"]})
    assert sign_in_without.status_code == 400
    with session_factory.begin() as s:
        assert len(s.scalars(select(MappingVersion)).all()) == 1


def test_revoking_the_key_ends_its_sessions(
    client: FlaskClient, acme: Seeded, session_factory: sessionmaker[Session]
) -> None:
    """A signed-in page stops working once the key is revoked."""
    sign_in(client, acme.keys["owner"])
    assert client.get("/admin/").status_code == 200
    with session_factory.begin() as s:
        revoke_api_key(s, acme.id, _key_id(session_factory, acme.keys["owner"]))
    assert client.get("/admin/").status_code == 302


def _key_id(session_factory: sessionmaker[Session], key: str) -> int:
    with session_factory.begin() as s:
        principal = verify_api_key(s, key)
    assert principal is not None
    return principal.key_id


def test_the_overview_shows_members_sources_and_waiting_plans(
    client: FlaskClient, acme: Seeded
) -> None:
    """The overview lists members by role, the okta source and a held plan."""
    client.put(
        "/api/v1/orgs/acme/mapping",
        headers=acme.auth("owner") | IF_V1,
        json={"document": MAPPING.replace("max_removals: 5", "max_removals: 0")},
    )
    plan = client.post("/api/v1/orgs/acme/plans", headers=acme.auth("owner"), json={}).json
    sign_in(client, acme.keys["owner"])
    html = client.get("/admin/").get_data(as_text=True)
    assert "olga@acme.com" in html and "okta" in html
    assert f"#{plan['id']}" in html and "held" in html


def test_the_editor_previews_a_draft_without_javascript(
    client: FlaskClient, acme: Seeded, session_factory: sessionmaker[Session]
) -> None:
    """Posting the form with 'preview' renders counts and rows; nothing is saved."""
    sign_in(client, acme.keys["owner"])
    token = csrf_on(client, "/admin/mapping")
    r = client.post(
        "/admin/mapping", data={"document": MAPPING, "action": "preview", "csrf_token": token}
    )
    html = r.get_data(as_text=True)
    assert "+ 3 to add" in html and "- 1 to remove" in html
    assert "invite nina@acme.com as member" in html and "remove_from_org gone@acme.com" in html
    with session_factory.begin() as s:
        assert len(s.scalars(select(MappingVersion)).all()) == 1


def test_the_editor_shows_where_a_draft_is_wrong(client: FlaskClient, acme: Seeded) -> None:
    """An unknown role shows the rule and field in the preview area."""
    sign_in(client, acme.keys["owner"])
    token = client.get("/admin/mapping").get_data(as_text=True)
    csrf = CSRF.search(token)
    assert csrf
    r = client.post(
        "/admin/mapping/preview",
        json={"document": MAPPING.replace("org_role: manager", "org_role: boss")},
        headers={"X-CSRFToken": csrf.group(1)},
    )
    assert "rules[1].org_role" in r.get_data(as_text=True)


def test_a_manager_saving_an_owner_mapping_sees_the_refusal(
    client: FlaskClient, acme: Seeded, session_factory: sessionmaker[Session]
) -> None:
    """The refusal is a message on the page; the version stays 1."""
    sign_in(client, acme.keys["manager"])
    token = csrf_on(client, "/admin/mapping")
    r = client.post(
        "/admin/mapping",
        data={"document": MAPPING, "action": "save", "csrf_token": token},
        headers={"Referer": "http://localhost/admin/mapping"},
        follow_redirects=True,
    )
    assert "may not" in r.get_data(as_text=True) or "does not" in r.get_data(as_text=True)
    with session_factory.begin() as s:
        assert len(s.scalars(select(MappingVersion)).all()) == 1


def test_the_member_page_explains_each_role(client: FlaskClient, acme: Seeded) -> None:
    """olga's page names rules[0] and the Owners group, and that member lost to owner."""
    sign_in(client, acme.keys["owner"])
    html = client.get("/admin/members/olga@acme.com").get_data(as_text=True)
    assert "rules[0] (group Owners)" in html and "lost to owner" in html
    assert "won over member (rules[2] (group Staff))" in html


def test_audit_and_runs_pages_render_and_filter(client: FlaskClient, acme: Seeded) -> None:
    """The audit log filters by user; a bad date is a 422 with a message."""
    plan = client.post("/api/v1/orgs/acme/plans", headers=acme.auth("owner"), json={}).json
    client.post(f"/api/v1/orgs/acme/plans/{plan['id']}/apply", headers=acme.auth("owner"))
    sign_in(client, acme.keys["owner"])
    html = client.get("/admin/audit?user=nina@acme.com").get_data(as_text=True)
    assert "nina@acme.com" in html and "gone@acme.com" not in html
    assert client.get("/admin/audit?since=yesterday").status_code == 422
    assert client.get("/admin/runs").status_code == 200


def test_the_session_cookie_is_secure_when_served_over_https(
    session_factory: sessionmaker[Session], tmp_path: Path, seed: Callable[..., Seeded]
) -> None:
    """With an https base URL the cookie also carries Secure."""
    from scim_server.api.context import SESSION_FACTORY_KEY
    from scim_server.app import create_app
    from sync.settings import Settings

    org = seed("acme", "soterai", ["owner"])
    url = session_factory.kw["bind"].url.render_as_string(hide_password=False)
    settings = Settings(
        database_url=url, instance_path=tmp_path, secret_key="s", base_url="https://rb.example"
    )
    app = create_app(settings)
    app.extensions[SESSION_FACTORY_KEY] = session_factory
    client = app.test_client()
    page = client.get("/admin/sign-in", base_url="https://rb.example")
    assert "Secure" in page.headers["Set-Cookie"]
    match = CSRF.search(page.get_data(as_text=True))
    assert match
    token = match.group(1)
    r = client.post(
        "/admin/sign-in",
        data={"api_key": org.keys["owner"], "csrf_token": token},
        base_url="https://rb.example",
    )
    assert "Secure" in r.headers["Set-Cookie"]


def test_every_page_renders_for_a_brand_new_org(
    client: FlaskClient, seed: Callable[..., Seeded]
) -> None:
    """No mapping, members, sources or plans yet: each page still renders, unknowns are 404."""
    org = seed("fresh", "aihub", ["admin"])
    sign_in(client, org.keys["admin"])
    for path in ("/admin/", "/admin/mapping", "/admin/plans", "/admin/runs", "/admin/audit"):
        assert client.get(path).status_code == 200, path
    assert "role_model: aihub" in client.get("/admin/mapping").get_data(as_text=True)
    assert client.get("/admin/members/nobody@x.com").status_code == 404
    assert client.get("/admin/plans/999").status_code == 404


def test_a_manager_approving_a_plan_that_demotes_an_owner_sees_why_not(
    client: FlaskClient,
    acme: Seeded,
    put_directory: Callable[[int, Directory], None],
    session_factory: sessionmaker[Session],
) -> None:
    """The approve form answers with the refusal on the plan page; the plan stays pending."""
    people = dict(PEOPLE) | {"olga@acme.com": ["Staff"], "otto@acme.com": ["Owners"]}
    put_directory(acme.id, directory_of(people))
    plan = client.post("/api/v1/orgs/acme/plans", headers=acme.auth("owner"), json={}).json
    sign_in(client, acme.keys["manager"])
    page = f"/admin/plans/{plan['id']}"
    token = csrf_on(client, page)
    r = client.post(
        f"{page}/approve",
        data={"csrf_token": token, "fingerprint": plan["fingerprint"]},
        headers={"Referer": f"http://localhost{page}"},
        follow_redirects=True,
    )
    html = r.get_data(as_text=True)
    assert "may not manage owner" in html
    assert 'id="plan-status">pending<' in html


def test_the_overview_searches_members_by_email(client: FlaskClient, acme: Seeded) -> None:
    """?q= narrows the member list; the counts by role stay whole."""
    sign_in(client, acme.keys["owner"])
    html = client.get("/admin/?q=gone").get_data(as_text=True)
    assert "gone@acme.com" in html and "olga@acme.com</a>" not in html
    assert "1\u20131 of 1" in html


def test_the_editor_lists_versions_and_diffs_them(client: FlaskClient, acme: Seeded) -> None:
    """After a second save the editor links a diff that shows the changed line."""
    draft = MAPPING.replace("max_removals: 5", "max_removals: 1")
    client.put(
        "/api/v1/orgs/acme/mapping", headers=acme.auth("owner") | IF_V1, json={"document": draft}
    )
    sign_in(client, acme.keys["owner"])
    editor = client.get("/admin/mapping").get_data(as_text=True)
    assert "/admin/mapping/diff?base=1&amp;other=2" in editor
    diff = client.get("/admin/mapping/diff?base=1&other=2").get_data(as_text=True)
    assert "+  max_removals: 1" in diff and "-  max_removals: 5" in diff
    assert client.get("/admin/mapping/diff?base=1&other=x").status_code == 422


def test_a_signed_in_key_cannot_reach_another_orgs_plans(
    client: FlaskClient, acme: Seeded, seed: Callable[..., Seeded]
) -> None:
    """Another org's plan id is 404 on the page, and approving it changes nothing."""
    other = seed("other", "soterai", ["owner"])
    plan = client.post("/api/v1/orgs/acme/plans", headers=acme.auth("owner"), json={}).json
    sign_in(client, other.keys["owner"])
    assert client.get(f"/admin/plans/{plan['id']}").status_code == 404
    token = csrf_on(client, "/admin/")
    client.post(
        f"/admin/plans/{plan['id']}/approve",
        data={"csrf_token": token, "fingerprint": plan["fingerprint"]},
    )
    after = client.get(f"/api/v1/orgs/acme/plans/{plan['id']}", headers=acme.auth("owner"))
    assert after.json["status"] == "pending"


def test_a_plan_page_offers_its_text_and_markdown(client: FlaskClient, acme: Seeded) -> None:
    """The plan page links the text and Markdown renderings of the same plan."""
    plan = client.post("/api/v1/orgs/acme/plans", headers=acme.auth("owner"), json={}).json
    sign_in(client, acme.keys["owner"])
    page = client.get(f"/admin/plans/{plan['id']}").get_data(as_text=True)
    assert f"/admin/plans/{plan['id']}/markdown" in page
    md = client.get(f"/admin/plans/{plan['id']}/markdown")
    text = client.get(f"/admin/plans/{plan['id']}/text")
    assert md.mimetype == "text/markdown" and "| + | `invite` |" in md.get_data(as_text=True)
    assert "+ invite nina@acme.com as member" in text.get_data(as_text=True)


@pytest.mark.parametrize(
    ("pattern", "shows"),
    [
        ("^(((.+)+)+)+!$", "+ 3 to add"),  # RE2 runs it: matches nothing, same counts
        ("^(?=Staff)(?P<w>.+)$", "lookahead (?=...) is not supported"),
        ("^(a{100}){100}$", "nested counts multiplied) is above 1000"),
    ],
)
def test_the_editor_previews_a_hostile_pattern_at_once(
    client: FlaskClient, acme: Seeded, pattern: str, shows: str
) -> None:
    """A draft's backtracking pattern answers at once in the editor; what RE2 refuses is
    shown at the rule, in words."""
    from tests.e2e.admin.test_api_hostile_mapping import HANG_GUARD, hang_guard

    sign_in(client, acme.keys["owner"])
    token = csrf_on(client, "/admin/mapping")
    draft = MAPPING.replace("policy:\n", f"  - match: '{pattern}'\n    org_role: owner\npolicy:\n")
    with hang_guard(HANG_GUARD):
        r = client.post(
            "/admin/mapping", data={"document": draft, "action": "preview", "csrf_token": token}
        )
    html = r.get_data(as_text=True)
    assert shows in html
    if shows.startswith("+"):
        assert "invite nina@acme.com as member" in html
    else:
        assert "rules[3].match" in html
