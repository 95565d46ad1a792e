"""``rolebridge oidc set|show|clear``: the host's operator sets an org's identity provider
sign-in; the secret is read from a variable or a file, stored sealed, and never printed."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from rolebridge.cli import main
from sync.models import AuditEntry, OidcSettings, Organisation

SECRET = "a-client-secret-from-the-idp"
ISSUER = "https://acme.okta.com"


@pytest.fixture
def runner(session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """A CLI runner on the test database with one soterai org and a sealing key."""
    url = session_factory.kw["bind"].url.render_as_string(hide_password=False)
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("ROLEBRIDGE_SECRET_KEY", "cli-test-key")
    monkeypatch.setenv("ROLEBRIDGE_BASE_URL", "https://rolebridge.acme.com")
    monkeypatch.setenv("ACME_OIDC_SECRET", SECRET)
    with session_factory.begin() as s:
        s.add(Organisation(name="acme", role_model="soterai"))
    return CliRunner()


def _set(runner: CliRunner, *extra: str) -> tuple[int, str]:
    args = ["oidc", "set", "--org", "acme", "--issuer", ISSUER, "--client-id", "0oa1", *extra]
    result = runner.invoke(main, args)
    return result.exit_code, result.output


def test_set_show_and_clear(runner: CliRunner, session_factory: sessionmaker[Session]) -> None:
    """Set with the secret from a variable: stored sealed, shown only as "set", with the
    redirect URI to register; clear removes it; each change audited as the operator."""
    code, out = _set(runner, "--secret-env", "ACME_OIDC_SECRET")
    assert code == 0, out
    assert "https://rolebridge.acme.com/admin/signin/oidc/callback" in out and SECRET not in out
    with session_factory.begin() as s:
        stored = s.scalars(select(OidcSettings.client_secret)).one()
        audit = s.scalars(select(AuditEntry).where(AuditEntry.op == "set_oidc")).one()
        assert (audit.actor, audit.detail["secret_changed"]) == ("cli", True)
        assert SECRET not in json.dumps(audit.detail)
    assert stored.startswith("fernet:") and SECRET not in stored
    text = runner.invoke(main, ["oidc", "show", "--org", "acme"])
    assert "client secret: set" in text.output and SECRET not in text.output
    with session_factory.begin() as s:
        acme_id = s.scalars(select(Organisation.id)).one()
    shown = runner.invoke(main, ["oidc", "show", "--org", str(acme_id), "--format", "json"])
    doc = json.loads(shown.output)
    assert (doc["issuer"], doc["client_secret"], doc["enabled"]) == (ISSUER, "set", True)
    code, out = _set(runner, "--disabled")  # the stored secret is kept
    assert code == 0 and "(disabled)" in out
    cleared = runner.invoke(main, ["oidc", "clear", "--org", "acme"])
    assert cleared.exit_code == 0
    after = runner.invoke(main, ["oidc", "show", "--org", "acme"])
    assert "has no identity provider sign-in" in after.output


def test_bad_input_is_one_line_and_exit_1(runner: CliRunner) -> None:
    """No secret the first time, a plain-http issuer, an unknown org, an empty variable and
    clearing what is not there: one line naming the option, exit 1, nothing stored."""
    code, out = _set(runner)
    assert code == 1 and out.startswith("error: client_secret: is required the first time")
    args = ["oidc", "set", "--org", "acme", "--client-id", "x", "--secret-env", "ACME_OIDC_SECRET"]
    plain = runner.invoke(main, [*args, "--issuer", "http://idp.example.com"])
    assert plain.exit_code == 1 and "https" in plain.output and len(plain.output.splitlines()) == 1
    nope = runner.invoke(main, ["oidc", "show", "--org", "globex"])
    assert nope.exit_code == 1 and "--org" in nope.output
    empty = runner.invoke(main, [*args, "--issuer", ISSUER, "--secret-env", "UNSET_VARIABLE_X"])
    assert empty.exit_code == 1
    gone = runner.invoke(main, ["oidc", "clear", "--org", "acme"])
    assert gone.exit_code == 1 and "no identity provider" in gone.output
    assert (
        "has no identity provider" in runner.invoke(main, ["oidc", "show", "--org", "acme"]).output
    )
