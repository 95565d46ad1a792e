"""Sign-in through the org's own OpenID provider in Debian's Chromium: the owner names her
organisation on the sign-in page, signs in at the (fake) provider and lands on the admin
pages as herself; a stranger gets the refusal page and no session."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.serving import make_server

from tests.e2e.admin.conftest import MAX, OLGA, Seeded
from tests.e2e.admin.test_browser import CHROMIUM, _shot, browser, page  # noqa: F401
from tests.e2e.admin.test_browser_trust import _axe
from tests.fakes.oidc import FakeOidc
from tests.fakes.server import QuietHandler

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Debian's Chromium: apt-get install -y chromium"
    ),
    pytest.mark.parametrize("engine", ["sqlite"], indirect=True),
]


@pytest.fixture
def served(app: Flask) -> Iterator[str]:
    """The app on a free loopback port, its base URL (the redirect URI's origin) that port;
    no access log, since the provider's answer carries a one-time code in the URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietHandler)
    url = f"http://127.0.0.1:{server.server_port}"
    settings = app.extensions["rolebridge.settings"]
    app.extensions["rolebridge.settings"] = dataclasses.replace(settings, base_url=url)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield url
    server.shutdown()
    thread.join()


@pytest.fixture
def provider(served: str) -> Iterator[FakeOidc]:
    """The org's provider, which accepts only the app's registered redirect URI."""
    fake = FakeOidc()
    fake.state.redirect_uris = {f"{served}/admin/signin/oidc/callback"}
    yield fake
    fake.close()


@pytest.fixture
def acme(seed: Callable[..., Seeded], client: FlaskClient, provider: FakeOidc) -> Seeded:
    """The soterai org, its sign-in through ``provider`` set by the owner's key."""
    org = seed("acme", "soterai", ["owner"], [OLGA, MAX])
    body = {
        "issuer": provider.issuer,
        "client_id": provider.state.client_id,
        "client_secret": provider.state.client_secret,
    }
    r = client.put("/api/v1/orgs/acme/oidc", json=body, headers=org.auth("owner"))
    assert r.status_code == 200
    return org


def _through_provider(page: Any, url: str, org: str) -> None:  # noqa: F811
    page.goto(f"{url}/admin/audit")
    page.fill("#oidc_org", org)
    page.click("#oidc-form button[type=submit]")


def test_an_owner_clicks_through_the_provider_sign_in(
    page: Any,  # noqa: F811
    served: str,
    acme: Seeded,
    provider: FakeOidc,
) -> None:
    """Sign-in page -> the provider -> back on the page she asked for, signed in as herself
    with her role; the sign-in settings page shows the secret only as "set"; the audit log
    has her sign-in."""
    provider.sign_in_as("olga@acme.com")
    _through_provider(page, served, "acme")
    page.wait_for_load_state()
    page.wait_for_url(f"{served}/admin/audit")
    assert page.inner_text("#signed-in-as") == "olga@acme.com · owner"
    assert "authorize" in provider.state.log and "token" in provider.state.log
    page.click("header >> text=Sign-in")
    assert page.inner_text("#oidc-secret") == "set"
    assert provider.state.client_secret not in page.content()
    assert page.inner_text("#redirect-uri") == f"{served}/admin/signin/oidc/callback"
    assert _axe(page) == []
    _shot(page, "oidc-sign-in-settings.png")
    page.goto(f"{served}/admin/audit?op=sign_in")
    assert "oidc:olga@acme.com" in page.inner_text("main")
    page.click("text=Sign out")
    page.wait_for_selector("#oidc_org")
    assert _axe(page) == []
    _shot(page, "oidc-sign-in-page.png")


def test_a_stranger_gets_the_refusal_page_and_no_session(
    page: Any,  # noqa: F811
    served: str,
    acme: Seeded,
    provider: FakeOidc,
) -> None:
    """Someone the provider knows but the org does not: a page saying so, and the admin
    pages still ask to sign in."""
    provider.sign_in_as("mallory@elsewhere.com")
    _through_provider(page, served, "acme")
    page.wait_for_selector("#error-message")
    assert "mallory@elsewhere.com is not a member" in page.inner_text("#error-message")
    assert "Traceback" not in page.content()
    _shot(page, "oidc-refused.png")
    page.goto(f"{served}/admin/")
    page.wait_for_selector("#api_key")
