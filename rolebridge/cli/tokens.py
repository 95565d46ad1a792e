"""``rolebridge token create|list|revoke``: SCIM bearer tokens, one org each, made and
revoked by the operator through the same service as the admin API
(``sync.services.credentials``), each change an audit entry."""

from __future__ import annotations

import click

from rolebridge.cli.common import (
    OPERATOR,
    database,
    echo_json_lines,
    fail,
    format_option,
    one_line_errors,
    org_option,
    org_record,
)
from sync.errors import NotFound
from sync.services import credentials
from sync.services.credentials import Credential

__all__ = ["token_group"]


@click.group("token")
def token_group() -> None:
    """SCIM bearer tokens: each one lets an IdP provision one organisation."""


def _org_named(org: str) -> str:
    return f"no organisation named {org!r}"


@token_group.command("create")
@org_option()
@click.option("--name", default="", help="A label, e.g. 'Okta production'.")
def token_create(org: str, name: str) -> None:
    """Create a token and print it once; only its hash is stored."""
    with database() as factory:
        found = org_record(factory, org, _org_named(org))
        with one_line_errors():
            issued = credentials.create_token(factory, found.id, OPERATOR, name)
    shown = issued.credential
    click.echo(f"token {shown.id} for {found.name} (shown once, store it now):", err=True)
    click.echo(issued.secret)


@token_group.command("list")
@org_option()
@format_option
def token_list(org: str, fmt: str) -> None:
    """List the org's tokens by id and creation date (never the tokens themselves)."""
    with database() as factory:
        found = org_record(factory, org, _org_named(org))
        with one_line_errors():
            infos = credentials.every_token(factory, found.id, OPERATOR)
    if fmt == "json":
        echo_json_lines(_json(info, found.name) for info in infos)
        return
    for info in infos:
        click.echo(_line(info))


@token_group.command("revoke")
@org_option()
@click.argument("token_id", type=int)
def token_revoke(org: str, token_id: int) -> None:
    """Revoke a token: requests with it are refused from now on."""
    with database() as factory:
        found = org_record(factory, org, _org_named(org))
        with one_line_errors():
            try:
                info = credentials.revoke_token(factory, found.id, OPERATOR, token_id)
            except NotFound:
                fail(f"organisation {found.name!r} has no token {token_id}")
    click.echo(_line(info))


def _line(info: Credential) -> str:
    state = f"revoked {info.revoked_at:%Y-%m-%d %H:%M}" if info.revoked_at else "active"
    return f"{info.id}\t{info.created_at:%Y-%m-%d %H:%M}\t{state}\t{info.name}"


def _json(info: Credential, org: str) -> dict[str, object]:
    revoked = info.revoked_at.isoformat() if info.revoked_at else None
    return {
        "id": info.id,
        "org": org,
        "name": info.name,
        "created_at": info.created_at.isoformat(),
        "revoked_at": revoked,
    }
