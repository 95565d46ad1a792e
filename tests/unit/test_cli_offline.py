"""The offline CLI: preview, explain and mapping validate, from files only."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from mappings import (
    PRESETS,
    Directory,
    PlatformState,
    apply_to_state,
    load_role_model,
    make_plan,
)
from rolebridge.cli import main
from sync.files import load_mapping
from tests.unit.builders import NOW

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
PRESET_NAMES = sorted(PRESETS)


def _preview(preset: str, *extra: str, state: str | None = None) -> Result:
    base = EXAMPLES / preset
    args = [
        "preview",
        "--mapping", str(base / "mapping.yaml"),
        "--directory", str(base / "directory.json"),
        "--state", state or str(base / "state.json"),
        "--now", "2026-11-27T12:00:00Z",
        *extra,
    ]  # fmt: skip
    return CliRunner().invoke(main, args)


@pytest.mark.parametrize("preset", PRESET_NAMES)
def test_every_shipped_example_previews_in_three_formats(preset: str) -> None:
    """text, json and markdown all succeed on each preset's example and agree on counts."""
    text = _preview(preset)
    as_json = _preview(preset, "--format", "json")
    markdown = _preview(preset, "--format", "markdown")
    assert (text.exit_code, as_json.exit_code, markdown.exit_code) == (0, 0, 0)
    plan = json.loads(as_json.output)
    assert plan["operations"], "each example shows some changes"
    adds = sum(
        n
        for op, n in plan["summary"].items()
        if op in ("invite", "add_to_workspace", "create_workspace", "reactivate")
    )
    assert f"Plan: {adds} to add" in text.output
    assert f"**Plan: {adds} to add" in markdown.output


def test_detailed_exitcode_is_2_with_changes_and_0_without(tmp_path: Path) -> None:
    """--detailed-exitcode exits 2 for a plan with operations and 0 once applied."""
    assert _preview("aihub", "--detailed-exitcode").exit_code == 2
    base = EXAMPLES / "aihub"
    mapping = load_mapping(base / "mapping.yaml")
    model = load_role_model("aihub")
    d = Directory.from_scim(json.loads((base / "directory.json").read_text()))
    s = PlatformState.from_dict(json.loads((base / "state.json").read_text()))
    after = apply_to_state(s, make_plan(d, s, mapping, model, now=NOW), model, now=NOW)
    (tmp_path / "after.json").write_text(json.dumps(after.to_dict()))
    result = _preview("aihub", "--detailed-exitcode", state=str(tmp_path / "after.json"))
    assert result.exit_code == 0
    assert result.output.startswith("No changes.")


def test_a_bad_mapping_is_one_line_naming_the_file_line_and_rule_with_exit_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unknown role in rule 1 is reported as file:line: rules[1].org_role, exit status 1."""
    runner = CliRunner()
    monkeypatch.chdir(tmp_path)
    Path("m.yaml").write_text(
        "role_model: soterai\nrules:\n  - group: A\n    org_role: member\n"
        "  - group: B\n    org_role: chief\n"
    )
    result = runner.invoke(main, ["mapping", "validate", "m.yaml"])
    assert result.exit_code == 1
    assert result.output == (
        "error: m.yaml:6: rules[1].org_role: unknown org role 'chief' "
        "(known: member, manager, owner)\n"
    )


def test_a_malformed_directory_file_names_the_file_and_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Broken JSON in --directory: one line with the file and line number, exit 1."""
    runner = CliRunner()
    base = EXAMPLES / "soterai"
    monkeypatch.chdir(tmp_path)
    Path("d.json").write_text('{"users": [\n  {"id": "u1",\n   "userName": }\n]}\n')
    result = runner.invoke(main, [
        "preview", "--mapping", str(base / "mapping.yaml"), "--directory", "d.json",
        "--state", str(base / "state.json"),
    ])  # fmt: skip
    assert result.exit_code == 1
    assert result.output.startswith("error: d.json:3: invalid JSON")
    assert result.output.count("\n") == 1


