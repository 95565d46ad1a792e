"""``rolebridge apikey create|list|revoke``: an org's admin API keys, made and revoked by
the operator through the same service as the admin API (``sync.services.credentials``),
each change an audit entry."""

from __future__ import annotations

import click

from mappings.errors import InputError
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
from sync.services import credentials
from sync.store.orgs import role_model_for

__all__ = ["apikey_group"]


@click.group("apikey")
def apikey_group() -> None:
    """Admin API keys of an organisation."""


@apikey_group.command("create")
@org_option()
@click.option(
    "--role",
    default=None,
    help="A role of the org's role model, org-wide (default with --workspace-role: the "
    "model's default org role).",
)
@click.option(
    "--workspace-role",
    default=None,
    help="A workspace role the key carries in each --workspace, e.g. manager.",
)
@click.option(
    "--workspace",
    "workspaces",
    multiple=True,
    help="A workspace where the key holds --workspace-role (repeatable).",
)
@click.option("--name", default="", help="A label, e.g. who holds the key.")
def create(
    org: str, role: str | None, workspace_role: str | None, workspaces: tuple[str, ...], name: str
) -> None:
    """Create a key; it is printed once and stored only as a hash."""
    if bool(workspace_role) != bool(workspaces):
        fail("--workspace-role and --workspace go together")
    if role is None and workspace_role is None:
        fail("--role: give a role (or --workspace-role with --workspace)")
    with database() as factory:
        found = org_record(factory, org)
        with one_line_errors():
            role = role or role_model_for(found.role_model).default_org_role
        scope = {ws: str(workspace_role) for ws in workspaces}
        try:
            issued = credentials.create_key(
                factory, found.id, OPERATOR, role, name, workspaces=scope
            )
        except InputError as e:
            fail(f"--{e.where or 'role'}: {e.message}")
    info = issued.credential
    where = ""
    if info.workspaces:
        where = f", {workspace_role} in {', '.join(sorted(info.workspaces))}"
    click.echo(f"API key {info.id} for {org} (role {role}{where}); shown once, keep it safe:")
    click.echo(issued.secret)


@apikey_group.command("list")
@org_option()
@format_option
def list_(org: str, fmt: str) -> None:
    """List the keys of an org (never the keys themselves)."""
    with database() as factory:
        found = org_record(factory, org)
        with one_line_errors():
            keys = credentials.every_key(factory, found.id, OPERATOR)
    if fmt == "json":
        echo_json_lines(
            {
                "id": k.id,
                "role": k.role,
                "name": k.name,
                "created_at": k.created_at.isoformat(),
                "revoked_at": k.revoked_at.isoformat() if k.revoked_at else None,
                "workspaces": dict(k.workspaces),
            }
            for k in keys
        )
        return
    for k in keys:
        state = f"revoked {k.revoked_at:%Y-%m-%d}" if k.revoked_at else "active"
        scope = ",".join(f"{ws}={r}" for ws, r in sorted(k.workspaces.items()))
        role = f"{k.role} ({scope})" if scope else str(k.role)
        click.echo(f"{k.id}\t{role}\t{state}\t{k.name}")


@apikey_group.command("revoke")
@org_option()
@click.argument("key_id", type=int)
def revoke(org: str, key_id: int) -> None:
    """Revoke a key by id; it stops working at once."""
    with database() as factory:
        found = org_record(factory, org)
        with one_line_errors():
            keys = {k.id: k for k in credentials.every_key(factory, found.id, OPERATOR)}
            if key_id not in keys or keys[key_id].revoked_at is not None:
                fail(f"KEY_ID: no active key {key_id} in {org!r}")
            credentials.revoke_key(factory, found.id, OPERATOR, key_id)
    click.echo(f"revoked key {key_id}")
