"""The admin pages' lists through the test client: runs without the empty ones by default,
the SCIM source's last run, CRLF saved as LF, the styled 404, and the audit CSV."""

from __future__ import annotations

import re

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from sync.credentials.tokens import create_token
from sync.models import MappingVersion
from tests.e2e.admin.conftest import CSRF, MAPPING, Seeded, sign_in


def _scim_user(client: FlaskClient, token: str, email: str) -> None:
    user = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": email,
        "emails": [{"value": email, "primary": True}],
        "active": True,
    }
    r = client.post("/scim/v2/Users", json=user, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 201


def test_runs_hide_empty_scim_runs_and_the_scim_source_shows_its_last_run(
    client: FlaskClient, acme: Seeded, session_factory: sessionmaker[Session]
) -> None:
    """Two SCIM writes that change nothing make two empty runs: hidden by default, listed
    with "include empty"; the overview's scim source no longer says "never"."""
    with session_factory.begin() as s:
        _, token = create_token(s, "acme")
    _scim_user(client, token, "x1@elsewhere.com")
    _scim_user(client, token, "x2@elsewhere.com")
    sign_in(client, acme.keys["owner"])
    default = client.get("/admin/runs").get_data(as_text=True)
    assert "No runs match." in default and "0 of 0" in default
    both = client.get("/admin/runs?empty=1").get_data(as_text=True)
    assert "1\u20132 of 2" in both and both.count(">scim<") == 2
    overview = client.get("/admin/").get_data(as_text=True)
    scim_row = re.search(
        r"<td>scim <span class=\"muted\">\(scim\)</span></td>\s*<td[^>]*>(.*?)</td>", overview, re.S
    )
    assert scim_row is not None and "never" not in scim_row.group(1)
    assert "empty" in scim_row.group(1)


def test_a_crlf_document_is_saved_with_lf_so_the_diff_shows_only_the_change(
    client: FlaskClient, acme: Seeded, session_factory: sessionmaker[Session]
) -> None:
    """A browser's CRLF save of a one-line change diffs as that line alone."""
    sign_in(client, acme.keys["owner"])
    page = client.get("/admin/mapping").get_data(as_text=True)
    token = CSRF.search(page)
    assert token
    draft = MAPPING.replace("max_removals: 5", "max_removals: 6").replace("\n", "\r\n")
    r = client.post(
        "/admin/mapping", data={"document": draft, "action": "save", "csrf_token": token.group(1)}
    )
    assert r.status_code == 303
    with session_factory() as s:
        docs = s.scalars(select(MappingVersion.document).order_by(MappingVersion.version)).all()
    assert "\r" not in docs[-1]
    diff = client.get("/admin/mapping/diff?base=1&other=2").get_data(as_text=True)
    assert diff.count("diff-add") == 1 and diff.count("diff-del") == 1
    api = client.put(
        "/api/v1/orgs/acme/mapping",
        headers=acme.auth("owner") | {"If-Match": "*"},
        json={"document": draft},
    )
    assert api.status_code == 201
    with session_factory() as s:
        last = s.scalars(select(MappingVersion.document).order_by(MappingVersion.version)).all()
    assert "\r" not in last[-1]


def test_an_unknown_admin_url_is_the_styled_404(client: FlaskClient, acme: Seeded) -> None:
    """Not Werkzeug's bare page: the admin layout, a heading, a way back."""
    sign_in(client, acme.keys["owner"])
    r = client.get("/admin/no/such/page")
    html = r.get_data(as_text=True)
    assert r.status_code == 404 and "Page not found" in html and "Back to the overview" in html


def test_the_audit_csv_has_every_matching_entry(client: FlaskClient, acme: Seeded) -> None:
    """The export is CSV with a header and the sign-in entry; a bad zone is a 422."""
    sign_in(client, acme.keys["owner"])
    r = client.get("/admin/audit.csv?op=sign_in&tz=Europe/Paris&since=2020-01-01")
    lines = r.get_data(as_text=True).splitlines()
    assert r.mimetype == "text/csv" and lines[0].startswith("id,at,actor,op,user")
    assert len(lines) == 2 and ",sign_in," in lines[1]
    assert client.get("/admin/audit?tz=Mars/Olympus").status_code == 422


def test_the_audit_page_reads_by_keyset_with_next_and_first_links(
    client: FlaskClient, acme: Seeded, session_factory: sessionmaker[Session]
) -> None:
    """250 entries (and the sign-in): Next walks 1-100, 101-200, 201-251 of 251 with no
    entry twice; entries added meanwhile do not shift the next page; First goes back; a
    cursor that is not this list's shows the first page."""
    import html

    from sync.store.audit import record_audit

    with session_factory.begin() as s:
        for n in range(250):
            record_audit(s, acme.id, "tester", "probe_op", "", {"n": n})
    sign_in(client, acme.keys["owner"])
    seen: list[str] = []
    page = html.unescape(client.get("/admin/audit").get_data(as_text=True))
    counts: list[str] = []
    for _ in range(3):
        counts += re.findall(r"data-pager-count>([^<]+)<", page)
        seen += re.findall(r'<code>\{"n": (\d+)\}</code>', page)
        following = re.search(r'<a href="([^"]+)" rel="next">Next</a>', page)
        if following is None:
            break
        if len(counts) == 1:  # written after the first page was read
            with session_factory.begin() as s:
                record_audit(s, acme.id, "tester", "late_op", "", {})
        page = html.unescape(client.get(following.group(1)).get_data(as_text=True))
    assert counts == ["1\u2013100 of 251", "101\u2013200 of 252", "201\u2013251 of 252"]
    assert 'rel="next"' not in page and ">First</a>" in page
    assert len(seen) == len(set(seen)) == 250
    first = re.search(r'<a href="([^"]+)">First</a>', page)
    assert first is not None
    back = client.get(first.group(1)).get_data(as_text=True)
    assert "1\u2013100 of 252" in back and ">First</a>" not in back
    stale = client.get("/admin/audit?cursor=bm90LW91cnM&at=101").get_data(as_text=True)
    assert "1\u2013100 of 252" in stale
