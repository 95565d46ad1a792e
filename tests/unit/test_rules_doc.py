"""docs/rules.md names a test for every rule: each named test exists, and every rule test
of the live paths is named there."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "docs" / "rules.md"
NAMED = re.compile(r"`(tests/[\w/]+\.py)::(test_\w+)`")
MANUAL = "tests/e2e/admin/test_rules_manual.py"


def _tests_in(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
    }


def _named() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path, name in NAMED.findall(RULES.read_text(encoding="utf-8")):
        found.setdefault(path, set()).add(name)
    return found


def test_every_test_docs_rules_names_exists() -> None:
    """A row's test is a test function of the file it names."""
    named = _named()
    assert "tests/e2e/test_rules_idp.py" in named
    missing = []
    for path, names in sorted(named.items()):
        file = ROOT / path
        assert file.exists(), f"docs/rules.md names {path}, which does not exist"
        missing.extend(f"{path}::{n}" for n in sorted(names - _tests_in(file)))
    assert missing == []


def test_every_rule_test_is_in_docs_rules() -> None:
    """Each ``test_rule_`` test of the live paths has its row."""
    named = _named()
    unlisted = []
    for path in ("tests/e2e/test_rules_idp.py", MANUAL):
        file = ROOT / path
        rules = {n for n in _tests_in(file) if n.startswith("test_rule_")}
        unlisted.extend(f"{path}::{n}" for n in sorted(rules - named.get(path, set())))
    assert unlisted == []
