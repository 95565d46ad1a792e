"""Shared fixtures: a clean environment, and real databases (SQLite always, PostgreSQL
when ``TEST_DATABASE_URL`` names one)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, delete, text
from sqlalchemy.orm import Session, sessionmaker

from sync.db import create_schema_for_tests, make_engine, make_session_factory
from sync.models import Base

DATABASES = ["sqlite", "postgresql"]

# Under pytest-xdist (`make test` when CI gives a second database), worker gwN with N > 0
# uses TEST_DATABASE_URL_{N+1}: each worker empties and fills its own PostgreSQL database.
_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
if _WORKER.startswith("gw") and _WORKER[2:].isdigit() and int(_WORKER[2:]) > 0:
    _OWN = os.environ.get(f"TEST_DATABASE_URL_{int(_WORKER[2:]) + 1}")
    if _OWN:
        os.environ["TEST_DATABASE_URL"] = _OWN


@pytest.fixture(scope="session", autouse=True)
def _no_secret_in_any_log() -> Iterator[None]:
    """Fail the run if a token minted during it shows up in any log record (tests/secretscan)."""
    from tests.secretscan import SCAN, where

    SCAN.start()
    yield
    leaks = SCAN.stop()
    if leaks:
        pytest.fail(f"{len(leaks)} secret(s) reached the logs, e.g.: {where(SCAN.texts, leaks[0])}")


@pytest.fixture(autouse=True)
def _clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's ROLEBRIDGE_* or DATABASE_URL settings."""
    for name in list(os.environ):
        if name.startswith("ROLEBRIDGE_") or name == "DATABASE_URL":
            monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def _engines(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Engine]]:
    engines: dict[str, Engine] = {}
    path: Path = tmp_path_factory.mktemp("db") / "test.sqlite3"
    engines["sqlite"] = make_engine(f"sqlite:///{path}")
    pg_url = os.environ.get("TEST_DATABASE_URL")
    if pg_url:
        engines["postgresql"] = make_engine(pg_url)
        Base.metadata.drop_all(engines["postgresql"])
        with engines["postgresql"].begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    for engine in engines.values():
        create_schema_for_tests(engine)
    yield engines
    for engine in engines.values():
        engine.dispose()


@pytest.fixture(params=DATABASES)
def engine(request: pytest.FixtureRequest, _engines: dict[str, Engine]) -> Iterator[Engine]:
    """A migrated database, empty at the start of each test (SQLite, then PostgreSQL)."""
    name = request.param
    if name not in _engines:
        pytest.skip("TEST_DATABASE_URL is not set")
    engine = _engines[name]
    _truncate(engine)
    yield engine
    _truncate(engine)


@pytest.fixture
def session_factory(engine: Engine) -> sessionmaker[Session]:
    """The unit-of-work factory on the test database."""
    return make_session_factory(engine)


def _truncate(engine: Engine) -> None:
    with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(delete(table))
