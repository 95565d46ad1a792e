"""The admin pages an admin can trust, in Debian's Chromium: a stale plan's replacement,
drift with its actions, confirmations with counts, paged and sorted lists of a 2,000-member
org, drafts that survive an ended session, the preview's split, and every page at 390 px
and at 200% zoom with no serious or critical axe-core violation.

Screenshots land in ``test-output/``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from mappings.directory import Directory
from sync.credentials.tokens import create_token
from sync.models import AdminSession, MappingVersion, Member, SavedPlan
from tests.e2e.admin.conftest import MAPPING, PEOPLE, Seeded, directory_of
from tests.e2e.admin.test_browser import CHROMIUM, _shot, _sign_in, browser, live_url

__all__ = ["browser", "live_url"]  # the fixtures, shared

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Debian's Chromium: apt-get install -y chromium"
    ),
    pytest.mark.parametrize("engine", ["sqlite"], indirect=True),
]

HELD = MAPPING.replace("max_removals: 5", "max_removals: 0")


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh page whose confirmations are recorded, then accepted unless told."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)  # a loaded machine renders 2,000 rows slowly
    page.dialogs = []
    page.accept_dialogs = True

    def answer(dialog: Any) -> None:
        page.dialogs.append(dialog.message)
        if page.accept_dialogs:
            dialog.accept()
        else:
            dialog.dismiss()

    page.on("dialog", answer)
    yield page
    context.close()


@pytest.fixture
def acme(
    seed: Callable[..., Seeded],
    put_directory: Callable[[int, Directory], None],
    save_version: Callable[[int, str], int],
) -> Seeded:
    """The soterai org: a held plan with any removal; an owner and a member (viewer) key."""
    org = seed(
        "acme",
        "soterai",
        ["owner", "member"],
        [
            ("olga@acme.com", "owner", "joined", "idp", {}),
            ("max@acme.com", "member", "joined", "idp", {}),
            ("gone@acme.com", "member", "joined", "idp", {}),
        ],
    )
    put_directory(org.id, directory_of(PEOPLE))
    save_version(org.id, HELD)
    return org


def _axe(page: Any) -> list[str]:
    """The serious and critical axe-core violations of the page, one line each."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {len(v['nodes'])} node(s), e.g. {v['nodes'][0]['html'][:120]}"
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def test_a_plan_made_stale_by_a_scim_write_is_replaced_and_explained(
    page: Any, live_url: str, acme: Seeded, client: Any, session_factory: sessionmaker[Session]
) -> None:
    """The held plan goes stale when a SCIM write arrives; the overview lists the fresh plan,
    the stale one explains itself and links to it, and approving the fresh one applies it."""
    held = client.post("/api/v1/orgs/acme/plans", headers=acme.auth("owner"), json={}).json
    with session_factory.begin() as s:
        _, token = create_token(s, "acme")
    user = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "newcomer@acme.com",
        "emails": [{"value": "newcomer@acme.com", "primary": True}],
        "active": True,
    }
    made = client.post("/scim/v2/Users", json=user, headers={"Authorization": f"Bearer {token}"})
    assert made.status_code == 201
    with session_factory() as s:
        old = s.get(SavedPlan, held["id"])
        assert old is not None and old.status == "stale" and old.replaced_by is not None
        fresh = old.replaced_by
    _sign_in(page, live_url, acme.keys["owner"])
    assert f"#{fresh}" in page.inner_text("#waiting-plans")
    page.goto(f"{live_url}/admin/plans/{held['id']}")
    assert "stale" in page.inner_text("#stale-note")
    _shot(page, "plan-stale.png")
    page.click("#replaced-by")
    page.wait_for_selector("#plan-status:has-text('held')")
    page.click("#approve")
    page.wait_for_selector("#plan-status:has-text('applied')")
    assert page.dialogs[-1].startswith(f"Approve and apply plan #{fresh}: remove 1 from the org")


def test_drift_is_counted_filtered_and_synced_per_member(
    page: Any, live_url: str, acme: Seeded, session_factory: sessionmaker[Session]
) -> None:
    """max is a member whom the mapping makes a manager: the overview counts the drift,
    the filter shows him, his page has the badge, and "Sync this member" fixes him."""
    _sign_in(page, live_url, acme.keys["owner"])
    count = int(page.inner_text("#drift-count"))
    assert count == 4  # max's role, nina and paul to invite, gone to remove
    page.click("#drift-filter")
    emails = page.locator("#members tbody tr td:first-child a").all_inner_texts()
    assert emails == ["gone@acme.com", "max@acme.com"]  # members only; invitees are not yet
    assert page.locator("#members .badge.drift").count() == 2
    page.click("#members >> text=max@acme.com")
    page.wait_for_selector("#member-drift-badge")
    assert "max@acme.com member -> manager" in page.inner_text("#member-drift")
    page.click("#sync-member")
    page.wait_for_selector(".flash:has-text('change(s) applied')")
    assert page.dialogs[-1].startswith("Sync max@acme.com now:")
    assert page.locator("#member-drift-badge").count() == 0
    with session_factory() as s:
        role = s.scalar(select(Member.org_role).where(Member.email == "max@acme.com"))
    assert role == "manager"
    page.click("text=acme")
    page.click("#create-plan")
    page.wait_for_selector("#plan-status")
    assert "remove 1 from the org" in page.inner_text("#plan-does")


