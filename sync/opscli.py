"""Operator commands: ``rolebridge db check`` (is the schema current?)."""

from __future__ import annotations

import click
from sqlalchemy.exc import SQLAlchemyError

from sync.db import SchemaError, check_schema, make_engine_for
from sync.settings import Settings

__all__ = ["db_check_command"]


@click.command("check")
def db_check_command() -> None:
    """Exit 0 when the database is reachable and migrated to this rolebridge's schema."""
    engine = make_engine_for(Settings.from_env())
    try:
        check_schema(engine)
    except SchemaError as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(1) from None
    except SQLAlchemyError as exc:
        click.echo(f"error: the database is unreachable ({type(exc).__name__})", err=True)
        raise SystemExit(1) from None
    finally:
        engine.dispose()
    click.echo("database schema is current")
