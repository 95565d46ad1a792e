"""The pull CLI: adding sources without ever showing secrets, listing them, syncing an org."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from rolebridge.cli import main
from sync.credentials.secrets import resolve_secret
from sync.models import Source
from sync.store.mappings import save_mapping
from sync.store.orgs import create_org
from tests.fakes.okta import FakeOkta
from tests.integration.pullsetup import MAPPINGS, roles

KEY = "cli-test-secret-key"


@pytest.fixture
def cli_env(engine: Engine) -> dict[str, str]:
    return {
        "DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "ROLEBRIDGE_SECRET_KEY": KEY,
        "OKTA_TOKEN": "okta-api-token",
    }


def _org(factory: sessionmaker[Session]) -> int:
    with factory.begin() as s:
        org = create_org(s, "Acme", "shareofmodel")
        save_mapping(s, org.id, MAPPINGS["shareofmodel"])
        return org.id


def _add_okta(env: dict[str, str], url: str, *extra: str) -> tuple[int, str]:
    args = ["source", "add", "okta", "--org", "Acme", "--org-url", url, *extra]
    result = CliRunner().invoke(main, args, env=env)
    return result.exit_code, result.output


def test_source_add_stores_the_token_encrypted_and_never_prints_it(
    session_factory: sessionmaker[Session], okta: FakeOkta, cli_env: dict[str, str]
) -> None:
    """The token is read from the environment, sealed in the database, absent from output."""
    _org(session_factory)
    code, output = _add_okta(cli_env, okta.url, "--secret-env", "OKTA_TOKEN", "--schedule", "15m")
    assert code == 0, output
    assert "okta-api-token" not in output and "secret: encrypted" in output
    with session_factory() as s:
        source = s.scalars(select(Source)).one()
    assert source.secret and "okta-api-token" not in source.secret
    assert resolve_secret(source.secret, KEY) == "okta-api-token"
    listing = CliRunner().invoke(main, ["source", "list"], env=cli_env)
    assert listing.exit_code == 0 and "okta-api-token" not in listing.output
    assert "encrypted" in listing.output and "15m" in listing.output


def test_a_reference_is_stored_as_is_and_bad_input_is_one_line_and_changes_nothing(
    session_factory: sessionmaker[Session], okta: FakeOkta, cli_env: dict[str, str], tmp_path: Path
) -> None:
    """--reference keeps env:NAME; an unknown org, a bad schedule or no secret exit 1."""
    _org(session_factory)
    code, output = _add_okta(cli_env, okta.url, "--secret-env", "OKTA_TOKEN", "--reference")
    assert code == 0 and "secret: env:OKTA_TOKEN" in output
    bad = [
        ("--org", "Nope", "--secret-env", "OKTA_TOKEN", "--name", "b"),
        ("--schedule", "sometimes", "--secret-env", "OKTA_TOKEN", "--name", "c"),
        (
            "--name",
            "d",
        ),
        ("--secret-file", str(tmp_path / "missing"), "--name", "e"),
    ]
    for extra in bad:
        code, output = _add_okta(cli_env, okta.url, *extra)
        assert code == 1, output
        assert len(output.strip().splitlines()) == 1 and output.startswith("error: ")
    with session_factory() as s:
        assert [src.name for src in s.scalars(select(Source))] == ["okta"]


def test_sync_dry_run_prints_the_plan_and_sync_applies_it(
    session_factory: sessionmaker[Session], okta: FakeOkta, cli_env: dict[str, str]
) -> None:
    """The dry run changes nothing; the real run invites everyone; a failure exits 1."""
    org_id = _org(session_factory)
    assert _add_okta(cli_env, okta.url, "--secret-env", "OKTA_TOKEN")[0] == 0
    dry = CliRunner().invoke(main, ["sync", "--org", "Acme", "--dry-run"], env=cli_env)
    assert dry.exit_code == 0, dry.output
    assert "okta: planned" in dry.output and "+ invite" in dry.output
    assert roles(session_factory, org_id) == {}
    real = CliRunner().invoke(main, ["sync", "--org", "Acme", "--source", "okta"], env=cli_env)
    assert real.exit_code == 0, real.output
    assert "okta: applied" in real.output
    assert len(roles(session_factory, org_id)) == 5
    okta.state.api_token = "rotated"
    failed = CliRunner().invoke(main, ["sync", "--org", "Acme"], env=cli_env)
    assert failed.exit_code == 1
    assert "configuration:" in failed.output and "refused the credentials" in failed.output


def test_source_list_and_sync_print_json_and_take_the_org_by_id(
    session_factory: sessionmaker[Session], okta: FakeOkta, cli_env: dict[str, str]
) -> None:
    """`source list` and `sync` with --org ID --format json print one JSON object per line."""
    org_id = _org(session_factory)
    assert _add_okta(cli_env, okta.url, "--secret-env", "OKTA_TOKEN")[0] == 0
    args = ["sync", "--org", str(org_id), "--dry-run", "--format", "json"]
    dry = CliRunner().invoke(main, args, env=cli_env)
    assert dry.exit_code == 0, dry.output
    [run] = [json.loads(line) for line in dry.stdout.splitlines()]
    assert (run["source"], run["outcome"], run["error"]) == ("okta", "planned", None)
    assert run["plan"]["summary"]["invite"] == 5 and run["counts"]["users"] > 0
    listing = CliRunner().invoke(
        main, ["source", "list", "--org", str(org_id), "--format", "json"], env=cli_env
    )
    assert listing.exit_code == 0, listing.output
    [source] = [json.loads(line) for line in listing.stdout.splitlines()]
    assert {k: source[k] for k in ("org", "name", "kind", "secret", "enabled")} == {
        "org": "Acme", "name": "okta", "kind": "okta", "secret": "encrypted", "enabled": True
    }  # fmt: skip
    assert source["last_run"]["outcome"] == "planned"
