"""``rolebridge apikey``: the key is printed once, works, and can be revoked."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from rolebridge.cli import main
from sync.credentials.apikeys import verify_api_key
from sync.models import ApiKey, Organisation


@pytest.fixture
def runner(session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """A CLI runner pointed at the test database, with one soterai org."""
    url = session_factory.kw["bind"].url.render_as_string(hide_password=False)
    monkeypatch.setenv("DATABASE_URL", url)
    with session_factory.begin() as s:
        s.add(Organisation(name="acme", role_model="soterai"))
    return CliRunner()


def test_apikey_create_prints_a_working_key_once(
    runner: CliRunner, session_factory: sessionmaker[Session]
) -> None:
    """The printed key authenticates as the org with the given role; only its hash is kept."""
    result = runner.invoke(main, ["apikey", "create", "--org", "acme", "--role", "manager"])
    assert result.exit_code == 0, result.output
    key = result.output.strip().splitlines()[-1]
    with session_factory.begin() as s:
        who = verify_api_key(s, key)
        stored = s.scalars(select(ApiKey.key_hash)).one()
    assert who is not None and (who.org_name, who.role) == ("acme", "manager")
    assert key not in stored
    listed = runner.invoke(main, ["apikey", "list", "--org", "acme"])
    assert "manager\tactive" in listed.output and key not in listed.output


def test_apikey_create_refuses_an_unknown_role_or_org_in_one_line(runner: CliRunner) -> None:
    """A role outside the role model or a missing org: one line naming the option, exit 1."""
    bad_role = runner.invoke(main, ["apikey", "create", "--org", "acme", "--role", "admin"])
    bad_org = runner.invoke(main, ["apikey", "create", "--org", "nope", "--role", "owner"])
    assert bad_role.exit_code == 1 and "--role" in bad_role.output
    assert bad_org.exit_code == 1 and "--org" in bad_org.output
    assert runner.invoke(main, ["apikey", "list", "--org", "acme"]).output == ""


def test_apikey_revoke_stops_the_key(
    runner: CliRunner, session_factory: sessionmaker[Session]
) -> None:
    """After ``apikey revoke`` the key no longer verifies."""
    key = runner.invoke(main, ["apikey", "create", "--org", "acme", "--role", "owner"])
    token = key.output.strip().splitlines()[-1]
    with session_factory.begin() as s:
        key_id = s.scalars(select(ApiKey.id)).one()
    assert runner.invoke(main, ["apikey", "revoke", "--org", "acme", str(key_id)]).exit_code == 0
    with session_factory.begin() as s:
        assert verify_api_key(s, token) is None
