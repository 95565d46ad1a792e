"""Take the README's screenshots from the running app: the mapping editor's live preview
and a held plan, in Debian's Chromium (``/usr/bin/chromium``).

    python docs/screenshots.py      # writes docs/mapping-preview.png and docs/plan.png

A throwaway SQLite database gets a shareofmodel org whose directory and members differ
a little from a draft mapping; nothing else is touched.
"""

from __future__ import annotations

import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright
from werkzeug.serving import make_server

from mappings.authority import Caller
from mappings.directory import Directory, DirectoryGroup, DirectoryUser, GroupMember
from scim_server.app import create_app
from sync import mirror
from sync.credentials.apikeys import create_api_key
from sync.db import make_engine, make_session_factory, upgrade
from sync.store.mappings import save_mapping
from sync.store.orgs import create_org
from sync.reconcile import reconcile
from sync.samples import SAMPLES
from sync.services.members import invite_member
from sync.settings import Settings

# the shareofmodel sample mapping, with a removal limit of one so a plan is held
SAVED = SAMPLES["shareofmodel"].mapping.replace('max_removals: "50%"', "max_removals: 1")
DRAFT = SAVED.replace(
    '  - group: "SOM Analysts"\n    org_role: editor',
    '  - group: "SOM Analysts"\n    org_role: viewer\n  - group: "SOM Leads"\n    org_role: editor',
)
GROUPS = {
    "SOM Owners": ["olga"],
    "SOM Analysts": ["ana", "ben", "chen", "dara"],
    "SOM Leads": ["ben"],
    "ws-brand-a-viewer": ["eve", "femi", "gus"],
    "ws-brand-b-editor": ["hana", "ivan"],
}


def _directory(people: dict[str, list[str]]) -> Directory:
    names = sorted({p for members in people.values() for p in members})
    users = tuple(DirectoryUser(f"00u-{n}", f"{n}@acme.com", (f"{n}@acme.com",)) for n in names)
    groups = tuple(
        DirectoryGroup(f"00g-{i}", g, members=tuple(GroupMember(f"00u-{n}", "User") for n in ms))
        for i, (g, ms) in enumerate(people.items())
    )
    return Directory(users=users, groups=groups)


def _seed(url: str) -> str:
    engine = make_engine(url)
    upgrade(engine)
    factory = make_session_factory(engine)
    first = {g: [m for m in ms if m not in ("ivan",)] for g, ms in GROUPS.items()}
    first["ws-brand-a-viewer"] = [*first["ws-brand-a-viewer"], "kim", "lou"]
    with factory.begin() as s:
        org = create_org(s, "Acme", "shareofmodel", plan="enterprise", credits=5000)
        save_mapping(s, org.id, SAVED, created_by="docs")
        source = mirror.ensure_source(s, org.id, "okta", "okta")
        mirror.replace_snapshot(s, org.id, source.id, _directory(first))
        org_id, source_id = org.id, source.id
    reconcile(factory, org_id, dry_run=False, trigger="okta pull")
    with factory.begin() as s:  # kim and lou leave; ivan joins; a manual member stays
        mirror.replace_snapshot(s, org_id, source_id, _directory(GROUPS))
        _, key = create_api_key(s, org_id, "owner", ["owner"], name="platform admin")
    invite_member(factory, org_id, "auditor@partner.com", "viewer", caller=Caller("docs", None))
    reconcile(factory, org_id, dry_run=False, trigger="okta pull")  # held: 2 removals > 1
    engine.dispose()
    return key


def main() -> None:
    """Seed, serve, sign in, and take both screenshots."""
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'docs.sqlite3'}"
        key = _seed(url)
        app = create_app(Settings(database_url=url, instance_path=Path(tmp), secret_key="docs"))
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{server.server_port}"
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path="/usr/bin/chromium",
                headless=True,
                args=[
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                ],
            )
            page = browser.new_page(viewport={"width": 1400, "height": 820})
            page.goto(f"{base}/admin/sign-in")
            page.fill("#api_key", key)
            page.click("button[type=submit]")
            page.goto(f"{base}/admin/mapping")
            page.fill("#document", DRAFT)
            page.locator("#document").press("End")
            page.locator("#preview #counts").wait_for()
            page.locator("tr.row[data-user='ana@acme.com']").first.click()
            page.locator("tr.row[data-user='ana@acme.com'] + tr.explain .explanation").wait_for()
            page.screenshot(path=str(ROOT / "docs" / "mapping-preview.png"), full_page=True)
            page.goto(f"{base}/admin/")
            page.click("#waiting-plans a")
            page.locator("tr.row.remove").first.click()
            page.locator("tr.row.remove + tr.explain .explanation").first.wait_for()
            page.screenshot(path=str(ROOT / "docs" / "plan.png"), full_page=True)
            browser.close()
        server.shutdown()
    print("wrote docs/mapping-preview.png and docs/plan.png")


if __name__ == "__main__":
    main()
