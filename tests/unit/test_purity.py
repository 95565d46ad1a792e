"""The core stays pure: ``mappings`` imports only the standard library, with one exception.

The exception: ``mappings/regex.py`` imports ``re2`` (google-re2). Rule patterns are
tenant input, and the standard library's ``re`` backtracks, so one pattern could hold a
worker for minutes; RE2 matches in linear time. Only that module may import it, so the
rest of the core cannot grow a second regex engine for mapping rules.
"""

from __future__ import annotations

import ast
import pathlib
import sys

CORE = pathlib.Path(__file__).resolve().parents[2] / "mappings"
ALLOWED_ELSEWHERE = {"regex.py": {"re2"}}  # module -> third-party roots it may import


def _imported_roots(path: pathlib.Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_mappings_imports_only_the_standard_library_and_itself() -> None:
    """Every import in mappings/ is stdlib, __future__ or mappings itself (re2 in regex.py)."""
    allowed = set(sys.stdlib_module_names) | {"mappings", "__future__"}
    files = sorted(CORE.rglob("*.py"))
    assert files, "mappings/ has no modules"
    offenders = {
        f"{p.relative_to(CORE.parent)}: {name}"
        for p in files
        for name in _imported_roots(p)
        if name not in allowed | ALLOWED_ELSEWHERE.get(p.relative_to(CORE).as_posix(), set())
    }
    assert offenders == set()


def test_only_the_regex_module_imports_re2() -> None:
    """The re2 allowance is one module's: any other core module importing it is flagged."""
    users = {
        p.relative_to(CORE).as_posix() for p in CORE.rglob("*.py") if "re2" in _imported_roots(p)
    }
    assert users == {"regex.py"}


def test_the_purity_check_catches_a_third_party_import(tmp_path: pathlib.Path) -> None:
    """The checker itself flags a non-stdlib import (so the test above can fail)."""
    bad = tmp_path / "bad.py"
    bad.write_text("import yaml\nfrom sqlalchemy import select\nimport json\n")
    assert _imported_roots(bad) - set(sys.stdlib_module_names) == {"yaml", "sqlalchemy"}
