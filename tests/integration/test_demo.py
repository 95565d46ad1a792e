"""``rolebridge demo``: the README's first command prints a plan, applies it, then an increment."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from rolebridge.cli import main
from sync.samples import SAMPLES


def test_demo_prints_a_plan_applies_it_and_prints_the_incremental_plan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The demo builds an org per preset on SQLite, applies the first plan and shows a change."""
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["demo"])
    assert result.exit_code == 0, result.output
    assert "== shareofmodel-demo (role model shareofmodel): first plan" in result.output
    assert "+ invite person0@example.com as owner" in result.output
    assert "-> applied" in result.output
    assert "~ set_org_role person11@example.com guest -> owner" in result.output
    for preset in SAMPLES:
        assert f"== {preset}-demo (role model {preset}): first plan" in result.output
    assert (tmp_path / "instance" / "demo.sqlite3").exists()
