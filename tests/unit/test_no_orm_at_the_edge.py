"""No view, page or command touches the ORM: the admin API (``scim_server/api``), the
admin pages (``scim_server/admin``) and the commands (``rolebridge/cli``) read through
``sync`` functions returning plain values and change things through the services
(docs/architecture.md sections 2 and 2.3). The SCIM storage (``scim_server/scim/storage.py``)
is the mirror's protocol translation and is not scanned.

Every import is read with ``ast``, those inside functions included."""

from __future__ import annotations

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCANNED = ("scim_server/api", "scim_server/admin", "rolebridge/cli")
FORBIDDEN = ("sqlalchemy", "sync.models")


def orm_imports(source: str) -> set[str]:
    """The modules of ``FORBIDDEN`` (or below them) that ``source`` imports."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        found.update(n for n in names if any(n == f or n.startswith(f + ".") for f in FORBIDDEN))
    return found


@pytest.mark.parametrize(
    ("source", "caught"),
    [
        ("from sync.models import Organisation", True),
        ("import sqlalchemy.orm", True),
        ("from sqlalchemy import select", True),
        ("def f():\n    from sync import models\n", True),
        ("from sync.store.plans import list_plans", False),
        ("from sync.modelsx import y", False),
    ],
)
def test_the_scan_sees_an_orm_import(source: str, caught: bool) -> None:
    """The scan catches each form of import, lazy ones included, and nothing else."""
    assert bool(orm_imports(source)) is caught


def test_views_pages_and_commands_import_no_orm() -> None:
    """No module of the admin API, the admin pages or the CLI imports sqlalchemy or
    sync.models."""
    offenders = {}
    for folder in SCANNED:
        files = sorted((ROOT / folder).rglob("*.py"))
        assert files, f"{folder}/ has no modules"
        for path in files:
            found = orm_imports(path.read_text(encoding="utf-8"))
            if found:
                offenders[str(path.relative_to(ROOT))] = sorted(found)
    assert offenders == {}
