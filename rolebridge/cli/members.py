"""``rolebridge member add|set|remove`` and ``rolebridge invite resend|revoke|link``:
members changed by hand, each a plan of the role model applied like the IdP's
(``sync.services.members``); the host's operator acts beyond the role model's
``manages`` but within its other rules (last owner, IdP-managed members...)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from rolebridge.cli.common import (
    OPERATOR,
    database,
    fail,
    one_line_errors,
    org_id,
    org_option,
    settings,
)
from rolebridge.cli.outbox import invite_group
from sync.services.members import (
    MemberChanged,
    invite_link,
    invite_member,
    remove_member,
    resend_invite,
    revoke_invite,
    set_member,
)

__all__ = ["member_group"]

F = TypeVar("F", bound=Callable[..., Any])


@click.group("member")
def member_group() -> None:
    """Members changed by hand (origin manual): invited, changed, removed."""


def _grants(workspaces: tuple[str, ...], allow_empty: bool) -> dict[str, list[str]]:
    grants: dict[str, list[str]] = {}
    for item in workspaces:
        name, sep, roles = item.partition("=")
        if not sep or not name or (not roles and not allow_empty):
            fail(f"--workspace {item!r}: expected NAME=ROLE[,ROLE]")
        grants[name] = [r.strip() for r in roles.split(",") if r.strip()]
    return grants


def _workspace_option(help: str) -> Callable[[F], F]:
    return click.option(
        "--workspace", "workspaces", multiple=True, metavar="NAME=ROLE[,ROLE]", help=help
    )


def _said(done: MemberChanged) -> str:
    ops = ", ".join(op.op for op in done.plan.operations) or "nothing to change"
    emails = f"; {done.messages} email(s) queued" if done.messages else ""
    return f"{ops}{emails}"


@member_group.command("add")
@org_option()
@click.argument("email")
@click.option("--role", required=True, help="Org role.")
@_workspace_option("A workspace and the member's roles in it; repeatable.")
def member_add_command(org: str, email: str, role: str, workspaces: tuple[str, ...]) -> None:
    """Invite a member by hand: an invite email with the accept link is queued."""
    grants = _grants(workspaces, allow_empty=False)
    with database() as factory, one_line_errors():
        found = org_id(factory, org)
        done = invite_member(factory, found, email, role, grants, caller=OPERATOR)
    assert done.member is not None
    m = done.member
    click.echo(f"invited {m.email} to {done.org_name} as {m.org_role} (manual): {_said(done)}")


@member_group.command("set")
@org_option()
@click.argument("email")
@click.option("--role", default=None, help="New org role (unchanged if not given).")
@_workspace_option("A workspace and the roles wanted there; NAME= takes it away; repeatable.")
def member_set_command(org: str, email: str, role: str | None, workspaces: tuple[str, ...]) -> None:
    """Change a member's org role or workspace roles."""
    grants = _grants(workspaces, allow_empty=True)
    with database() as factory, one_line_errors():
        found = org_id(factory, org)
        done = set_member(factory, found, email, role, grants, caller=OPERATOR)
    click.echo(f"{done.email} in {done.org_name}: {_said(done)}")


@member_group.command("remove")
@org_option()
@click.argument("email")
def member_remove_command(org: str, email: str) -> None:
    """Remove a member (a pending invite is revoked); access ends at once."""
    with database() as factory, one_line_errors():
        found = org_id(factory, org)
        done = remove_member(factory, found, email, caller=OPERATOR)
    click.echo(f"{done.email} in {done.org_name}: {_said(done)}")


@invite_group.command("resend")
@org_option()
@click.argument("email")
def invite_resend_command(org: str, email: str) -> None:
    """Send a pending invite again (an expired one is renewed)."""
    with database() as factory, one_line_errors():
        found = org_id(factory, org)
        done = resend_invite(factory, found, email, caller=OPERATOR)
    click.echo(f"{done.email} in {done.org_name}: {_said(done)}")


@invite_group.command("revoke")
@org_option()
@click.argument("email")
def invite_revoke_command(org: str, email: str) -> None:
    """Withdraw a pending invite: its link stops working."""
    with database() as factory, one_line_errors():
        found = org_id(factory, org)
        done = revoke_invite(factory, found, email, caller=OPERATOR)
    click.echo(f"{done.email} in {done.org_name}: {_said(done)}")


@invite_group.command("link")
@org_option()
@click.argument("email")
def invite_link_command(org: str, email: str) -> None:
    """Print a fresh accept link of a pending invite (for hosts without mail); the link
    sent before stops working."""
    configured = settings()
    with database(configured) as factory, one_line_errors():
        found = org_id(factory, org)
        url = invite_link(factory, found, email, caller=OPERATOR, base_url=configured.base_url)
    click.echo(url)
