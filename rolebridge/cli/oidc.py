"""``rolebridge oidc set|show|clear``: an org's sign-in to the admin pages through its own
OpenID Connect provider (docs/architecture.md section 3.5), as the host's operator.

The client secret is read from an environment variable or a file, never from the command
line, stored sealed (``ROLEBRIDGE_SECRET_KEY``) and never printed: ``show`` says only
whether it is set.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from mappings.authority import Caller
from mappings.state import format_time
from rolebridge.cli.common import (
    database,
    echo_json_lines,
    fail,
    format_option,
    one_line_errors,
    org_id,
    org_option,
    settings,
)
from sync.credentials.oidc import CALLBACK_PATH
from sync.services import oidc as service

__all__ = ["oidc_group"]

OPERATOR = Caller(actor="cli", role=None)


def _secret(env: str | None, file: str | None) -> str | None:
    """The client secret given as --secret-env or --secret-file; None keeps the stored one."""
    if env and file:
        fail("give the client secret as one of --secret-env NAME or --secret-file PATH")
    if env:
        value = os.environ.get(env, "")
        if not value:
            fail(f"--secret-env: environment variable {env} is empty or not set")
        return value
    if file:
        try:
            value = Path(file).read_text().strip()
        except OSError as exc:
            fail(f"--secret-file: {file}: {exc.strerror}")
        if not value:
            fail(f"--secret-file: {file} is empty")
        return value
    return None


@click.group("oidc")
def oidc_group() -> None:
    """Sign-in to the admin pages through an org's own OpenID Connect provider."""


@oidc_group.command("set")
@org_option()
@click.option("--issuer", required=True, help="The provider's issuer URL (https).")
@click.option("--client-id", required=True, help="The client (application) id at the provider.")
@click.option("--secret-env", default=None, help="Read the client secret from this variable.")
@click.option("--secret-file", default=None, help="Read the client secret from this file.")
@click.option(
    "--enabled/--disabled",
    default=True,
    show_default=True,
    help="Whether members may sign in through the provider now.",
)
def set_command(
    org: str,
    issuer: str,
    client_id: str,
    secret_env: str | None,
    secret_file: str | None,
    enabled: bool,
) -> None:
    """Set the org's provider (the secret is needed the first time, kept after)."""
    configured = settings()
    secret = _secret(secret_env, secret_file)
    with database(configured) as factory:
        found = org_id(factory, org)
        with one_line_errors():
            facts = service.set_oidc(
                factory,
                found,
                OPERATOR,
                issuer=issuer,
                client_id=client_id,
                client_secret=secret,
                enabled=enabled,
                secret_key=configured.secret_key,
            )
    state = "enabled" if facts.enabled else "disabled"
    click.echo(f"identity provider sign-in for {org!r} set ({state}): {facts.issuer}")
    click.echo(f"redirect URI to register: {configured.base_url.rstrip('/')}{CALLBACK_PATH}")


@oidc_group.command("show")
@org_option()
@format_option
def show_command(org: str, fmt: str) -> None:
    """Show the org's provider (the client secret only as "set")."""
    configured = settings()
    with database(configured) as factory:
        found = org_id(factory, org)
        with one_line_errors():
            facts = service.show_oidc(factory, found, OPERATOR)
    redirect_uri = configured.base_url.rstrip("/") + CALLBACK_PATH
    if fmt == "json":
        echo_json_lines(
            [
                {
                    "configured": facts is not None,
                    "issuer": facts.issuer if facts else None,
                    "client_id": facts.client_id if facts else None,
                    "client_secret": "set" if facts and facts.secret_set else None,
                    "enabled": bool(facts and facts.enabled),
                    "updated_at": format_time(facts.updated_at) if facts else None,
                    "updated_by": facts.updated_by if facts else None,
                    "redirect_uri": redirect_uri,
                }
            ]
        )
        return
    if facts is None:
        click.echo(f"{org!r} has no identity provider sign-in (API keys only)")
        return
    click.echo(f"issuer:        {facts.issuer}")
    click.echo(f"client id:     {facts.client_id}")
    click.echo(f"client secret: {'set' if facts.secret_set else 'not set'}")
    click.echo(f"state:         {'enabled' if facts.enabled else 'disabled'}")
    click.echo(f"changed:       {format_time(facts.updated_at)} by {facts.updated_by}")
    click.echo(f"redirect URI:  {redirect_uri}")


@oidc_group.command("clear")
@org_option()
def clear_command(org: str) -> None:
    """Remove the org's provider; its members' provider sessions end."""
    with database() as factory:
        found = org_id(factory, org)
        with one_line_errors():
            gone = service.clear_oidc(factory, found, OPERATOR)
    if not gone:
        fail(f"--org: {org!r} has no identity provider sign-in")
    click.echo(f"identity provider sign-in for {org!r} removed")