def test_confirmations_name_the_counts_and_a_waiting_plan_can_be_discarded(
    page: Any, live_url: str, acme: Seeded, client: Any
) -> None:
    """Dismissing the approval's confirmation changes nothing; Discard turns the plan down."""
    held = client.post("/api/v1/orgs/acme/plans", headers=acme.auth("owner"), json={}).json
    _sign_in(page, live_url, acme.keys["owner"])
    page.goto(f"{live_url}/admin/plans/{held['id']}")
    page.accept_dialogs = False
    page.click("#approve")
    assert page.dialogs == [
        f"Approve and apply plan #{held['id']}: remove 1 from the org, change 1 org role(s), "
        "invite 2?"
    ]
    assert page.inner_text("#plan-status") == "held"
    page.accept_dialogs = True
    page.click("#discard")
    page.wait_for_selector("#plan-status:has-text('discarded')")
    assert "Discard plan" in page.dialogs[-1]
    assert page.locator("#approve").count() == 0
    assert "never apply" in page.inner_text("#discarded-note")


def test_a_two_thousand_member_org_is_paged_sorted_and_filtered(
    page: Any,
    live_url: str,
    seed: Callable[..., Seeded],
    put_directory: Callable[[int, Directory], None],
    save_version: Callable[[int, str], int],
    client: Any,
) -> None:
    """2,000 members: "1-100 of 2000", person2 before person10, sort by role, the audit
    log filtered and exported as CSV, the runs page without empty runs."""
    people = {f"person{i}@big.com": ["Staff"] for i in range(1, 2001)}
    people["person11@big.com"] = ["Owners"]
    members = [(e, "manager", "joined", "idp", {}) for e in people]
    org = seed("big", "soterai", ["owner"], members)
    put_directory(org.id, directory_of(people))
    save_version(org.id, MAPPING.replace("max_removals: 5", "max_removals: 5000"))
    made = client.post("/api/v1/orgs/big/plans", headers=org.auth("owner"), json={}).json
    applied = client.post(f"/api/v1/orgs/big/plans/{made['id']}/apply", headers=org.auth("owner"))
    assert applied.status_code == 200
    _sign_in(page, live_url, org.keys["owner"])
    assert page.inner_text("#members-title + form + .pager [data-pager-count]") == (
        "1\u2013100 of 2000"
    )
    first = page.locator("#members tbody tr td:first-child a").all_inner_texts()[:3]
    assert first == ["person1@big.com", "person2@big.com", "person3@big.com"]
    page.click("#members >> text=org role")
    top = page.locator("#members tbody tr td:first-child a").first.inner_text()
    assert top == "person11@big.com"  # the owner first
    page.goto(f"{live_url}/admin/?page=20")
    assert "1901\u20132000 of 2000" in page.inner_text(".pager")
    page.goto(f"{live_url}/admin/audit")
    assert page.inner_text(".pager [data-pager-count]") == "1\u2013100 of 2001"  # and a sign-in
    page.select_option("select[name=op]", "set_org_role")
    page.fill("input[name=user]", "person11@")
    page.click("text=Filter")
    page.wait_for_url("**op=set_org_role*")
    assert page.inner_text(".pager [data-pager-count]") == "1\u20131 of 1"
    href = page.get_attribute("#audit-csv", "href")
    body = page.request.get(f"{live_url}{href}").text()
    rows = list(csv.reader(io.StringIO(body)))
    assert rows[0][:4] == ["id", "at", "actor", "op"] and len(rows) == 2
    assert rows[1][3] == "set_org_role" and rows[1][4] == "person11@big.com"
    page.goto(f"{live_url}/admin/plans/{made['id']}?op=set_org_role")
    assert page.locator("#plan-table tr.row").count() == 500
    assert page.inner_text(".pager [data-pager-count]") == "1\u2013500 of 2000"
    page.goto(f"{live_url}/admin/plans/{made['id']}?op=invite")
    assert page.inner_text(".pager [data-pager-count]") == "0 of 0"
    _shot(page, "big-plan-filtered.png")


