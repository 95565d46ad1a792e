"""Engine and session factory. ``with session_factory.begin() as s:`` is the unit of work."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from sync.models import Base

__all__ = ["create_schema_for_tests", "make_engine", "make_session_factory"]


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url``; SQLite gets foreign keys, WAL and a busy timeout."""
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {"timeout": 30, "check_same_thread": False})
    engine = create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """The session factory; objects stay readable after commit."""
    return sessionmaker(engine, expire_on_commit=False)


def create_schema_for_tests(engine: Engine) -> None:
    """Create every table directly (until migrations exist; then tests migrate instead)."""
    Base.metadata.create_all(engine)
