"""SCIM tokens from the command line: shown once, stored hashed, listed, revoked."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from rolebridge.cli import main
from sync.credentials.tokens import find_tenant, hash_token
from sync.models import Organisation, ScimToken


@pytest.fixture
def runner(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """A CLI runner whose DATABASE_URL is the test database."""
    monkeypatch.setenv("DATABASE_URL", engine.url.render_as_string(hide_password=False))
    return CliRunner()


@pytest.fixture
def acme(session_factory: sessionmaker[Session]) -> None:
    """An organisation called acme."""
    with session_factory.begin() as session:
        session.add(Organisation(name="acme", role_model="aihub"))


def test_token_create_prints_the_token_once_and_stores_only_its_hash(
    runner: CliRunner, acme: None, session_factory: sessionmaker[Session]
) -> None:
    """The printed token authenticates; the database holds its SHA-256, not the token."""
    result = runner.invoke(main, ["token", "create", "--org", "acme", "--name", "okta"])
    assert result.exit_code == 0, result.output
    token = result.stdout.strip().splitlines()[-1]
    with session_factory.begin() as session:
        (row,) = session.scalars(select(ScimToken))
        assert row.token_hash == hash_token(token) and token not in row.token_hash
        assert find_tenant(session, token) is not None
    listed = runner.invoke(main, ["token", "list", "--org", "acme"])
    assert listed.exit_code == 0
    assert token not in listed.output
    assert listed.output.startswith(f"{row.id}\t") and "active\tokta" in listed.output


def test_a_revoked_token_stops_authenticating(
    runner: CliRunner, acme: None, session_factory: sessionmaker[Session]
) -> None:
    """Revocation is immediate and shows in the listing."""
    token = runner.invoke(main, ["token", "create", "--org", "acme"]).stdout.split()[-1]
    with session_factory() as session:
        token_id = session.scalars(select(ScimToken.id)).one()
    result = runner.invoke(main, ["token", "revoke", "--org", "acme", str(token_id)])
    assert result.exit_code == 0 and "revoked" in result.output
    with session_factory.begin() as session:
        assert find_tenant(session, token) is None


def test_token_commands_name_an_unknown_org_in_one_line(runner: CliRunner, acme: None) -> None:
    """An unknown org or token is one error line and exit code 1 (2 means changes)."""
    result = runner.invoke(main, ["token", "create", "--org", "nope"])
    assert result.exit_code == 1
    assert result.stderr.strip() == "error: no organisation named 'nope'"
    revoked = runner.invoke(main, ["token", "revoke", "--org", "acme", "99"])
    assert revoked.exit_code == 1 and "no token 99" in revoked.stderr
