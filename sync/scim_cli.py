"""CLI for the SCIM endpoint: ``token create|list|revoke`` and ``serve``.

``serve`` imports the web app lazily, inside the command: nothing in ``sync``
imports ``scim_server`` at module level.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click
from sqlalchemy.orm import Session

from sync.db import make_engine_for, make_session_factory
from sync.settings import Settings
from sync.tokens import TokenError, TokenInfo, create_token, list_tokens, revoke_token

__all__ = ["serve_command", "token_group"]


@contextmanager
def _transaction() -> Iterator[Session]:
    """One unit of work on the configured database; the engine is closed afterwards."""
    engine = make_engine_for(Settings.from_env())
    try:
        with make_session_factory(engine).begin() as session:
            yield session
    finally:
        engine.dispose()


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    raise SystemExit(2)


@click.group("token")
def token_group() -> None:
    """SCIM bearer tokens: each one lets an IdP provision one organisation."""


@token_group.command("create")
@click.option("--org", required=True, help="Organisation name (or id).")
@click.option("--name", default="", help="A label, e.g. 'Okta production'.")
def token_create(org: str, name: str) -> None:
    """Create a token and print it once; only its hash is stored."""
    try:
        with _transaction() as session:
            info, token = create_token(session, org, name)
    except TokenError as error:
        _fail(str(error))
    click.echo(f"token {info.id} for {info.org} (shown once, store it now):", err=True)
    click.echo(token)


@token_group.command("list")
@click.option("--org", required=True, help="Organisation name (or id).")
def token_list(org: str) -> None:
    """List the org's tokens by id and creation date (never the tokens themselves)."""
    try:
        with _transaction() as session:
            infos = list_tokens(session, org)
    except TokenError as error:
        _fail(str(error))
    for info in infos:
        click.echo(_line(info))


@token_group.command("revoke")
@click.option("--org", required=True, help="Organisation name (or id).")
@click.argument("token_id", type=int)
def token_revoke(org: str, token_id: int) -> None:
    """Revoke a token: requests with it are refused from now on."""
    try:
        with _transaction() as session:
            info = revoke_token(session, org, token_id)
    except TokenError as error:
        _fail(str(error))
    click.echo(_line(info))


def _line(info: TokenInfo) -> str:
    state = f"revoked {info.revoked_at:%Y-%m-%d %H:%M}" if info.revoked_at else "active"
    return f"{info.id}\t{info.created_at:%Y-%m-%d %H:%M}\t{state}\t{info.name}"


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int, help="gunicorn workers")
@click.option("--threads", default=4, show_default=True, type=int, help="threads per worker")
def serve_command(host: str, port: int, workers: int, threads: int) -> None:
    """Serve rolebridge (SCIM at /scim/v2) with gunicorn."""
    from scim_server.wsgi import serve

    serve(host, port, workers=workers, threads=threads)
