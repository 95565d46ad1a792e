"""Engine, session factory and migrations. ``with session_factory.begin() as s:`` is the unit
of work; ``upgrade(engine)`` brings a database to the newest schema and ``check_schema``
refuses to run on one that is not there yet."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from mappings.errors import RolebridgeError

__all__ = [
    "FOREIGN_TABLES",
    "SchemaError",
    "alembic_config",
    "check_schema",
    "create_schema_for_tests",
    "make_engine",
    "make_session_factory",
    "upgrade",
    "write_session",
]

UPGRADE_HINT = "run `rolebridge db upgrade`"
FOREIGN_TABLES = ("apscheduler_jobs",)  # APScheduler's job store shares our database


class SchemaError(RolebridgeError):
    """The database is not migrated, or not to the schema this rolebridge expects."""


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url``; SQLite gets foreign keys, WAL and a busy timeout."""
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {"timeout": 30, "check_same_thread": False})
    elif url.startswith("postgresql") and "connect_timeout" not in url:
        # a database that accepts connections but never answers must not hang callers
        kwargs.setdefault("connect_args", {"connect_timeout": 10})
    engine = create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # pysqlite's own BEGIN handling is off so that "begin" below decides (DEFERRED or
    # IMMEDIATE); see SQLAlchemy's "Serializable isolation / Savepoints" for pysqlite.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin(conn: Any) -> None:
    # ``execution_options(sqlite_begin="BEGIN IMMEDIATE")`` takes the write lock up front
    conn.exec_driver_sql(conn.get_execution_options().get("sqlite_begin", "BEGIN"))


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """The session factory; objects stay readable after commit."""
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def write_session(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    """A unit of work that takes SQLite's write lock up front (``BEGIN IMMEDIATE``), so
    that a read-then-write transaction waits for other writers instead of failing."""
    with session_factory() as session, session.begin():
        session.connection(execution_options={"sqlite_begin": "BEGIN IMMEDIATE"})
        yield session


def alembic_config(engine: Engine | None = None) -> Config:
    """Alembic's configuration for the migrations shipped inside this package."""
    cfg = Config()
    cfg.set_main_option("script_location", "sync:migrations")
    if engine is not None:
        cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the database to ``revision`` (the newest by default)."""
    cfg = alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def check_schema(engine: Engine) -> None:
    """Raise ``SchemaError`` unless the database is migrated to the newest revision."""
    heads = set(ScriptDirectory.from_config(alembic_config()).get_heads())
    with engine.connect() as conn:
        current = set(MigrationContext.configure(conn).get_current_heads())
        conn.invalidate()  # closed, not pooled: a check leaves no connection behind
    if not current:
        raise SchemaError(f"the database is not initialised: {UPGRADE_HINT}")
    if current != heads:
        raise SchemaError(
            f"the database schema is at {', '.join(sorted(current))}, this rolebridge needs "
            f"{', '.join(sorted(heads))}: {UPGRADE_HINT}"
        )


def create_schema_for_tests(engine: Engine) -> None:
    """Bring a test database to the newest schema through the migrations."""
    upgrade(engine)
