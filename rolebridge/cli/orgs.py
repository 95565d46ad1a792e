"""``rolebridge org|workspace|member``: organisations, their workspaces, manual members."""

from __future__ import annotations

import click

from rolebridge.cli.common import (
    database,
    echo_json_lines,
    fail,
    format_option,
    one_line_errors,
    org_id,
    org_option,
)
from sync.orgs import (
    add_member,
    create_org,
    create_workspace,
    get_org,
    list_orgs,
    role_model_for,
    workspace_names,
)

__all__ = ["member_group", "org_group", "workspace_group"]


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
def org_create_command(
    name: str, role_model: str, plan_name: str | None, credits: int | None
) -> None:
    """Create an organisation on a role model preset; the plan and credits it gets are
    printed, defaults said as such."""
    with database() as factory, one_line_errors(), factory.begin() as session:
        org = create_org(session, name, role_model, plan=plan_name, credits=credits)
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
        for ws in workspace_names(session, org.id):
            click.echo(f"  workspace: {ws} (the {org.plan} plan's one workspace)")


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
        with one_line_errors(), factory.begin() as session:
            ws = create_workspace(session, found, name, credits)
            where = get_org(session, found).name  # --org may have been the id
            click.echo(f"created workspace {ws.name} in {where} ({ws.credits} credits)")


@click.group("member")
def member_group() -> None:
    """Members added by hand (origin manual)."""


def _grants(workspaces: tuple[str, ...]) -> dict[str, list[str]]:
    grants: dict[str, list[str]] = {}
    for item in workspaces:
        name, sep, roles = item.partition("=")
        if not sep or not name or not roles:
            fail(f"--workspace {item!r}: expected NAME=ROLE[,ROLE]")
        grants[name] = [r.strip() for r in roles.split(",") if r.strip()]
    return grants


@member_group.command("add")
@org_option()
@click.argument("email")
@click.option("--role", required=True, help="Org role.")
@click.option(
    "--workspace",
    "workspaces",
    multiple=True,
    metavar="NAME=ROLE[,ROLE]",
    help="A workspace and the member's roles in it; repeatable.",
)
@click.option("--invited", is_flag=True, help="Add as a pending invite rather than joined.")
def member_add_command(
    org: str, email: str, role: str, workspaces: tuple[str, ...], invited: bool
) -> None:
    """Add a manual member; reconciliation leaves them alone unless the policy says otherwise."""
    grants = _grants(workspaces)
    status = "invited" if invited else "joined"
    with database() as factory:
        found = org_id(factory, org)
        with one_line_errors(), factory.begin() as session:
            member = add_member(session, found, email, role, workspaces=grants, status=status)
            where = get_org(session, found).name  # --org may have been the id
            click.echo(
                f"added {member.email} to {where} as {member.org_role} ({member.status}, manual)"
            )
