"""API keys: shown once, stored hashed, verified in constant time, revocable."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from mappings.errors import InputError
from sync.credentials.apikeys import (
    create_api_key,
    hash_key,
    list_api_keys,
    principal_by_id,
    revoke_api_key,
    verify_api_key,
)
from sync.models import ApiKey, Organisation

ROLES = ("member", "manager", "owner")


def _org(session_factory: sessionmaker[Session], name: str = "acme") -> int:
    with session_factory.begin() as s:
        org = Organisation(name=name, role_model="soterai")
        s.add(org)
        s.flush()
        return org.id


def test_a_created_key_verifies_to_its_org_and_role(
    session_factory: sessionmaker[Session],
) -> None:
    """A new key authenticates as its org with the role it was given."""
    org_id = _org(session_factory)
    with session_factory.begin() as s:
        info, key = create_api_key(s, org_id, "manager", ROLES, name="ci")
    with session_factory.begin() as s:
        who = verify_api_key(s, key)
    assert who is not None
    assert (who.org_id, who.org_name, who.role, who.key_id) == (org_id, "acme", "manager", info.id)


def test_only_the_hash_of_a_key_is_stored(session_factory: sessionmaker[Session]) -> None:
    """The database holds the key's SHA-256, never the key itself."""
    org_id = _org(session_factory)
    with session_factory.begin() as s:
        _, key = create_api_key(s, org_id, "owner", ROLES)
    with session_factory.begin() as s:
        stored = s.scalars(select(ApiKey.key_hash)).one()
    assert stored == hash_key(key)
    assert key not in stored


def test_a_wrong_or_altered_key_does_not_verify(session_factory: sessionmaker[Session]) -> None:
    """A key with one character changed, or garbage, is refused."""
    org_id = _org(session_factory)
    with session_factory.begin() as s:
        _, key = create_api_key(s, org_id, "owner", ROLES)
    altered = key[:-1] + ("A" if key[-1] != "A" else "B")
    with session_factory.begin() as s:
        assert verify_api_key(s, altered) is None
        assert verify_api_key(s, "not-a-key") is None
        assert verify_api_key(s, "") is None


def test_a_revoked_key_stops_working_at_once(session_factory: sessionmaker[Session]) -> None:
    """After revocation neither the key nor its id in a session authenticates."""
    org_id = _org(session_factory)
    with session_factory.begin() as s:
        info, key = create_api_key(s, org_id, "owner", ROLES)
    with session_factory.begin() as s:
        assert revoke_api_key(s, org_id, info.id) is True
    with session_factory.begin() as s:
        assert verify_api_key(s, key) is None
        assert principal_by_id(s, info.id) is None
        assert revoke_api_key(s, org_id, info.id) is False
        assert list_api_keys(s, org_id)[0].revoked_at is not None


def test_a_key_of_another_org_cannot_be_revoked_through_this_org(
    session_factory: sessionmaker[Session],
) -> None:
    """Revoking by id checks the org, so org B cannot revoke org A's key."""
    a, b = _org(session_factory, "a"), _org(session_factory, "b")
    with session_factory.begin() as s:
        info, key = create_api_key(s, a, "owner", ROLES)
    with session_factory.begin() as s:
        assert revoke_api_key(s, b, info.id) is False
    with session_factory.begin() as s:
        assert verify_api_key(s, key) is not None


def test_a_role_outside_the_role_model_is_refused_and_nothing_is_stored(
    session_factory: sessionmaker[Session],
) -> None:
    """An unknown role is an error naming the 'role' field; no key row is written."""
    org_id = _org(session_factory)
    with pytest.raises(InputError) as err, session_factory.begin() as s:
        create_api_key(s, org_id, "admin", ROLES)
    assert err.value.where == "role"
    with session_factory.begin() as s:
        assert list_api_keys(s, org_id) == []
