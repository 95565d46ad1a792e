"""The layers import one way: mappings <- sync <- scim_server <- rolebridge (the command).

Every module's imports are read with ``ast``, those inside functions included, so a lazy
import cannot hide an arrow pointing up.
"""

from __future__ import annotations

import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[2]
LAYERS = ("mappings", "sync", "scim_server", "rolebridge")  # lowest first


def _imported_packages(source: str, package: str) -> set[str]:
    """The top-level packages a module imports, relative imports resolved to ``package``."""
    roots: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            roots.add(package if node.level else (node.module or "").split(".")[0])
    return roots


def _upward_arrows(source: str, package: str) -> set[str]:
    """The packages above ``package`` in the layer order that the source imports."""
    above = set(LAYERS[LAYERS.index(package) + 1 :])
    return _imported_packages(source, package) & above


def test_every_module_imports_only_its_own_layer_and_those_below() -> None:
    """No module of mappings, sync, scim_server or rolebridge imports a layer above its own."""
    offenders = set()
    for package in LAYERS:
        files = sorted((ROOT / package).rglob("*.py"))
        assert files, f"{package}/ has no modules"
        for path in files:
            for name in _upward_arrows(path.read_text(encoding="utf-8"), package):
                offenders.add(f"{path.relative_to(ROOT)} imports {name}")
    assert offenders == set()


def test_the_layer_check_catches_an_import_inside_a_function() -> None:
    """A lazy import of the edge from the shell is an arrow against the order."""
    lazy = "def serve():\n    from scim_server.wsgi import serve\n    import rolebridge.cli\n"
    assert _upward_arrows(lazy, "sync") == {"scim_server", "rolebridge"}
    assert _upward_arrows("import sync.db\nfrom mappings import plan\n", "scim_server") == set()
    assert _upward_arrows("from sync import db\n", "mappings") == {"sync"}
