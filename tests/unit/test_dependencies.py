"""Every third-party module the packages import is a declared runtime dependency.

A module that arrives only as another package's dependency works until that package
drops it; so each top-level module imported by ``mappings``, ``sync`` or ``scim_server``
must belong to a distribution listed in ``pyproject.toml``'s ``[project] dependencies``
(the ``dev`` extra does not count: production installs go without it).
"""

from __future__ import annotations

import ast
import importlib.metadata
import pathlib
import re
import sys
import tomllib

ROOT = pathlib.Path(__file__).resolve().parents[2]
PACKAGES = ("mappings", "sync", "scim_server", "rolebridge")
OWN = {*PACKAGES, "__future__"}


def _normalised(name: str) -> str:
    """A distribution name as PEP 503 compares them (``PyYAML`` == ``pyyaml``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {
        _normalised(re.split(r"[\s\[<>=!~;]", spec, maxsplit=1)[0])
        for spec in project["dependencies"]
    }


def _imported_roots(source: str) -> set[str]:
    """Top-level modules imported anywhere in ``source`` (function-level imports too)."""
    roots: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            roots.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots - OWN - set(sys.stdlib_module_names)


def _undeclared(modules: set[str], declared: set[str]) -> dict[str, list[str]]:
    """Each module whose distribution is not declared, with the distributions it comes from."""
    owners = importlib.metadata.packages_distributions()
    return {
        module: owners.get(module, [])
        for module in sorted(modules)
        if not {_normalised(d) for d in owners.get(module, [])} & declared
    }


def test_every_imported_third_party_module_is_a_declared_dependency() -> None:
    """The imports of mappings/, sync/ and scim_server/ name only declared distributions."""
    files = [p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))]
    imported: dict[str, set[str]] = {}
    for path in files:
        for module in _imported_roots(path.read_text()):
            imported.setdefault(module, set()).add(path.relative_to(ROOT).as_posix())
    missing = _undeclared(set(imported), _declared())
    assert {m: (owners, sorted(imported[m])) for m, owners in missing.items()} == {}


def test_the_check_flags_a_module_only_a_dev_dependency_brings() -> None:
    """hypothesis is installed (dev extra) but not a runtime dependency, so it is flagged."""
    modules = _imported_roots("import hypothesis\nimport yaml\nimport json\nfrom sync import db\n")
    assert modules == {"hypothesis", "yaml"}
    assert set(_undeclared(modules, _declared())) == {"hypothesis"}


def test_the_check_flags_a_dependency_that_is_not_declared() -> None:
    """Dropping werkzeug from the declared set makes its import an offender."""
    declared = _declared() - {"werkzeug"}
    assert set(_undeclared({"werkzeug", "flask"}, declared)) == {"werkzeug"}
