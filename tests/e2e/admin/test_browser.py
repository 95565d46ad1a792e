"""The admin pages in Debian's Chromium, driven by Playwright: sign in, preview a draft,
open a row's explanation, approve and apply a held plan, find it in the audit log.

Screenshots land in ``test-output/``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

from tests.e2e.admin.conftest import MAPPING, Seeded

CHROMIUM = Path("/usr/bin/chromium")
OUTPUT = Path(__file__).resolve().parents[3] / "test-output"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Debian's Chromium: apt-get install -y chromium"
    ),
    pytest.mark.parametrize("engine", ["sqlite"], indirect=True),  # one database is enough here
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium from the system; never a downloaded build."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield b
        b.close()


@pytest.fixture
def live_url(app: Flask) -> Iterator[str]:
    """The app served by werkzeug in a thread on a free loopback port."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser page (its own cookies)."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.on("dialog", lambda dialog: dialog.accept())  # the confirmations; their words are
    # checked in test_browser_trust
    yield page
    context.close()


@pytest.fixture
def acme(seed_acme: Callable[..., Seeded]) -> Seeded:
    """The soterai org with a directory; its saved mapping holds plans with any removal."""
    return seed_acme(["owner"], mapping=MAPPING.replace("max_removals: 5", "max_removals: 0"))


def _sign_in(page: Any, url: str, key: str) -> None:
    page.goto(f"{url}/admin/")
    page.fill("#api_key", key)
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/admin/")


def _shot(page: Any, name: str) -> None:
    OUTPUT.mkdir(exist_ok=True)
    page.screenshot(path=str(OUTPUT / name), full_page=True)


def test_an_admin_previews_a_draft_and_opens_a_rows_explanation(
    page: Any, live_url: str, acme: Seeded
) -> None:
    """Typing a draft shows the live preview's counts, an invite and a removal, and a row opens."""
    _sign_in(page, live_url, acme.keys["owner"])
    page.click("text=Mapping")
    page.fill("#document", MAPPING)  # the saved one holds any removal; this draft allows 5
    page.locator("#document").press("End")  # an input event, as typing makes
    counts = page.locator("#preview #counts")
    counts.wait_for()
    page.wait_for_function(
        "document.querySelector('#preview-state').textContent.includes('nothing saved')"
    )
    assert "+ 3 to add" in counts.inner_text()
    assert "- 1 to remove" in counts.inner_text()
    page.click("#pending summary")  # the saved mapping plans these too: pending either way
    invite = page.locator("tr.row.add", has_text="invite nina@acme.com as member")
    removal = page.locator("tr.row.remove", has_text="remove_from_org gone@acme.com")
    assert invite.count() == 1 and removal.count() == 1
    assert invite.locator(".sign").inner_text() == "+"
    assert removal.locator(".sign").inner_text() == "-"
    invite.click()
    assert invite.locator(".why-toggle").get_attribute("aria-expanded") == "true"
    detail = page.locator("tr.row.add[data-user='nina@acme.com'] + tr.explain")
    detail.locator(".explanation").wait_for()
    text = detail.inner_text()
    assert "rules[2] (group Staff) via Staff" in text
    assert "won" in text
    _shot(page, "mapping-preview.png")


def test_an_admin_approves_and_applies_a_held_plan_and_sees_the_audit_entry(
    page: Any, live_url: str, acme: Seeded, client: Any
) -> None:
    """A plan held over max_removals is approved, which applies it, and its removal is
    audited."""
    made = client.post("/api/v1/orgs/acme/plans", headers=acme.auth("owner"), json={}).json
    assert made["status"] == "held"
    _sign_in(page, live_url, acme.keys["owner"])
    page.click(f"#waiting-plans >> text=#{made['id']}")
    assert page.inner_text("#plan-status") == "held"
    assert "remove_from_org gone@acme.com" in page.inner_text("#plan-table")
    _shot(page, "plan-held.png")
    assert page.inner_text("#approve") == "Approve and apply"
    page.click("#approve")
    page.wait_for_selector("#plan-status:has-text('applied')")
    assert f"Plan #{made['id']} approved and applied." in page.inner_text(".flash")
    assert page.locator("#apply").count() == 0
    _shot(page, "plan-applied.png")
    assert page.locator("#held").get_attribute("class") == "flash muted"  # no longer red
    page.click("text=Audit log")
    page.fill("input[name=user]", "gone@acme.com")
    page.click("text=Filter")
    page.wait_for_url("**/admin/audit?*user=gone%40acme.com*")
    page.wait_for_selector("#audit")
    row = page.locator("#audit tr", has_text="remove_from_org")
    assert row.count() == 1
    assert "gone@acme.com" in row.inner_text()
    _shot(page, "audit.png")
