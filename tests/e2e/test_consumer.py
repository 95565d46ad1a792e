"""The reference consumer (examples/consumer) ends a day of changes with its membership
table equal to rolebridge's state: SCIM writes, two pulls, accepted invites, a
promotion, a workspace grant, a deactivation and removals, all through webhooks."""

from __future__ import annotations

import re
from contextlib import suppress
from email import message_from_bytes
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy.orm import Session, sessionmaker

from examples.consumer.app import create_app as consumer_app
from examples.consumer.app import members as consumer_members
from mappings.authority import Caller
from sync.credentials.secrets import seal_secret
from sync.credentials.tokens import create_token
from sync.delivery import deliver_webhooks
from sync.errors import NotFound
from sync.models import Source
from sync.pull import run_pull
from sync.services.webhooks import add_webhook
from sync.settings import Settings
from sync.store.invites import accept_invite
from sync.store.mappings import save_mapping
from sync.store.orgs import create_org
from sync.store.outbox import deliver
from sync.store.platform import load_state
from tests.e2e.conftest import Scim, group, user
from tests.fakes.okta import FakeOkta
from tests.fakes.seed import seed_okta
from tests.fakes.server import LoopbackServer

KEY = "consumer-test-key"
MAPPING = """
role_model: aihub
rules:
  - group: "AI Admins"
    org_role: admin
  - group: "AI Users"
    org_role: user
  - group: "SOM Editors"
    org_role: user
  - match: '^proj-(?P<workspace>[a-z]+)-(?P<role>user|manager)$'
    workspace: "{workspace}"
    workspace_role: "{role}"
    create_workspace: true
policy:
  unmapped: remove
  max_removals: 1000
  acting_role: admin
"""
TOKEN = re.compile(r"/invite/([A-Za-z0-9_-]+)")


def _accept(session_factory: sessionmaker[Session], settings: Settings, *emails: str) -> None:
    """Send the due invite emails and accept the named people's invites."""
    deliver(session_factory, settings)
    for path in sorted((settings.instance_path / "outbox").glob("*.eml")):
        msg = message_from_bytes(path.read_bytes())
        body = msg.get_payload(decode=True)
        assert isinstance(body, bytes)
        if str(msg["To"]) in emails:
            for token in TOKEN.findall(body.decode()):
                with suppress(NotFound), session_factory.begin() as s:
                    accept_invite(s, token)  # NotFound: an older link a reminder replaced


def _rolebridge(session_factory: sessionmaker[Session], org_id: int) -> dict[str, Any]:
    with session_factory() as s:
        state = load_state(s, org_id)
    return {
        m.email: {
            "org_role": m.org_role,
            "status": m.status,
            "workspaces": {ws: sorted(r) for ws, r in m.workspaces.items()},
        }
        for m in state.members
    }


def test_the_reference_consumer_ends_a_day_equal_to_rolebridge(
    app: Flask, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    """Every change of the day reaches the consumer through webhooks; its table equals
    the members rolebridge holds, org roles, statuses and workspace roles included."""
    okta = FakeOkta()
    seed_okta(okta)
    settings = Settings(
        database_url="unused",
        instance_path=tmp_path,
        secret_key=KEY,
        webhook_timeout=5.0,
        webhook_allow_private=True,
    )
    with session_factory.begin() as s:
        org = create_org(s, "acme", "aihub")
        save_mapping(s, org.id, MAPPING)
        _, token = create_token(s, "acme")
        source = Source(
            org_id=org.id,
            name="okta",
            kind="okta",
            config={"org_url": okta.url, "auth": "token", "page_size": 2},
            secret=seal_secret(okta.state.api_token, KEY),
        )
        s.add(source)
        s.flush()
        org_id, source_id = org.id, source.id
    scim = Scim(app.test_client(), token)
    made = add_webhook(
        session_factory, org_id, Caller("test", None), "http://127.0.0.1:1/", settings
    )
    consumer = consumer_app(str(tmp_path / "consumer.sqlite3"), made.secret)
    server = LoopbackServer(consumer)
    try:
        with session_factory.begin() as s:
            from sync.models import Webhook

            hook = s.get(Webhook, made.webhook["id"])
            assert hook is not None
            hook.url = f"{server.url}/webhooks"
        # morning: the IdP pushes three people and their groups
        ids = {n: scim.post("/Users", user(f"{n}@corp.com")).json["id"] for n in ("al", "bo", "cy")}
        users_group = scim.post("/Groups", group("AI Users", *ids.values())).json["id"]
        proj = scim.post("/Groups", group("proj-alpha-user", ids["al"])).json["id"]
        # the first pull of the day brings Okta's editors
        assert run_pull(session_factory, source_id, secret_key=KEY).outcome == "applied"
        deliver_webhooks(session_factory, settings)  # a first batch, mid-day
        _accept(session_factory, settings, "al@corp.com", "bob@acme.com")
        # noon: bo becomes an admin, bo joins the project, cy is deactivated
        scim.post("/Groups", group("AI Admins", ids["bo"]))
        scim.put(f"/Groups/{proj}", group("proj-alpha-user", ids["al"], ids["bo"]))
        scim.put(f"/Users/{ids['cy']}", user("cy@corp.com", active=False))
        # afternoon: dan leaves Okta's editors; al is deleted from the IdP
        okta.state.members["00gEditors"].remove("00u4")
        assert run_pull(session_factory, source_id, secret_key=KEY).outcome == "applied"
        assert scim.delete(f"/Users/{ids['al']}").status_code == 204
        scim.put(f"/Groups/{users_group}", group("AI Users", ids["bo"], ids["cy"]))
        deliver_webhooks(session_factory, settings)
        expected = _rolebridge(session_factory, org_id)
        assert consumer_members(consumer.config["CONSUMER_DB"], "acme") == expected
        assert "al@corp.com" not in expected and expected["bo@corp.com"]["org_role"] == "admin"
        assert expected["bob@acme.com"]["status"] == "joined"
    finally:
        server.close()
        okta.close()
