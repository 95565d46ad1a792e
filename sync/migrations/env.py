"""Alembic environment: runs on the connection ``sync.db.upgrade`` hands over."""

from __future__ import annotations

from typing import Any, Literal

from alembic import context
from sqlalchemy import Connection

from sync.db import FOREIGN_TABLES, make_engine
from sync.models import Base, UTCDateTime

config = context.config


def _render_item(kind: str, obj: Any, _autogen_context: Any) -> str | Literal[False]:
    # migrations spell the plain column type, so they do not import the models
    if kind == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def include_name(name: str | None, kind: str, _parent: Any) -> bool:
    """Leave tables that other libraries own out of autogenerate."""
    return not (kind == "table" and name in FOREIGN_TABLES)


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters via copy
        compare_type=True,
        render_item=_render_item,
        include_name=include_name,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Use the given connection, else connect to ``sqlalchemy.url``."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


run_migrations_online()
