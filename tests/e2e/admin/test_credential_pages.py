"""Admin pages: SCIM tokens and API keys made, shown once, rotated and revoked by the
org's own admins; each change an audit entry."""

from __future__ import annotations

import re
from collections.abc import Callable

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from sync.models import AuditEntry
from tests.e2e.admin.conftest import Seeded, csrf_on, sign_in

_SECRET = re.compile(r'<code id="new-(?:token|key)">([^<]+)</code>')


def _post(client: FlaskClient, path: str, **form: str) -> tuple[int, str]:
    form["csrf_token"] = csrf_on(client, "/admin/credentials")
    r = client.post(path, data=form, follow_redirects=True)
    return r.status_code, r.get_data(as_text=True)


def test_an_owner_makes_a_token_shown_once_with_okta_and_entra_names(
    client: FlaskClient, seed: Callable[..., Seeded], session_factory: sessionmaker[Session]
) -> None:
    """The new token is on the page once, beside Base URL / Tenant URL; it provisions;
    reloading the page shows it no more; revoking ends it."""
    org = seed("acme", "soterai", ["owner"])
    sign_in(client, org.keys["owner"])
    status, html = _post(client, "/admin/tokens", name="Okta prod")
    assert status == 200
    for label in ("Base URL", "API Token", "Tenant URL", "Secret Token", "/scim/v2"):
        assert label in html
    secret = _SECRET.search(html)
    assert secret is not None
    token = secret.group(1)
    auth = {"Authorization": f"Bearer {token}"}
    assert client.get("/scim/v2/Users", headers=auth).status_code == 200
    again = client.get("/admin/credentials").get_data(as_text=True)
    assert token not in again and "Okta prod" in again
    token_id = re.search(r"/admin/tokens/(\d+)/revoke", again)
    assert token_id is not None
    status, html = _post(client, f"/admin/tokens/{token_id.group(1)}/revoke")
    assert status == 200 and "is revoked" in html
    assert client.get("/scim/v2/Users", headers=auth).status_code == 401
    with session_factory.begin() as s:
        ops = list(s.scalars(select(AuditEntry.op).order_by(AuditEntry.id)))
    assert [op for op in ops if op not in ("sign_in", "sign_out")] == [
        "create_scim_token",
        "revoke_scim_token",
    ]


def test_a_manager_sees_no_tokens_and_grants_keys_only_within_its_role(
    client: FlaskClient, seed: Callable[..., Seeded]
) -> None:
    """No token section for a manager; the role list offers manager and member, and an
    owner key asked for anyway is refused on the page."""
    org = seed("acme", "soterai", ["manager"])
    sign_in(client, org.keys["manager"])
    html = client.get("/admin/credentials").get_data(as_text=True)
    assert "SCIM tokens" not in html
    offered = re.findall(r"<option>(\w+)</option>", html)
    assert "owner" not in offered and "member" in offered
    status, html = _post(client, "/admin/keys", role="member", name="ci")
    assert status == 200 and _SECRET.search(html) is not None
    status, html = _post(client, "/admin/keys", role="owner")
    assert status == 200 and "may not hand out" in html


def test_the_tokens_page_lists_the_webhooks_read_only_with_a_link(
    client: FlaskClient, seed: Callable[..., Seeded]
) -> None:
    """A webhook made through the API shows on the tokens page with its URL, events,
    created time and "never" delivered, linking to its row on the webhooks page; the page
    offers no webhook action of its own."""
    org = seed("acme", "soterai", ["owner"])
    sign_in(client, org.keys["owner"])
    empty = client.get("/admin/credentials").get_data(as_text=True)
    assert "No webhooks." in empty
    made = client.post(  # never delivered: no worker runs in this test
        "/api/v1/orgs/acme/webhooks",
        headers=org.auth("owner"),
        json={"url": "http://93.184.216.34/hook", "types": ["member.invited"]},
    )
    assert made.status_code == 201
    hook = made.json["webhook"]
    page = client.get("/admin/credentials").get_data(as_text=True)
    table = page[page.index('id="webhook-list"') :]
    table = table[: table.index("</table>")]
    assert f'href="/admin/webhooks#webhook-{hook["id"]}">http://93.184.216.34/hook</a>' in table
    assert "member.invited" in table and hook["created_at"] in table and "never" in table
    assert "<form" not in table and made.json["secret"] not in page
    webhooks = client.get("/admin/webhooks").get_data(as_text=True)
    assert f'id="webhook-{hook["id"]}"' in webhooks
