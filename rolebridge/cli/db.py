"""``rolebridge db upgrade|check``: the database schema."""

from __future__ import annotations

import click

from rolebridge.cli.common import database, one_line_errors, settings
from sync.db import check_schema, make_engine_for, upgrade

__all__ = ["db_group"]


@click.group("db")
def db_group() -> None:
    """The database schema."""


@db_group.command("upgrade")
def db_upgrade_command() -> None:
    """Create or migrate the database to the newest schema."""
    engine = make_engine_for(settings())
    try:
        with one_line_errors():
            upgrade(engine)
            check_schema(engine)
        url = engine.url.render_as_string(hide_password=True)
    finally:
        engine.dispose()
    click.echo(f"database {url} is up to date")


@db_group.command("check")
def db_check_command() -> None:
    """Exit 0 when the database is reachable and migrated to this rolebridge's schema."""
    with database():
        pass
    click.echo("database schema is current")
