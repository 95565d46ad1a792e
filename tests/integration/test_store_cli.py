"""The store's CLI end to end on a database file: upgrade, org, mapping, plan, apply, audit."""

from __future__ import annotations

import json
import re
from email import message_from_bytes
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import update

from mappings.directory import Directory
from rolebridge.cli import main
from rolebridge.cli.common import database
from sync import mirror
from sync.samples import SAMPLES, sample_directory
from sync.settings import Settings


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """A runner whose DATABASE_URL is a fresh SQLite file under tmp_path."""
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.sqlite3'}")
    monkeypatch.setenv("ROLEBRIDGE_INSTANCE", str(tmp_path / "instance"))
    return CliRunner()


def _ok(cli: CliRunner, *args: str) -> Result:
    result = cli.invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def _snapshot(org: str, directory: Directory) -> None:
    with database(Settings.from_env()) as factory, factory.begin() as s:
        from sync.store.orgs import get_org

        org_id = get_org(s, org).id
        source = mirror.ensure_source(s, org_id, "okta", "okta")
        mirror.replace_snapshot(s, org_id, source.id, directory)


def test_commands_refuse_an_unmigrated_database(cli: CliRunner) -> None:
    """Before `db upgrade`, a command says in one line to run it, and exits 1."""
    result = cli.invoke(main, ["org", "create", "Acme", "--role-model", "soterai"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "error: the database is not initialised: run `rolebridge db upgrade`"
    ]


def test_an_org_goes_from_creation_to_applied_plan_and_audit(
    cli: CliRunner, tmp_path: Path
) -> None:
    """org create, mapping set, plan --out, apply FILE, audit, outbox deliver, invite accept."""
    _ok(cli, "db", "upgrade")
    _ok(cli, "org", "create", "Acme", "--role-model", "soterai")
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(SAMPLES["soterai"].mapping)
    assert (
        "saved mapping version 1"
        in _ok(cli, "mapping", "set", "--org", "Acme", str(mapping)).output
    )
    _snapshot("Acme", sample_directory(SAMPLES["soterai"], users=3))
    out = tmp_path / "plan.json"
    planned = _ok(cli, "plan", "--org", "Acme", "--out", str(out))
    assert "+ invite person0@example.com as owner" in planned.output
    assert json.loads(out.read_text())["summary"] == {"invite": 3}
    applied = _ok(cli, "apply", "--org", "Acme", str(out))
    assert "applied plan 1: 3 invite; 3 email(s) queued" in applied.output
    audit = _ok(cli, "audit", "--org", "Acme").output.splitlines()
    invites, (save, created) = audit[:3], audit[3:]
    assert all("cli apply" in line and "invite" in line for line in invites)
    assert "cli" in save and "save_mapping" in save
    assert "cli" in created and "create_org" in created
    assert "sent 3" in _ok(cli, "outbox", "deliver").output
    eml = next((tmp_path / "instance" / "outbox").glob("*.eml")).read_bytes()
    body = message_from_bytes(eml).get_payload(decode=True)
    assert isinstance(body, bytes)
    token = re.search(r"/invite/([A-Za-z0-9_-]+)", body.decode())
    assert token is not None
    assert "has joined" in _ok(cli, "invite", "accept", token.group(1)).output
    again = cli.invoke(main, ["invite", "accept", token.group(1)])
    assert again.exit_code == 1 and again.output.startswith("error: this invite is not valid")


def test_a_stale_plan_file_is_refused_in_one_line(cli: CliRunner, tmp_path: Path) -> None:
    """A plan whose inputs changed is not applied: "stale plan", exit 1."""
    _ok(cli, "db", "upgrade")
    _ok(cli, "org", "create", "Acme", "--role-model", "soterai")
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(SAMPLES["soterai"].mapping)
    _ok(cli, "mapping", "set", "--org", "Acme", str(mapping))
    _snapshot("Acme", sample_directory(SAMPLES["soterai"], users=3))
    _ok(cli, "plan", "--org", "Acme")
    _snapshot("Acme", sample_directory(SAMPLES["soterai"], users=4))
    result = cli.invoke(main, ["apply", "--org", "Acme", "1"])
    assert result.exit_code == 1
    assert result.output.startswith("error: stale plan:")
    assert "plan 2 was made from the current inputs in its place" in result.output
    saved, created = _ok(cli, "audit", "--org", "Acme").output.splitlines()
    assert "save_mapping" in saved and "create_org" in created
    fresh, listed = _ok(cli, "plans", "--org", "Acme").output.splitlines()
    assert listed.startswith("1\tstale\t") and listed.endswith("3 invite")
    assert fresh.startswith("2\tpending\t") and fresh.endswith("4 invite")


def test_bad_input_is_one_line_naming_the_problem(cli: CliRunner, tmp_path: Path) -> None:
    """Unknown preset, plan limits, a bad mapping file and an unknown org each fail cleanly."""
    _ok(cli, "db", "upgrade")
    cases = [
        (["org", "create", "X", "--role-model", "nope"], "unknown role model 'nope'"),
        (["workspace", "create", "--org", "Nobody", "ws"], "no organisation 'Nobody'"),
    ]
    created = _ok(cli, "org", "create", "Som", "--role-model", "shareofmodel", "--plan", "pro")
    assert "workspace: Som (the pro plan's one workspace)" in created.output
    cases.append(
        (["workspace", "create", "--org", "Som", "two"], "the pro plan allows 1 workspace")
    )
    cases.append(
        (
            ["org", "create", "Y", "--role-model", "soterai", "--plan", "banana"],
            "'banana' is not a soterai plan; one of: team, enterprise",
        )
    )
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - group: X\n    org_role: boss\n")
    cases.append((["mapping", "set", "--org", "Som", str(bad)], "bad.yaml:3: rules[0].org_role"))
    for args, message in cases:
        result = cli.invoke(main, args)
        assert result.exit_code == 1, args
        assert len(result.output.strip().splitlines()) == 1, result.output
        assert message in result.output, result.output


def test_manual_members_explain_and_preview_work_on_the_database(
    cli: CliRunner, tmp_path: Path
) -> None:
    """member add keeps a manual member; explain and preview read the org's live inputs."""
    _ok(cli, "db", "upgrade")
    _ok(cli, "org", "create", "Lab", "--role-model", "annotation")
    _ok(cli, "workspace", "create", "--org", "Lab", "labelling")
    added = _ok(
        cli,
        "member",
        "add",
        "--org",
        "Lab",
        "Boss@Lab.example",
        "--role",
        "member",
        "--workspace",
        "labelling=admin,developer",
    )
    assert "invited boss@lab.example to Lab as member (manual)" in added.output
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(SAMPLES["annotation"].mapping)
    _ok(cli, "mapping", "set", "--org", "Lab", str(mapping))
    _snapshot("Lab", sample_directory(SAMPLES["annotation"], users=3))
    explained = _ok(cli, "explain", "--org", "Lab", "--user", "person0@example.com").output
    assert "Label Leads" in explained
    preview = _ok(cli, "preview", "--org", "Lab").output
    boss = [line for line in preview.splitlines() if "boss@lab.example" in line]
    assert len(boss) == 1 and "manual_member" in boss[0]  # left alone, and said so
    assert "+ invite person2@example.com" in preview


def test_the_demo_plans_applies_and_shows_an_incremental_plan(tmp_path: Path) -> None:
    """Every preset's org is planned, applied, and a group change gives a one-line plan."""
    result = CliRunner().invoke(main, ["demo", "--instance", str(tmp_path)])
    assert result.exit_code == 0, result.output
    for preset in SAMPLES:
        assert f"== {preset}-demo (role model {preset}): first plan" in result.output
    assert result.output.count("-> applied") == len(SAMPLES)
    assert result.output.count("Plan: 0 to add, 1 to change, 0 to remove.") == len(SAMPLES)
    assert (tmp_path / "demo.sqlite3").exists()
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 12 * len(SAMPLES)


def _members(org: str) -> dict[str, tuple[str, dict[str, tuple[str, ...]]]]:
    with database(Settings.from_env()) as factory, factory() as s:
        from sync.store.orgs import get_org
        from sync.store.platform import load_state

        state = load_state(s, get_org(s, org).id)
    return {m.email: (m.org_role, dict(m.workspaces)) for m in state.members}


def test_member_add_refuses_two_roles_where_a_workspace_holds_one(cli: CliRunner) -> None:
    """shareofmodel workspaces hold one role: viewer,editor is one line, exit 1, nothing stored."""
    _ok(cli, "db", "upgrade")
    _ok(cli, "org", "create", "Som", "--role-model", "shareofmodel", "--credits", "100")
    _ok(cli, "workspace", "create", "--org", "Som", "brand-a")
    args = ["member", "add", "--org", "Som", "g@x.com", "--role", "guest"]
    result = cli.invoke(main, [*args, "--workspace", "brand-a=viewer,editor"])
    assert (result.exit_code, result.output.strip().splitlines()) == (
        1,
        ["error: workspaces.brand-a: role model 'shareofmodel' allows one role per workspace"],
    )
    assert _members("Som") == {}
    _ok(cli, *args, "--workspace", "brand-a=editor")
    assert _members("Som") == {"g@x.com": ("guest", {"brand-a": ("editor",)})}


def test_workspace_create_on_a_plan_the_role_model_does_not_list_gets_the_smallest_limit(
    cli: CliRunner,
) -> None:
    """An org whose plan is not in the model's list stops at the smallest limit, as plans do."""
    _ok(cli, "db", "upgrade")
    _ok(cli, "org", "create", "Som", "--role-model", "shareofmodel")
    with database(Settings.from_env()) as factory, factory.begin() as s:
        from sync.models import Organisation

        s.execute(update(Organisation).values(plan="trial"))
    _ok(cli, "workspace", "create", "--org", "Som", "one")
    result = cli.invoke(main, ["workspace", "create", "--org", "Som", "two"])
    assert (result.exit_code, result.output.strip().splitlines()) == (
        1,
        [
            "error: the trial plan is not one of shareofmodel's plans (pro, enterprise):"
            " it gets the smallest limit, 1 workspace; the org has 1"
        ],
    )


def test_every_command_takes_the_org_by_id_and_listings_print_json(
    cli: CliRunner, tmp_path: Path
) -> None:
    """--org 1 names the org as its name does; plans, audit and token list print JSON lines."""
    _ok(cli, "db", "upgrade")
    _ok(cli, "org", "create", "Acme", "--role-model", "soterai")
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(SAMPLES["soterai"].mapping)
    _ok(cli, "mapping", "set", "--org", "1", str(mapping))
    _snapshot("Acme", sample_directory(SAMPLES["soterai"], users=3))
    _ok(cli, "plan", "--org", "1")
    [planned] = _ok(cli, "plans", "--org", "1", "--format", "json").output.splitlines()
    assert json.loads(planned) | {"created_at": None, "fingerprint": None} == {
        "id": 1,
        "status": "pending",
        "created_at": None,
        "fingerprint": None,
        "summary": {"invite": 3},
        "held": None,
    }
    _ok(cli, "apply", "--org", "1", "1")
    audit = [
        json.loads(line)
        for line in _ok(cli, "audit", "--org", "1", "--format", "json").output.splitlines()
    ]
    assert [(e["actor"], e["plan"]) for e in audit] == [("cli apply", 1)] * 3 + [("cli", None)] * 2
    _ok(cli, "token", "create", "--org", "1", "--name", "okta")
    [token] = _ok(cli, "token", "list", "--org", "1", "--format", "json").output.splitlines()
    assert json.loads(token) | {"created_at": None} == {
        "id": 1, "org": "Acme", "name": "okta", "created_at": None, "revoked_at": None
    }  # fmt: skip
    versions = _ok(cli, "mapping", "versions", "--org", "1", "--format", "json").output
    assert [json.loads(v)["version"] for v in versions.splitlines()] == [1]
    unknown = cli.invoke(main, ["plans", "--org", "2"])
    assert (unknown.exit_code, unknown.output) == (1, "error: --org: no organisation '2'\n")
