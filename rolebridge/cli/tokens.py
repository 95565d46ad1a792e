"""``rolebridge token create|list|revoke``: SCIM bearer tokens, one org each."""

from __future__ import annotations

import click

from rolebridge.cli.common import (
    database,
    echo_json_lines,
    format_option,
    one_line_errors,
    org_option,
)
from sync.credentials.tokens import TokenError, TokenInfo, create_token, list_tokens, revoke_token

__all__ = ["token_group"]


@click.group("token")
def token_group() -> None:
    """SCIM bearer tokens: each one lets an IdP provision one organisation."""


@token_group.command("create")
@org_option()
@click.option("--name", default="", help="A label, e.g. 'Okta production'.")
def token_create(org: str, name: str) -> None:
    """Create a token and print it once; only its hash is stored."""
    with database() as factory, one_line_errors(TokenError), factory.begin() as session:
        info, token = create_token(session, org, name)
    click.echo(f"token {info.id} for {info.org} (shown once, store it now):", err=True)
    click.echo(token)


@token_group.command("list")
@org_option()
@format_option
def token_list(org: str, fmt: str) -> None:
    """List the org's tokens by id and creation date (never the tokens themselves)."""
    with database() as factory, one_line_errors(TokenError), factory.begin() as session:
        infos = list_tokens(session, org)
    if fmt == "json":
        echo_json_lines(_json(info) for info in infos)
        return
    for info in infos:
        click.echo(_line(info))


@token_group.command("revoke")
@org_option()
@click.argument("token_id", type=int)
def token_revoke(org: str, token_id: int) -> None:
    """Revoke a token: requests with it are refused from now on."""
    with database() as factory, one_line_errors(TokenError), factory.begin() as session:
        info = revoke_token(session, org, token_id)
    click.echo(_line(info))


def _line(info: TokenInfo) -> str:
    state = f"revoked {info.revoked_at:%Y-%m-%d %H:%M}" if info.revoked_at else "active"
    return f"{info.id}\t{info.created_at:%Y-%m-%d %H:%M}\t{state}\t{info.name}"


def _json(info: TokenInfo) -> dict[str, object]:
    revoked = info.revoked_at.isoformat() if info.revoked_at else None
    return {
        "id": info.id,
        "org": info.org,
        "name": info.name,
        "created_at": info.created_at.isoformat(),
        "revoked_at": revoked,
    }