def test_a_directory_user_without_a_username_is_named_by_its_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A SCIM user missing userName is reported as users[1].userName at its line."""
    runner = CliRunner()
    base = EXAMPLES / "soterai"
    monkeypatch.chdir(tmp_path)
    Path("d.json").write_text(
        json.dumps({"users": [{"id": "a", "userName": "a@x.io"}, {"id": "b"}]}, indent=1)
    )
    result = runner.invoke(main, [
        "preview", "--mapping", str(base / "mapping.yaml"), "--directory", "d.json",
        "--state", str(base / "state.json"),
    ])  # fmt: skip
    assert result.exit_code == 1
    assert result.output == (
        "error: d.json:7: users[1].userName: 'userName' must be a non-empty string\n"
    )


def test_a_missing_file_is_one_line_with_exit_1() -> None:
    """A state file that does not exist is named; no traceback."""
    result = _preview("soterai", state="/nonexistent/state.json")
    assert result.exit_code == 1
    assert result.output == "error: /nonexistent/state.json: no such file\n"


def test_mapping_validate_accepts_every_shipped_example() -> None:
    """Each example mapping validates with a one-line summary."""
    for preset in PRESET_NAMES:
        path = EXAMPLES / preset / "mapping.yaml"
        result = CliRunner().invoke(main, ["mapping", "validate", str(path)])
        assert result.exit_code == 0
        assert result.output.endswith(
            f"ok ({len(load_mapping(path).rules)} rules, role model {preset})\n"
        )


def test_explain_prints_why_a_user_has_each_role_and_what_lost() -> None:
    """explain --user shows the rule and group path behind the editor role."""
    base = EXAMPLES / "shareofmodel"
    result = CliRunner().invoke(main, [
        "explain", "--user", "ERIN.SMITH@acme.com", "--mapping", str(base / "mapping.yaml"),
        "--directory", str(base / "directory.json"),
    ])  # fmt: skip
    assert result.exit_code == 0
    assert "Org role: editor" in result.output
    assert (
        "+ org editor from rules[1] (group SOM Analysts) via SOM Analysts > "
        "SOM Analysts (EMEA): won" in result.output
    )


def test_a_state_naming_a_role_the_model_lacks_is_refused_at_its_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A member with org role 'admin' in a soterai state: one line naming the place."""
    base = EXAMPLES / "soterai"
    monkeypatch.chdir(tmp_path)
    state = {"organisation": {"name": "Sec"}, "members": [
        {"email": "a@x.io", "org_role": "member"},
        {"email": "b@x.io", "org_role": "admin"},
    ]}  # fmt: skip
    Path("s.json").write_text(json.dumps(state, indent=2))
    result = CliRunner().invoke(main, [
        "preview", "--mapping", str(base / "mapping.yaml"),
        "--directory", str(base / "directory.json"), "--state", "s.json",
    ])  # fmt: skip
    assert result.exit_code == 1
    assert result.output == (
        "error: s.json:12: members[1].org_role: unknown org role 'admin' for role model soterai\n"
    )


def test_explain_as_json_names_the_lost_grant_and_what_beat_it() -> None:
    """--format json lists every grant with won/beaten_by."""
    base = EXAMPLES / "aihub"
    result = CliRunner().invoke(main, [
        "explain", "--user", "ben@lab.example", "--format", "json",
        "--mapping", str(base / "mapping.yaml"), "--directory", str(base / "directory.json"),
    ])  # fmt: skip
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert (data["org_role"], data["workspaces"]) == ("user", {"vision": ["manager"]})
    assert [(g["role"], g["workspace"], g["won"]) for g in data["grants"]] == [
        ("user", None, True),
        ("manager", "vision", True),
    ]


def test_preview_prints_a_readable_plan_of_the_shareofmodel_example() -> None:
    """The shipped example previews offline as a terraform-like plan."""
    base = EXAMPLES / "shareofmodel"
    result = CliRunner().invoke(main, [
        "preview", "--mapping", str(base / "mapping.yaml"),
        "--directory", str(base / "directory.json"), "--state", str(base / "state.json"),
        "--now", "2026-11-27T12:00:00Z",
    ])  # fmt: skip
    assert result.exit_code == 0
    assert "+ invite carol@acme.com as guest" in result.output
    assert "Plan: 6 to add, 3 to change, 2 to remove." in result.output


def test_broken_yaml_is_reported_at_its_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A mis-indented mapping names the file and the line the parser stopped at."""
    monkeypatch.chdir(tmp_path)
    Path("m.yaml").write_text("role_model: soterai\nrules:\n  - group: A\n   org_role: member\n")
    result = CliRunner().invoke(main, ["mapping", "validate", "m.yaml"])
    assert result.exit_code == 1
    assert result.output.startswith("error: m.yaml:4: invalid YAML: ")
    assert result.output.count("\n") == 1


def test_mapping_validate_refuses_a_format_spec_in_a_template(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``{w:>99999999}`` is one line naming the file, line and rules[0].workspace, exit 1."""
    monkeypatch.chdir(tmp_path)
    Path("m.yaml").write_text(
        "role_model: aihub\nrules:\n  - match: '^(?P<w>.+)$'\n    workspace: '{w:>99999999}'\n"
    )
    result = CliRunner().invoke(main, ["mapping", "validate", "m.yaml"])
    assert (result.exit_code, result.output) == (
        1,
        "error: m.yaml:4: rules[0].workspace: bad template: use {name} with a capture name "
        "only (no format spec, conversion, index or attribute)\n",
    )


