"""What every command shares: one way to open the database, ``--org`` by name or id, one
line per error with exit status 1, and ``--format text|json`` for listings."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from mappings.authority import Caller
from mappings.errors import RolebridgeError
from sync.db import SessionFactory, check_ready, make_engine_for, make_session_factory
from sync.errors import NotFound
from sync.settings import Settings
from sync.store.orgs import OrgView, find_org

__all__ = [
    "FILE",
    "OPERATOR",
    "CommandError",
    "database",
    "echo_json_lines",
    "fail",
    "format_option",
    "one_line_errors",
    "org_id",
    "org_record",
    "org_option",
    "settings",
]

FILE = click.Path(path_type=Path, dir_okay=False)
OPERATOR = Caller(actor="cli", role=None)
"""Who every command acts as: the host's operator, beyond the role model's ``manages``
(docs/architecture.md section 2.3), named ``cli`` in the audit log."""
F = TypeVar("F", bound=Callable[..., Any])


class CommandError(click.ClickException):
    """An error of a command: one line on stderr, exit status 1."""

    exit_code = 1

    def show(self, file: Any = None) -> None:
        """Print ``error: <message>`` on stderr."""
        click.echo(f"error: {self.format_message()}", err=True)


def fail(message: object) -> NoReturn:
    """Stop the command with one line on stderr and exit status 1."""
    raise CommandError(str(message))


@contextmanager
def one_line_errors(*kinds: type[Exception]) -> Iterator[None]:
    """Turn rolebridge's own errors (and ``kinds``) into one line and exit status 1."""
    caught: tuple[type[Exception], ...] = (RolebridgeError, *kinds)
    try:
        yield
    except caught as exc:
        fail(exc)


def settings() -> Settings:
    """The settings from the environment; a SQLite database's folder is created."""
    found = Settings.from_env()
    if found.database_url.startswith("sqlite:///"):
        Path(found.database_url.removeprefix("sqlite:///")).parent.mkdir(
            parents=True, exist_ok=True
        )
    return found


@contextmanager
def database(configured: Settings | None = None) -> Iterator[SessionFactory]:
    """The session factory of the configured database, refused unless fully migrated;
    its engine is disposed when the command ends."""
    engine = make_engine_for(configured or settings())
    try:
        with one_line_errors():
            check_ready(engine)
        yield make_session_factory(engine)
    finally:
        engine.dispose()


def org_id(factory: SessionFactory, ref: str) -> int:
    """The id of the org named ``ref`` (or whose id it is); unknown is one line, exit 1."""
    return org_record(factory, ref).id


def org_record(factory: SessionFactory, ref: str, unknown: str = "--org: {}") -> OrgView:
    """The org named ``ref`` (or whose id it is); unknown is one line (``unknown`` with
    the reason), exit 1."""
    with factory() as session:
        try:
            return find_org(session, ref)
        except NotFound as exc:
            fail(unknown.format(exc))


def org_option(required: bool = True, help: str = "Organisation name or id.") -> Callable[[F], F]:
    """The ``--org`` option: an organisation's name or its id."""
    return click.option("--org", required=required, default=None, help=help)


def format_option(fn: F) -> F:
    """The ``--format text|json`` option of a listing (json: one object per line)."""
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(["text", "json"]),
        default="text",
        show_default=True,
        help="Output format; json prints one object per line.",
    )(fn)


def echo_json_lines(objects: Iterable[dict[str, Any]]) -> None:
    """Print each object as one JSON line, keys sorted."""
    for obj in objects:
        click.echo(json.dumps(obj, sort_keys=True, default=str))
