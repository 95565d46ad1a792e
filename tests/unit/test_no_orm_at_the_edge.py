"""No view, page or command touches the ORM: every module of ``scim_server`` and
``rolebridge`` reads through ``sync`` functions returning plain values and changes things
through the services (docs/architecture.md sections 2 and 2.3).

Three checks, every module parsed with ``ast`` (imports inside functions included):

- no import of ``sqlalchemy``, the ORM models (``sync.models``) or the database module
  (``sync.db``), except the names that only wire a process to its database
  (``PLUMBING``: making the engine and the session factory, the schema check, the
  migrations, the factory's type);
- no query of its own: no ``select(...)`` and no ``execute``/``scalar``/``add``... on a
  session;
- no ``sync`` function it imports hands it an ORM row (its return annotation names no
  class of ``sync.models``).

``ALLOWED`` names the modules that are protocol plumbing, each with the reason.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pathlib
import typing

import pytest

import sync.models

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCANNED = ("scim_server", "rolebridge")
FORBIDDEN = ("sqlalchemy", "sync.models", "sync.db")
PLUMBING = frozenset(
    {
        "sync.db.SessionFactory",  # the handle a view or command passes to a service
        "sync.db.make_engine",
        "sync.db.make_engine_for",
        "sync.db.make_session_factory",
        "sync.db.check_ready",
        "sync.db.check_schema",
        "sync.db.SchemaError",
        "sync.db.database_unavailable",
        "sync.db.upgrade",
    }
)
QUERIES = frozenset(
    {"execute", "scalar", "scalars", "add", "add_all", "delete", "flush", "merge", "query"}
)
SESSIONS = frozenset({"session", "s", "sess", "own", "conn", "connection", "db"})

ALLOWED: dict[str, str] = {
    # the SCIM endpoint is the mirror's protocol translation: a SCIM filter becomes a
    # query on the directory tables, a SCIM write one row of them (section 3.1)
    "scim_server/scim/": "the SCIM endpoint's storage, filters and records",
    # the application factory makes the engine and the session factory it hands on
    "scim_server/app.py": "the composition of the web process",
    # the readiness probe asks the database for SELECT 1, whatever the schema
    "scim_server/ops/health.py": "the readiness probe",
    # SCIM and API input bounds are the schema's column sizes; it runs no query
    "scim_server/ops/limits.py": "input bounds read from the column sizes",
    # the request's read-only session that views hand to sync's reads, typed
    "scim_server/api/context.py": "the request's read session",
}


def _allowed(relative: str) -> bool:
    return any(relative == a or (a.endswith("/") and relative.startswith(a)) for a in ALLOWED)


def _imported(tree: ast.AST) -> set[str]:
    """Every module or ``module.name`` an absolute import brings in."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def orm_imports(source: str) -> set[str]:
    """The names under ``FORBIDDEN`` that ``source`` imports, plumbing aside."""
    return {
        n
        for n in _imported(ast.parse(source))
        if any(n == f or n.startswith(f + ".") for f in FORBIDDEN) and n not in PLUMBING
    }


def own_queries(source: str) -> set[str]:
    """The queries ``source`` runs itself: ``select(...)``, ``session.execute(...)``..."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        f = node.func
        if isinstance(f, ast.Name) and f.id == "select":
            found.add("select()")
        elif (
            isinstance(f, ast.Attribute)
            and f.attr in QUERIES
            and isinstance(f.value, ast.Name)
            and f.value.id in SESSIONS
        ):
            found.add(f"{f.value.id}.{f.attr}()")
    return found


@pytest.mark.parametrize(
    ("source", "caught"),
    [
        ("from sync.models import Organisation", True),
        ("import sqlalchemy.orm", True),
        ("from sqlalchemy import select", True),
        ("def f():\n    from sync import models\n", True),
        ("from sync.db import write_session", True),
        ("from sync.db import SessionFactory", False),
        ("from sync.store.plans import list_plans", False),
        ("from sync.modelsx import y", False),
    ],
)
def test_the_scan_sees_an_orm_import(source: str, caught: bool) -> None:
    """The scan catches each form of import, lazy ones included, and nothing else."""
    assert bool(orm_imports(source)) is caught


@pytest.mark.parametrize(
    ("source", "caught"),
    [
        ("rows = session.scalars(q)", True),
        ("def f(s):\n    s.add(row)\n", True),
        ("q = select(Member)", True),
        ("seen.add(x)", False),
        ("rows = list_plans(session, 1)", False),
    ],
)
def test_the_scan_sees_a_query(source: str, caught: bool) -> None:
    """A query on a session or a select is caught; a set's add is not."""
    assert bool(own_queries(source)) is caught


