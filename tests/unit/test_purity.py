"""The core stays pure: ``mappings`` imports only the standard library and itself.

Rule patterns are tenant input and must match in linear time; the core takes the regex
engine as a parameter (``mappings.regex.RegexEngine``) and the shell injects RE2
(``sync.regex_engine``), so no core module needs a third-party package, ``re2`` included.
"""

from __future__ import annotations

import ast
import pathlib
import sys

CORE = pathlib.Path(__file__).resolve().parents[2] / "mappings"


def _imported_roots(path: pathlib.Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
        elif (  # importlib.import_module("x") names a module too
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            roots.add(node.args[0].value.split(".")[0])
    return roots


def test_mappings_imports_only_the_standard_library_and_itself() -> None:
    """Every import in mappings/ is stdlib, __future__ or mappings itself: no exception."""
    allowed = set(sys.stdlib_module_names) | {"mappings", "__future__"}
    files = sorted(CORE.rglob("*.py"))
    assert files, "mappings/ has no modules"
    offenders = {
        f"{p.relative_to(CORE.parent)}: {name}"
        for p in files
        for name in _imported_roots(p)
        if name not in allowed
    }
    assert offenders == set()


def test_the_purity_check_catches_a_third_party_import(tmp_path: pathlib.Path) -> None:
    """The checker itself flags a non-stdlib import (so the test above can fail)."""
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import re2\nimport yaml\nfrom sqlalchemy import select\nimport json\n"
        "import importlib\nimportlib.import_module('authlib.jose')\n"
    )
    third_party = _imported_roots(bad) - set(sys.stdlib_module_names)
    assert third_party == {"re2", "yaml", "sqlalchemy", "authlib"}
