"""``rolebridge apikey``: create, list and revoke an org's admin API keys."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from mappings.authority import key_roles
from mappings.errors import InputError
from sync.apikeys import create_api_key, list_api_keys, revoke_api_key
from sync.db import make_engine_for, make_session_factory
from sync.models import Organisation
from sync.orgs import role_model_for
from sync.settings import Settings

__all__ = ["apikey_group"]


class _CliError(click.ClickException):
    """One line on stderr, exit code 2."""

    exit_code = 2


@contextmanager
def _unit_of_work() -> Iterator[Session]:
    engine = make_engine_for(Settings.from_env())
    try:
        with make_session_factory(engine).begin() as s:
            yield s
    finally:
        engine.dispose()


def _org(session: Session, name: str) -> Organisation:
    org = session.scalars(select(Organisation).where(Organisation.name == name)).first()
    if org is None:
        raise _CliError(f"--org: no organisation named {name!r}")
    return org


@click.group("apikey")
def apikey_group() -> None:
    """Admin API keys of an organisation."""


@apikey_group.command("create")
@click.option("--org", "org_name", required=True, help="Organisation name.")
@click.option("--role", required=True, help="A role of the org's role model.")
@click.option("--name", default="", help="A label, e.g. who holds the key.")
def create(org_name: str, role: str, name: str) -> None:
    """Create a key; it is printed once and stored only as a hash."""
    try:
        with _unit_of_work() as s:
            org = _org(s, org_name)
            roles = key_roles(role_model_for(org.role_model))
            info, key = create_api_key(s, org.id, role, roles, name)
    except InputError as e:
        raise _CliError(f"--{e.where or 'role'}: {e.message}") from None
    click.echo(f"API key {info.id} for {org_name} (role {role}); shown once, keep it safe:")
    click.echo(key)


@apikey_group.command("list")
@click.option("--org", "org_name", required=True, help="Organisation name.")
def list_(org_name: str) -> None:
    """List the keys of an org (never the keys themselves)."""
    with _unit_of_work() as s:
        keys = list_api_keys(s, _org(s, org_name).id)
    for k in keys:
        state = f"revoked {k.revoked_at:%Y-%m-%d}" if k.revoked_at else "active"
        click.echo(f"{k.id}\t{k.role}\t{state}\t{k.name}")


@apikey_group.command("revoke")
@click.option("--org", "org_name", required=True, help="Organisation name.")
@click.argument("key_id", type=int)
def revoke(org_name: str, key_id: int) -> None:
    """Revoke a key by id; it stops working at once."""
    with _unit_of_work() as s:
        if not revoke_api_key(s, _org(s, org_name).id, key_id):
            raise _CliError(f"KEY_ID: no active key {key_id} in {org_name!r}")
    click.echo(f"revoked key {key_id}")