def _modules() -> list[tuple[str, str]]:
    found = []
    for folder in SCANNED:
        files = sorted((ROOT / folder).rglob("*.py"))
        assert files, f"{folder}/ has no modules"
        found += [(str(p.relative_to(ROOT)), p.read_text(encoding="utf-8")) for p in files]
    return found


def test_the_edge_imports_no_orm_and_runs_no_query() -> None:
    """No module of scim_server or rolebridge imports sqlalchemy, sync.models or sync.db
    (plumbing aside) or queries a session, but those ALLOWED."""
    offenders = {}
    for relative, source in _modules():
        if _allowed(relative):
            continue
        found = orm_imports(source) | own_queries(source)
        if found:
            offenders[relative] = sorted(found)
    assert offenders == {}


def test_every_allowed_module_exists() -> None:
    """An allowance names a module that is there (a stale one would hide nothing)."""
    for allowed in ALLOWED:
        assert (ROOT / allowed).exists(), allowed


ORM_CLASSES = frozenset(
    name
    for name, value in vars(sync.models).items()
    if inspect.isclass(value)
    and issubclass(value, sync.models.Base)
    and value is not sync.models.Base
)


def _returns_orm(fn: object) -> str | None:
    """The ORM class ``fn``'s return annotation names, if any."""
    try:
        hint = inspect.signature(fn).return_annotation  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    if hint is inspect.Signature.empty:
        return None
    text = hint if isinstance(hint, str) else typing.get_type_hints(fn).get("return", "")
    words = set(str(text).replace("[", " ").replace("]", " ").replace("|", " ").split())
    words |= {w.rsplit(".", 1)[-1] for w in words}
    hits = sorted(words & ORM_CLASSES)
    return hits[0] if hits else None


def _called_from_sync(source: str) -> set[str]:
    """The ``sync`` functions a module imports by name, or calls as ``module.function``
    on a ``sync`` module it imports."""
    tree = ast.parse(source)
    names: set[str] = set()
    modules: dict[str, str] = {}  # local name -> module
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and not node.level and node.module:
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                if not full.startswith("sync."):
                    continue
                try:
                    importlib.import_module(full)
                except ImportError:
                    names.add(full)
                else:
                    modules[alias.asname or alias.name] = full
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in modules
        ):
            names.add(f"{modules[node.value.id]}.{node.attr}")
    return names


def test_no_sync_function_the_edge_calls_returns_an_orm_row() -> None:
    """Each function a view, page or command calls from sync returns values (frozen
    dataclasses, typed values), never a row of sync.models."""
    offenders = set()
    for relative, source in _modules():
        if _allowed(relative):
            continue
        for name in _called_from_sync(source):
            module, _, attr = name.rpartition(".")
            fn = getattr(importlib.import_module(module), attr, None)
            if not callable(fn) or inspect.isclass(fn):
                continue
            orm = _returns_orm(fn)
            if orm is not None:
                offenders.add(f"{relative}: {name} returns {orm}")
    assert offenders == set()


def test_the_return_check_sees_a_row() -> None:
    """A store function typed to return a row is caught; one returning a value is not."""
    import sync.store.orgs

    assert _returns_orm(sync.store.orgs.org_row) == "Organisation"
    assert _returns_orm(sync.store.orgs.get_org) is None
