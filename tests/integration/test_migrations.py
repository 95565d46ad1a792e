"""The migrations build the schema the models describe, and un-migrated databases are refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect

from sync.db import (
    FOREIGN_TABLES,
    SchemaError,
    alembic_config,
    check_schema,
    make_engine,
    upgrade,
)
from sync.models import Base


def _include_name(name: str | None, kind: str, _parent: object) -> bool:
    return not (kind == "table" and name in FOREIGN_TABLES)


def test_the_migrated_schema_matches_the_models(engine: Engine) -> None:
    """Autogenerate finds nothing to change after the migrations ran (like `alembic check`)."""
    with engine.connect() as conn:
        opts = {"compare_type": True, "include_name": _include_name}
        diff = compare_metadata(MigrationContext.configure(conn, opts=opts), Base.metadata)
    assert diff == []


def test_the_migrations_ship_inside_the_package() -> None:
    """The script location is a package resource, so an installed wheel can upgrade."""
    assert alembic_config().get_main_option("script_location") == "sync:migrations"
    scripts = ScriptDirectory.from_config(alembic_config())
    assert [r.revision for r in scripts.walk_revisions()][-1] == "0001"


def test_a_migrated_database_passes_the_schema_check(engine: Engine) -> None:
    """The test databases were migrated to the newest revision, so the check is silent."""
    check_schema(engine)


def test_migrations_run_from_an_empty_sqlite_file(tmp_path: Path) -> None:
    """A brand-new file gets every table, and the check then passes."""
    fresh = make_engine(f"sqlite:///{tmp_path / 'new.sqlite3'}")
    try:
        upgrade(fresh)
        assert set(Base.metadata.tables) <= set(inspect(fresh).get_table_names())
        check_schema(fresh)
        upgrade(fresh)  # a second upgrade is a no-op
    finally:
        fresh.dispose()


def test_an_unmigrated_database_is_refused_with_the_command_to_run(tmp_path: Path) -> None:
    """A database with no schema says to run `rolebridge db upgrade`."""
    fresh = make_engine(f"sqlite:///{tmp_path / 'empty.sqlite3'}")
    try:
        with pytest.raises(SchemaError, match="rolebridge db upgrade"):
            check_schema(fresh)
    finally:
        fresh.dispose()


def test_an_out_of_date_database_is_refused(tmp_path: Path) -> None:
    """A database stamped with an unknown revision is called out and not used."""
    fresh = make_engine(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    try:
        upgrade(fresh)
        with fresh.begin() as conn:
            conn.exec_driver_sql("UPDATE alembic_version SET version_num = 'old'")
        with pytest.raises(SchemaError, match="rolebridge db upgrade"):
            check_schema(fresh)
    finally:
        fresh.dispose()


def test_the_web_app_refuses_an_unmigrated_database(tmp_path: Path) -> None:
    """create_app stops at once, saying to run `rolebridge db upgrade`."""
    from scim_server.app import create_app
    from sync.settings import Settings

    url = f"sqlite:///{tmp_path / 'empty.sqlite3'}"
    with pytest.raises(SchemaError, match="rolebridge db upgrade"):
        create_app(Settings(database_url=url, instance_path=tmp_path, secret_key="x"))
