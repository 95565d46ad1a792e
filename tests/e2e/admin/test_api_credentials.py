"""Admin API: SCIM tokens and API keys made, rotated and revoked by the org's own admins,
each change an audit entry naming who did it."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

from flask.testing import FlaskClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from sync.models import AuditEntry, ScimToken, utcnow
from tests.e2e.admin.conftest import Seeded


def _scim(client: FlaskClient, token: str) -> int:
    return client.get("/scim/v2/Users", headers={"Authorization": f"Bearer {token}"}).status_code


def _audit(session_factory: sessionmaker[Session]) -> list[tuple[str, str]]:
    with session_factory.begin() as s:
        rows = s.scalars(select(AuditEntry).order_by(AuditEntry.id))
        return [(e.op, e.actor) for e in rows]


def test_an_owner_makes_a_token_that_okta_and_entra_can_use(
    client: FlaskClient, seed: Callable[..., Seeded], session_factory: sessionmaker[Session]
) -> None:
    """201 with the token once, the tenant URL under Okta's and Entra's field names; the
    token provisions; the list shows it used, never the token; the entry names the key."""
    org = seed("acme", "soterai", ["owner"])
    r = client.post("/api/v1/orgs/acme/tokens", headers=org.auth("owner"), json={"name": "Okta"})
    assert r.status_code == 201, r.json
    token = r.json["token"]
    assert r.json["okta"] == {"Base URL": r.json["tenant_url"], "API Token": token}
    assert r.json["entra"] == {"Tenant URL": r.json["tenant_url"], "Secret Token": token}
    assert r.json["tenant_url"].endswith("/scim/v2")
    assert _scim(client, token) == 200
    listed = client.get("/api/v1/orgs/acme/tokens", headers=org.auth("owner"))
    (row,) = listed.json["tokens"]
    assert (row["name"], row["revoked_at"]) == ("Okta", None)
    assert row["last_used_at"] is not None and token not in listed.get_data(as_text=True)
    ((op, actor),) = _audit(session_factory)
    assert op == "create_scim_token" and re.fullmatch(r"apikey:\d+:owner key", actor)


def test_rotation_keeps_the_old_token_until_it_is_revoked(
    client: FlaskClient, seed: Callable[..., Seeded], session_factory: sessionmaker[Session]
) -> None:
    """Rotate: both work; revoke the old: it is refused on the very next request."""
    org = seed("acme", "soterai", ["owner"])
    owner = org.auth("owner")
    old = client.post("/api/v1/orgs/acme/tokens", headers=owner, json={"name": "Entra"}).json
    new = client.post(f"/api/v1/orgs/acme/tokens/{old['id']}/rotate", headers=owner, json={})
    assert new.status_code == 201 and new.json["name"] == "Entra"
    assert (_scim(client, old["token"]), _scim(client, new.json["token"])) == (200, 200)
    gone = client.delete(f"/api/v1/orgs/acme/tokens/{old['id']}", headers=owner)
    assert gone.status_code == 200 and gone.json["revoked_at"] is not None
    assert (_scim(client, old["token"]), _scim(client, new.json["token"])) == (401, 200)
    ops = [op for op, _ in _audit(session_factory)]
    assert ops == ["create_scim_token", "rotate_scim_token", "revoke_scim_token"]


def test_an_expired_token_is_refused(
    client: FlaskClient, seed: Callable[..., Seeded], session_factory: sessionmaker[Session]
) -> None:
    """A token past its expiry gets 401; an expiry in the past is refused at creation."""
    org = seed("acme", "soterai", ["owner"])
    soon = (utcnow() + timedelta(days=1)).isoformat()
    made = client.post(
        "/api/v1/orgs/acme/tokens", headers=org.auth("owner"), json={"expires_at": soon}
    ).json
    assert made["expires_at"] is not None and _scim(client, made["token"]) == 200
    with session_factory.begin() as s:
        s.execute(update(ScimToken).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert _scim(client, made["token"]) == 401
    past = (utcnow() - timedelta(days=1)).isoformat()
    r = client.post(
        "/api/v1/orgs/acme/tokens", headers=org.auth("owner"), json={"expires_at": past}
    )
    assert (r.status_code, r.json["field"]) == (422, "expires_at")


def test_only_the_top_role_sees_or_makes_scim_tokens(
    client: FlaskClient, seed: Callable[..., Seeded], session_factory: sessionmaker[Session]
) -> None:
    """A manager's key: 403 on list, create and revoke, and nothing written."""
    org = seed("acme", "soterai", ["owner", "manager"])
    made = client.post("/api/v1/orgs/acme/tokens", headers=org.auth("owner"), json={}).json
    manager = org.auth("manager")
    assert client.get("/api/v1/orgs/acme/tokens", headers=manager).status_code == 403
    assert client.post("/api/v1/orgs/acme/tokens", headers=manager, json={}).status_code == 403
    r = client.delete(f"/api/v1/orgs/acme/tokens/{made['id']}", headers=manager)
    assert r.status_code == 403 and _scim(client, made["token"]) == 200
    assert len(_audit(session_factory)) == 1


def test_api_keys_are_bounded_by_the_makers_role(
    client: FlaskClient, seed: Callable[..., Seeded], session_factory: sessionmaker[Session]
) -> None:
    """A manager makes a member key (it works) but not an owner key, and cannot revoke
    the owner's key; revoking the member key ends it at once."""
    org = seed("acme", "soterai", ["owner", "manager"])
    manager = org.auth("manager")
    made = client.post(
        "/api/v1/orgs/acme/keys", headers=manager, json={"role": "member", "name": "ci"}
    )
    assert made.status_code == 201 and made.json["role"] == "member"
    key = {"Authorization": f"Bearer {made.json['key']}"}
    assert client.get("/api/v1/orgs/acme", headers=key).status_code == 200
    owner_key = client.post("/api/v1/orgs/acme/keys", headers=manager, json={"role": "owner"})
    assert (owner_key.status_code, owner_key.json["field"]) == (403, "role")
    listed = client.get("/api/v1/orgs/acme/keys", headers=manager).json["keys"]
    assert [k["role"] for k in listed] == ["member", "manager", "owner"]
    assert listed[0]["created_by"] == f"apikey:{listed[1]['id']}:manager key"
    refused = client.delete(f"/api/v1/orgs/acme/keys/{listed[2]['id']}", headers=manager)
    assert refused.status_code == 403
    gone = client.delete(f"/api/v1/orgs/acme/keys/{made.json['id']}", headers=manager)
    assert gone.status_code == 200
    assert client.get("/api/v1/orgs/acme", headers=key).status_code == 401
    assert [op for op, _ in _audit(session_factory)] == ["create_api_key", "revoke_api_key"]


def test_a_rotated_key_keeps_its_role_and_the_old_one_works_until_revoked(
    client: FlaskClient, seed: Callable[..., Seeded]
) -> None:
    """Rotating an owner's own key gives a second owner key; both authenticate."""
    org = seed("acme", "soterai", ["owner"])
    (mine,) = client.get("/api/v1/orgs/acme/keys", headers=org.auth("owner")).json["keys"]
    new = client.post(
        f"/api/v1/orgs/acme/keys/{mine['id']}/rotate", headers=org.auth("owner"), json={}
    )
    assert new.status_code == 201 and new.json["role"] == "owner"
    fresh = {"Authorization": f"Bearer {new.json['key']}"}
    assert client.get("/api/v1/orgs/acme", headers=fresh).status_code == 200
    assert client.get("/api/v1/orgs/acme", headers=org.auth("owner")).status_code == 200
