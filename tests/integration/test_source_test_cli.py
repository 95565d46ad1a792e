"""``rolebridge source test``: one authenticated request to the IdP, the outcome in one
line (exit 1 when it fails), never the secret, and an audit entry either way."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from mappings.authority import Caller
from rolebridge.cli import main
from sync.models import AuditEntry
from sync.services.sources import SourceSettings, save_source
from sync.store.orgs import create_org
from tests.fakes.okta import FakeOkta
from tests.fakes.server import Staller, closed_port_url

KEY = "cli-test-secret-key"
OPERATOR = Caller(actor="cli", role=None)


@pytest.fixture
def cli_env(engine: Engine) -> dict[str, str]:
    return {"DATABASE_URL": engine.url.render_as_string(hide_password=False),
            "ROLEBRIDGE_SECRET_KEY": KEY}  # fmt: skip


def _add(factory: sessionmaker[Session], org_id: int, name: str, url: str, token: str) -> None:
    settings = SourceSettings(name, "okta", {"org_url": url, "auth": "token"}, token)
    save_source(factory, org_id, OPERATOR, settings, secret_key=KEY, create=True)


def _source(factory: sessionmaker[Session], name: str, url: str, token: str) -> None:
    with factory.begin() as s:
        org_id = create_org(s, "Acme", "shareofmodel").id
    _add(factory, org_id, name, url, token)


def _test(env: dict[str, str], *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["source", "test", "--org", "Acme", *args], env=env)
    return result.exit_code, result.output


def test_a_working_source_says_ok_and_a_wrong_token_exits_1(
    session_factory: sessionmaker[Session], bare_okta: FakeOkta, cli_env: dict[str, str]
) -> None:
    """ok with exit 0; after the IdP stops taking the token: the 401 in words, exit 1;
    both audited with their outcome."""
    _source(session_factory, "okta", bare_okta.url, bare_okta.state.api_token)
    code, output = _test(cli_env, "okta")
    assert code == 0 and output.startswith("okta: ok, connected to http://127.0.0.1:"), output
    bare_okta.state.api_token = "rotated-at-okta"
    code, output = _test(cli_env, "okta")
    assert code == 1
    assert "the API token was refused (401)" in output and "Traceback" not in output
    assert "okta-api-token" not in output
    with session_factory() as s:
        outcomes = [e.detail["ok"] for e in s.scalars(select(AuditEntry).order_by(AuditEntry.id))
                    if e.op == "test_source"]  # fmt: skip
    assert outcomes == [True, False]


def test_an_unreachable_or_stalled_idp_is_said_in_words(
    session_factory: sessionmaker[Session], cli_env: dict[str, str]
) -> None:
    """A closed port: connection refused; a server that never answers: timed out."""
    nowhere = closed_port_url()
    staller = Staller()
    try:
        _source(session_factory, "gone", nowhere, "some-api-token")
        code, output = _test(cli_env, "gone")
        assert code == 1 and f"could not reach {nowhere}: connection refused" in output
        with session_factory() as s:
            org_id = s.scalars(select(AuditEntry.org_id)).first()
        assert org_id is not None
        _add(session_factory, org_id, "slow", staller.url, "some-api-token")
        code, output = _test(cli_env, "slow", "--timeout", "0.5")
    finally:
        staller.close()
    assert code == 1 and "timed out after 0.5 s" in output, output


def test_an_unknown_source_is_one_line(
    session_factory: sessionmaker[Session], cli_env: dict[str, str]
) -> None:
    """No such source: one error line, exit 1."""
    _source(session_factory, "okta", closed_port_url(), "some-api-token")
    code, output = _test(cli_env, "nope")
    assert code == 1 and output.strip() == "error: no source named 'nope'"
