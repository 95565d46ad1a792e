"""A SCIM token, an API key and a pulled source made from the command line are the same
use case as through the admin API: the same service writes the same audit entry, the
actor aside (docs/architecture.md section 2.3)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner, Result
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from rolebridge.cli import main
from sync.models import AuditEntry
from tests.e2e.admin.conftest import Seeded

_IDS = ("token", "key", "replaces")  # the ids differ between the two paths


def _audit(factory: sessionmaker[Session], op: str) -> list[tuple[str, dict[str, object]]]:
    """(who, detail without ids) of each ``op`` entry, oldest first."""
    with factory() as s:
        rows = s.scalars(select(AuditEntry).where(AuditEntry.op == op).order_by(AuditEntry.id))
        return [
            (r.actor.split(":")[0], {k: v for k, v in r.detail.items() if k not in _IDS})
            for r in rows
        ]


@pytest.fixture
def cli(cli: CliRunner, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """The CLI runner with the app's secret key and the okta source's token set."""
    monkeypatch.setenv("ROLEBRIDGE_SECRET_KEY", "test-secret")
    monkeypatch.setenv("OKTA_TOKEN", "okta-api-token")
    return cli


def _run(cli: CliRunner, *args: str) -> Result:
    result = cli.invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def test_a_token_made_and_revoked_by_the_cli_is_audited_as_by_the_api(
    client: FlaskClient, acme: Seeded, session_factory: sessionmaker[Session], cli: CliRunner
) -> None:
    """create_scim_token and revoke_scim_token: one entry each per path, alike."""
    owner = acme.auth("owner")
    made = client.post("/api/v1/orgs/acme/tokens", headers=owner, json={"name": "okta"})
    assert made.status_code == 201
    assert (
        client.delete(f"/api/v1/orgs/acme/tokens/{made.json['id']}", headers=owner).status_code
        == 200
    )
    token = _run(cli, "token", "create", "--org", "acme", "--name", "okta").stdout.strip()
    assert token.startswith("rbscim_")
    [line] = _run(cli, "token", "list", "--org", "acme").output.splitlines()[1:]
    assert line.endswith("active\tokta")
    _run(cli, "token", "revoke", "--org", "acme", line.split("\t")[0])
    detail = {"name": "okta", "expires_at": None}
    assert _audit(session_factory, "create_scim_token") == [("apikey", detail), ("cli", detail)]
    revoked = [("apikey", {"name": "okta"}), ("cli", {"name": "okta"})]
    assert _audit(session_factory, "revoke_scim_token") == revoked


def test_a_key_made_and_revoked_by_the_cli_is_audited_as_by_the_api(
    client: FlaskClient, acme: Seeded, session_factory: sessionmaker[Session], cli: CliRunner
) -> None:
    """create_api_key and revoke_api_key: one entry each per path, alike."""
    owner = acme.auth("owner")
    body = {"role": "member", "name": "ci"}
    made = client.post("/api/v1/orgs/acme/keys", headers=owner, json=body)
    assert made.status_code == 201
    assert (
        client.delete(f"/api/v1/orgs/acme/keys/{made.json['id']}", headers=owner).status_code == 200
    )
    out = _run(cli, "apikey", "create", "--org", "acme", "--role", "member", "--name", "ci")
    key_id = out.output.split()[2]
    _run(cli, "apikey", "revoke", "--org", "acme", key_id)
    detail = {"name": "ci", "role": "member", "expires_at": None}
    assert _audit(session_factory, "create_api_key") == [("apikey", detail), ("cli", detail)]
    revoked = {"name": "ci", "role": "member"}
    assert _audit(session_factory, "revoke_api_key") == [("apikey", revoked), ("cli", revoked)]
    again = cli.invoke(main, ["apikey", "revoke", "--org", "acme", key_id])
    assert again.exit_code == 1 and f"no active key {key_id}" in again.output
    assert len(_audit(session_factory, "revoke_api_key")) == 2


def test_a_source_added_by_the_cli_is_audited_as_by_the_api(
    client: FlaskClient, acme: Seeded, session_factory: sessionmaker[Session], cli: CliRunner
) -> None:
    """create_source: the same settings give the same entry, the secret never in it."""
    added = _run(
        cli, "source", "add", "okta", "--org", "acme", "--name", "cli-okta",
        "--org-url", "https://acme.okta.example", "--secret-env", "OKTA_TOKEN",
    )  # fmt: skip
    assert "secret: encrypted" in added.output and "okta-api-token" not in added.output
    [(_, by_cli)] = _audit(session_factory, "create_source")
    body = {
        "name": "api-okta",
        "kind": "okta",
        "config": by_cli["config"],
        "secret": "okta-api-token",
    }
    r = client.post("/api/v1/orgs/acme/sources", headers=acme.auth("owner"), json=body)
    assert r.status_code == 201, r.json
    (who_cli, cli_detail), (who_api, api_detail) = _audit(session_factory, "create_source")
    assert (who_cli, who_api) == ("cli", "apikey")
    assert cli_detail | {"source": None} == api_detail | {"source": None}
    assert cli_detail["secret_changed"] is True
    assert "okta-api-token" not in repr(_audit(session_factory, "create_source"))


def test_a_reference_is_the_operators_alone(
    client: FlaskClient, acme: Seeded, session_factory: sessionmaker[Session], cli: CliRunner
) -> None:
    """The CLI stores env:NAME as it is; the API refuses it (422) and writes nothing."""
    added = _run(
        cli, "source", "add", "okta", "--org", "acme", "--name", "ref", "--org-url", "https://a.example",
        "--secret-env", "OKTA_TOKEN", "--reference",
    )  # fmt: skip
    assert "secret: env:OKTA_TOKEN" in added.output
    body = {
        "name": "api",
        "kind": "okta",
        "config": {"org_url": "https://a.example"},
        "secret": "env:OKTA_TOKEN",
    }
    r = client.post("/api/v1/orgs/acme/sources", headers=acme.auth("owner"), json=body)
    assert r.status_code == 422 and "host's operator" in r.get_data(as_text=True)
    assert [who for who, _ in _audit(session_factory, "create_source")] == ["cli"]


def test_org_create_without_an_owner_is_audited(
    session_factory: sessionmaker[Session], cli: CliRunner
) -> None:
    """``org create`` writes one create_org entry naming the operator."""
    _run(cli, "org", "create", "Lab", "--role-model", "shareofmodel", "--plan", "pro")
    [(who, detail)] = _audit(session_factory, "create_org")
    assert who == "cli"
    assert (detail["org"], detail["role_model"], detail["commercial_plan"]) == (
        "Lab",
        "shareofmodel",
        "pro",
    )
