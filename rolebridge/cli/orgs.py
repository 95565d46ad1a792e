"""``rolebridge org|workspace``: organisations and their workspaces."""

from __future__ import annotations

import click

from rolebridge.cli.common import (
    OPERATOR,
    database,
    echo_json_lines,
    format_option,
    one_line_errors,
    org_id,
    org_option,
)
from sync.services.orgs import create_org_with_holder
from sync.services.workspaces import create_workspace
from sync.store.orgs import list_orgs, role_model_for

__all__ = ["org_group", "workspace_group"]


@click.group("org")
def org_group() -> None:
    """Organisations."""


@org_group.command("create")
@click.argument("name")
@click.option("--role-model", required=True, help="Role model preset, e.g. shareofmodel.")
@click.option(
    "--plan",
    "plan_name",
    default=None,
    help="Commercial plan, one the preset declares (default: the preset's default plan).",
)
@click.option(
    "--credits",
    type=click.IntRange(min=0),
    default=None,
    help="Credit pool (default: unlimited).",
)
@click.option(
    "--owner",
    "--admin",
    "holder",
    default=None,
    metavar="EMAIL",
    help="Invite this person as the first holder of the top org role (owner, admin...).",
)
def org_create_command(
    name: str, role_model: str, plan_name: str | None, credits: int | None, holder: str | None
) -> None:
    """Create an organisation on a role model preset; the plan and credits it gets are
    printed, defaults said as such."""
    with database() as factory, one_line_errors():
        org = create_org_with_holder(
            factory,
            name,
            role_model,
            plan=plan_name,
            credits=credits,
            holder=holder,
            caller=OPERATOR,
        )
    model = role_model_for(org.role_model)
    plan = org.plan
    if plan_name is None:
        plans = ", ".join(model.plans) or "any"
        plan = f"{plan} (the {model.name} default; --plan: {plans})"
    pool = "unlimited" if org.credits is None else str(org.credits)
    if credits is None:
        pool += " (the default; --credits N caps the pool)"
    click.echo(f"created organisation {org.name} (role model {org.role_model})")
    click.echo(f"  plan: {plan}")
    click.echo(f"  credits: {pool}")
    for ws in org.workspaces:
        click.echo(f"  workspace: {ws} (the {org.plan} plan's one workspace)")
    if org.invited is not None and org.invited.member is not None:
        m = org.invited.member
        click.echo(f"invited {m.email} as {m.org_role}; the invite email is queued")


@org_group.command("list")
@format_option
def org_list_command(fmt: str) -> None:
    """List organisations."""
    with database() as factory, factory() as session:
        orgs = [(o.id, o.name, o.role_model, o.plan, o.credits) for o in list_orgs(session)]
    if fmt == "json":
        keys = ("id", "name", "role_model", "plan", "credits")
        echo_json_lines(dict(zip(keys, row, strict=True)) for row in orgs)
        return
    for _, name, role_model, plan, credits in orgs:
        pool = "unlimited" if credits is None else credits
        click.echo(f"{name}\t{role_model}\t{plan}\tcredits {pool}")


@click.group("workspace")
def workspace_group() -> None:
    """Workspaces of an organisation."""


@workspace_group.command("create")
@org_option()
@click.argument("name")
@click.option("--credits", type=click.IntRange(min=0), default=0, help="Credits it reserves.")
def workspace_create_command(org: str, name: str, credits: int) -> None:
    """Create a workspace within the org's plan and credits."""
    with database() as factory:
        found = org_id(factory, org)
        with one_line_errors():
            made = create_workspace(factory, found, name, credits, OPERATOR)
    ws = made.workspace  # the org's name, since --org may have been the id
    click.echo(f"created workspace {ws.name} in {made.org_name} ({ws.credits} credits)")
