"""The token pages in Debian's Chromium: an owner makes a SCIM token, copies it with the
copy button, and the token provisions; a revoked one no longer does."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.e2e.admin.conftest import Seeded
from tests.e2e.admin.test_browser import CHROMIUM, _shot, _sign_in, browser, live_url  # noqa: F401

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Debian's Chromium: apt-get install -y chromium"
    ),
    pytest.mark.parametrize("engine", ["sqlite"], indirect=True),
]


@pytest.fixture
def clip_page(browser: Any, live_url: str) -> Iterator[Any]:  # noqa: F811
    """A fresh page allowed to use the clipboard."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_url)
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def test_an_owner_makes_copies_and_revokes_a_scim_token(
    clip_page: Any,
    live_url: str,  # noqa: F811
    seed: Callable[..., Seeded],
    client: FlaskClient,
) -> None:
    """New token: shown once beside Okta's and Entra's field names; Copy puts it on the
    clipboard; it provisions until Revoke."""
    page = clip_page
    org = seed("acme", "soterai", ["owner"])
    _sign_in(page, live_url, org.keys["owner"])
    page.click("text=Tokens and keys")
    page.fill("#new-token-form input[name=name]", "Entra production")
    page.click("#new-token-form button[type=submit]")
    shown = page.locator("#shown-once")
    shown.wait_for()
    assert "Secret Token" in shown.inner_text() and "Base URL" in shown.inner_text()
    token = page.locator("#new-token").inner_text()
    page.click("button[data-copy=new-token]")
    page.wait_for_function(
        "document.querySelector('[data-copy=new-token]').textContent === 'Copied'"
    )
    assert page.evaluate("navigator.clipboard.readText()") == token
    _shot(page, "scim-token-shown-once.png")
    auth = {"Authorization": f"Bearer {token}"}
    assert client.get("/scim/v2/Users", headers=auth).status_code == 200
    page.goto(f"{live_url}/admin/credentials")
    assert token not in page.content()
    page.click("button[aria-label^='Revoke token']")
    page.locator(".flash", has_text="is revoked").wait_for()
    assert client.get("/scim/v2/Users", headers=auth).status_code == 401


def test_an_owner_adds_a_source_queues_a_run_and_pauses_it(
    clip_page: Any,
    live_url: str,  # noqa: F811
    seed: Callable[..., Seeded],
    client: FlaskClient,
) -> None:
    """Add a SCIM-pull source (the secret is not on the page afterwards), Run now queues
    it for the scheduler, Pause shows it paused; the API agrees."""
    page = clip_page
    org = seed("acme", "soterai", ["owner"])
    _sign_in(page, live_url, org.keys["owner"])
    page.click("header >> text=Sources")
    page.fill("#new-source input[name=name]", "hr")
    page.select_option("#new-source select[name=kind]", "scim-pull")
    page.fill("#new-source input[name=url]", "https://hr.example/scim/v2")
    page.fill("#new-source input[name=secret]", "hr-bearer-secret")
    page.click("#new-source button[type=submit]")
    page.locator(".flash", has_text="Added scim-pull source hr").wait_for()
    assert "hr-bearer-secret" not in page.content()
    page.click("button[aria-label='Run now hr']")
    page.locator(".flash", has_text="is queued").wait_for()
    page.click("button[aria-label='Pause hr']")
    page.locator("#sources td", has_text="paused").wait_for()
    _shot(page, "sources.png")
    listed = client.get("/api/v1/orgs/acme/sources", headers=org.auth("owner")).json
    (source,) = listed["sources"]
    assert (source["name"], source["enabled"]) == ("hr", False)


def test_an_owner_edits_a_source_and_tests_its_connection(
    clip_page: Any,
    live_url: str,  # noqa: F811
    seed: Callable[..., Seeded],
    client: FlaskClient,
) -> None:
    """From the source's page: Test connection says it works against a loopback SCIM
    server; a new URL saved with the secret field left empty keeps the secret (the next
    test reaches the new URL and is refused nothing but the connection)."""
    from tests.e2e.admin.test_browser_trust import _axe
    from tests.fakes.scim import FakeScim
    from tests.fakes.server import closed_port_url

    scim = FakeScim()
    scim.load({"users": [], "groups": []})
    page = clip_page
    org = seed("acme", "soterai", ["owner"])
    body = {"name": "hr", "kind": "scim-pull", "config": {"base_url": scim.url},
            "secret": scim.token}  # fmt: skip
    try:
        assert client.post("/api/v1/orgs/acme/sources", headers=org.auth("owner"),
                           json=body).status_code == 201  # fmt: skip
        _sign_in(page, live_url, org.keys["owner"])
        page.click("header >> text=Sources")
        page.click("#sources a >> text=hr")
        page.locator("#edit-source", has_text="set").wait_for()
        assert page.input_value("#edit-source input[name=secret]") == ""
        page.click("#test-source button")
        page.locator(".flash.ok", has_text="Connection works").wait_for()
        nowhere = closed_port_url()
        page.fill("#edit-source input[name=base_url]", nowhere + "/scim/v2")
        page.fill("#edit-source input[name=schedule]", "1h")
        page.click("#edit-source button[type=submit]")
        page.locator(".flash", has_text="Saved hr: base url, schedule changed.").wait_for()
        page.click("#test-source button")
        page.locator(".flash.error", has_text="connection refused").wait_for()
        _shot(page, "source.png")
        assert scim.token not in page.content()
        assert _axe(page) == []  # nothing serious for assistive technology on the page
    finally:
        scim.close()
    (source,) = client.get("/api/v1/orgs/acme/sources", headers=org.auth("owner")).json["sources"]
    assert (source["schedule"], source["enabled"]) == ("1h", True)