@pytest.mark.parametrize(
    "args",
    [["preview"], ["plans"], ["preview", "--format", "yaml"], ["no-such-command"]],
    ids=["no inputs", "missing --org", "bad choice", "unknown command"],
)
def test_a_usage_error_is_one_line_and_exit_1_so_that_2_only_means_changes(
    args: list[str],
) -> None:
    """Click's usage errors leave as one `error:` line and exit 1, never click's 2."""
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1
    [line] = result.output.splitlines()
    assert line.startswith("error: ")


def _commands(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    found: list[tuple[str, click.Command]] = []
    for name, command in sorted(group.commands.items()):
        found.append((f"{prefix}{name}", command))
        if isinstance(command, click.Group):
            found.extend(_commands(command, f"{prefix}{name} "))
    return found


def test_every_option_of_every_command_has_help_text() -> None:
    """`--help` explains each option of each command (and each command has a docstring)."""
    missing = [
        f"{name} {param.opts[0]}" if isinstance(param, click.Option) else name
        for name, command in _commands(main)
        for param in [*command.params, command]
        if (isinstance(param, click.Option) and not param.help)
        or (param is command and not command.help)
    ]
    assert missing == []


def _hostile_mapping(tmp_path: Path, pattern: str) -> Path:
    """aihub's example mapping with one more rule last (``AIHUB_RULES``): ``pattern``
    grants admin."""
    text = (EXAMPLES / "aihub" / "mapping.yaml").read_text()
    rule = f"  - match: '{pattern}'\n    org_role: admin\npolicy:\n"
    path = tmp_path / "mapping.yaml"
    path.write_text(text.replace("policy:\n", rule, 1))
    return path


AIHUB_RULES = len(load_mapping(EXAMPLES / "aihub" / "mapping.yaml").rules)


def test_a_backtracking_pattern_previews_at_once_on_the_command_line(tmp_path: Path) -> None:
    """``^(((.+)+)+)+!$`` runs on RE2 in ``mapping validate`` and ``preview``: the command
    answers, the pattern matches nothing, and the plan is the example's own."""
    from tests.e2e.admin.test_api_hostile_mapping import HANG_GUARD, hang_guard

    path = _hostile_mapping(tmp_path, "^(((.+)+)+)+!$")
    base = EXAMPLES / "aihub"
    with hang_guard(HANG_GUARD):
        checked = CliRunner().invoke(main, ["mapping", "validate", str(path)])
        hostile = CliRunner().invoke(main, [
            "preview", "--mapping", str(path), "--directory", str(base / "directory.json"),
            "--state", str(base / "state.json"), "--now", "2026-11-27T12:00:00Z",
            "--format", "json",
        ])  # fmt: skip
    assert checked.exit_code == 0, checked.output
    assert hostile.exit_code == 0, hostile.output
    plain = _preview("aihub", "--format", "json")
    assert json.loads(hostile.output)["operations"] == json.loads(plain.output)["operations"]


@pytest.mark.parametrize(
    ("pattern", "words"),
    [
        ("^(?=proj)(?P<w>.+)$", "lookahead (?=...) is not supported"),
        ("^(?P<w>[a-z]+)-\\1$", "backreferences (\\1 ... \\9) are not supported"),
        ("^(a{100}){100}$", "a repetition count (or nested counts multiplied) is above 1000"),
    ],
)
def test_a_pattern_re2_refuses_is_one_line_naming_the_rule(
    tmp_path: Path, pattern: str, words: str
) -> None:
    """``mapping validate`` names the file, line and rule of a refused pattern, exit 1."""
    result = CliRunner().invoke(
        main, ["mapping", "validate", str(_hostile_mapping(tmp_path, pattern))]
    )
    assert result.exit_code == 1
    assert result.output.startswith(f"error: {tmp_path / 'mapping.yaml'}:")
    assert f"rules[{AIHUB_RULES}].match: bad regular expression: {words}" in result.output