def test_a_draft_survives_an_ended_session_and_a_refused_save(
    page: Any, live_url: str, acme: Seeded, session_factory: sessionmaker[Session]
) -> None:
    """The session ends while editing: the preview asks to sign in again in place and goes
    on; a reload keeps the draft; a viewer key has no Save button."""
    _sign_in(page, live_url, acme.keys["owner"])
    page.goto(f"{live_url}/admin/mapping")
    draft = HELD.replace("org_role: manager", "org_role: owner")
    page.fill("#document", draft)
    page.locator("#document").press("End")
    page.wait_for_selector("#edit-changes")
    with session_factory.begin() as s:
        s.execute(delete(AdminSession))
    page.fill("#document", draft + "\n")
    page.locator("#document").press("End")
    page.wait_for_selector("#signed-out")
    assert page.locator("#preview html, #preview header").count() == 0
    page.fill("#again-key", acme.keys["owner"])
    page.click(".inline-sign-in button")
    page.wait_for_selector("#edit-changes")
    assert "max@acme.com" in page.inner_text("#edit-changes")
    page.reload()
    page.wait_for_selector("#draft-note:not([hidden])")
    assert page.input_value("#document") == draft + "\n"
    assert page.locator("#save").count() == 1
    page.click("#save")
    page.wait_for_selector("#after-save")
    assert page.dialogs[-1].startswith("Save as version 2?")
    with session_factory() as s:
        saved = s.scalars(select(MappingVersion).order_by(MappingVersion.version.desc())).first()
        assert saved is not None and "\r" not in saved.document
    page.reload()
    assert page.locator("#draft-note").is_hidden()
    page.click("text=Sign out")
    _sign_in(page, live_url, acme.keys["member"])
    page.goto(f"{live_url}/admin/mapping")
    assert page.locator("#save").count() == 0 and page.locator("#no-save").count() == 1


def test_the_preview_marks_the_error_line_and_splits_pending_changes(
    page: Any, live_url: str, acme: Seeded
) -> None:
    """A bad role in rules[1] marks line 5 in the gutter with a compact error; a valid edit
    shows its own change apart from what the saved mapping already plans."""
    _sign_in(page, live_url, acme.keys["owner"])
    page.goto(f"{live_url}/admin/mapping")
    page.fill("#document", HELD.replace("org_role: manager", "org_role: boss"))
    page.locator("#document").press("End")
    page.wait_for_selector("#mapping-error")
    assert "(line 5)" in page.inner_text("#mapping-error")
    assert page.inner_text("#gutter .error-line") == "5"
    page.fill("#document", HELD.replace("org_role: manager", "org_role: owner"))
    page.locator("#document").press("End")
    page.wait_for_selector("#edit-changes #plan-table")
    edit = page.inner_text("#edit-changes")
    assert "max@acme.com" in edit and "nina@acme.com" not in edit
    assert "(3)" in page.inner_text("#pending summary")  # gone, nina, paul either way


PAGES = ["/admin/", "/admin/mapping", "/admin/plans", "/admin/runs", "/admin/audit",
         "/admin/members/olga@acme.com", "/admin/nowhere"]  # fmt: skip


@pytest.mark.parametrize(("width", "zoom"), [(390, 1), (1280, 2)])
def test_every_page_fits_and_has_no_serious_axe_violation(
    browser: Any, live_url: str, acme: Seeded, client: Any, width: int, zoom: int
) -> None:
    """At 390 px and at 200% zoom no page scrolls sideways (tables scroll in their box), the
    header keeps Sign out in view, and axe-core finds nothing serious or critical."""
    held = client.post("/api/v1/orgs/acme/plans", headers=acme.auth("owner"), json={}).json
    context = browser.new_context(
        viewport={"width": width // zoom, "height": 800 // zoom}, device_scale_factor=zoom
    )
    page = context.new_page()
    try:
        _sign_in(page, live_url, acme.keys["owner"])
        found: dict[str, list[str]] = {}
        for path in [*PAGES, f"/admin/plans/{held['id']}"]:
            page.goto(f"{live_url}{path}")
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 1, f"{path} scrolls sideways by {overflow}px at {width}/{zoom}"
            box = page.locator(".signout button").bounding_box()
            assert box is not None and box["x"] + box["width"] <= width // zoom
            if bad := _axe(page):
                found[path] = bad
        assert found == {}
        if page.url.endswith("/admin/nowhere"):
            assert "Page not found" in page.inner_text("h1")
        _shot(page, f"plan-{width}-{zoom}x.png")
    finally:
        context.close()


def test_sign_ins_and_sign_outs_are_audited(page: Any, live_url: str, acme: Seeded) -> None:
    """Signing in and out leaves two audit entries naming the key."""
    _sign_in(page, live_url, acme.keys["owner"])
    page.click("text=Sign out")
    page.wait_for_selector("#api_key")
    _sign_in(page, live_url, acme.keys["owner"])
    page.goto(f"{live_url}/admin/audit?op=sign_out")
    assert page.inner_text(".pager [data-pager-count]") == "1\u20131 of 1"
    page.goto(f"{live_url}/admin/audit?op=sign_in")
    assert page.inner_text(".pager [data-pager-count]") == "1\u20132 of 2"
