"""Admin pages: a source's own page edits its settings (the secret write-only: "set" and
an empty field) and tests its connection, through the same services as the API."""

from __future__ import annotations

import html
from collections.abc import Callable

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from sync.models import AuditEntry, Source
from tests.e2e.admin.conftest import Seeded, csrf_on, sign_in
from tests.fakes.scim import FakeScim
from tests.fakes.server import closed_port_url


def _page(client: FlaskClient, org: Seeded, scim_source: FakeScim) -> None:
    body = {"name": "hr", "kind": "scim-pull", "config": {"base_url": scim_source.url},
            "secret": scim_source.token}  # fmt: skip
    r = client.post("/api/v1/orgs/acme/sources", headers=org.auth("owner"), json=body)
    assert r.status_code == 201
    sign_in(client, org.keys["owner"])


def _post(client: FlaskClient, path: str, **form: str) -> str:
    form["csrf_token"] = csrf_on(client, "/admin/sources/hr")
    r = client.post(path, data=form, follow_redirects=True)
    assert r.status_code == 200
    return html.unescape(r.get_data(as_text=True))


def _form(scim_url: str, **changes: str) -> dict[str, str]:
    return {"base_url": scim_url, "max_user_drop": "", "schedule": "", "secret": ""} | changes


def test_the_page_shows_a_set_secret_and_an_empty_field_and_tests_the_connection(
    client: FlaskClient, seed: Callable[..., Seeded], scim_source: FakeScim
) -> None:
    """The secret is "set", its field empty, never its value; Test connection says it works,
    and after the URL points at a closed port it says the host could not be reached."""
    org = seed("acme", "soterai", ["owner"])
    _page(client, org, scim_source)
    page = client.get("/admin/sources/hr").get_data(as_text=True)
    assert "<strong>set</strong>" in page and scim_source.token not in page
    assert 'name="secret" value=""' in page and f'value="{scim_source.url}"' in page
    assert "Connection works: connected to" in _post(client, "/admin/sources/hr/test")
    nowhere = closed_port_url()
    _post(client, "/admin/sources/hr/edit", **_form(nowhere + "/scim/v2"))
    shown = _post(client, "/admin/sources/hr/test")
    assert f"Connection failed: could not reach {nowhere}: connection refused." in shown


def test_an_edit_keeps_the_secret_when_empty_and_names_what_changed(
    client: FlaskClient,
    seed: Callable[..., Seeded],
    scim_source: FakeScim,
    session_factory: sessionmaker[Session],
) -> None:
    """Schedule and pause changed with an empty secret field: the stored secret stays;
    filling it replaces it; each save is one update_source entry naming the fields."""
    org = seed("acme", "soterai", ["owner"])
    _page(client, org, scim_source)
    with session_factory() as s:
        sealed = s.scalars(select(Source.secret)).one()
    shown = _post(
        client, "/admin/sources/hr/edit", **_form(scim_source.url, schedule="6h", paused="1")
    )
    assert "Saved hr: schedule, paused changed." in shown
    with session_factory() as s:
        row = s.scalars(select(Source)).one()
        assert (row.schedule, row.enabled, row.secret) == ("6h", False, sealed)
    shown = _post(client, "/admin/sources/hr/edit", **_form(scim_source.url, secret="new-bearer"))
    assert "Saved hr: schedule, paused, secret changed." in shown and "new-bearer" not in shown
    assert "Nothing changed." in _post(client, "/admin/sources/hr/edit", **_form(scim_source.url))
    with session_factory() as s:
        entries = [e.detail for e in s.scalars(select(AuditEntry).order_by(AuditEntry.id))
                   if e.op == "update_source"]  # fmt: skip
        assert s.scalars(select(Source.secret)).one() != sealed
    assert [e["changed"] for e in entries] == [["schedule", "paused"],
                                              ["schedule", "paused", "secret"]]  # fmt: skip
    assert "new-bearer" not in str(entries)


def test_bad_input_on_the_form_is_a_message_and_changes_nothing(
    client: FlaskClient,
    seed: Callable[..., Seeded],
    scim_source: FakeScim,
    session_factory: sessionmaker[Session],
) -> None:
    """A URL that is not http(s) and a bad schedule: the reason on the page, settings kept."""
    org = seed("acme", "soterai", ["owner"])
    _page(client, org, scim_source)
    shown = _post(client, "/admin/sources/hr/edit", **_form("ftp://nowhere"))
    assert "must be an http(s) URL" in shown
    shown = _post(client, "/admin/sources/hr/edit", **_form(scim_source.url, schedule="whenever"))
    assert 'class="flash error"' in shown
    with session_factory() as s:
        row = s.scalars(select(Source)).one()
        assert (row.config, row.schedule) == ({"base_url": scim_source.url}, None)
        assert s.scalars(select(AuditEntry).where(AuditEntry.op == "update_source")).all() == []
    page = client.get("/admin/sources/hr").get_data(as_text=True)
    assert f'value="{scim_source.url}"' in page
