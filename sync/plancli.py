"""CLI commands on saved plans: plan, plans, apply, approve, and reconcile. Errors are one
line on stderr and exit status 1 (as in ``sync.commands``)."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import click

from mappings.render import render_json
from sync.commands import RENDERERS, one_line_errors, open_database, org_id_by_name
from sync.models import PLAN_STATUSES, PlanStatus

__all__ = ["apply_command", "approve_command", "plan_command", "plans_command", "reconcile_command"]

_FILE = click.Path(path_type=Path, dir_okay=False)


@click.command("plan")
@click.option("--org", required=True, help="Organisation name.")
@click.option("--out", type=_FILE, default=None, help="Also write the plan as JSON here.")
@click.option("--format", "fmt", type=click.Choice(sorted(RENDERERS)), default="text")
def plan_command(org: str, out: Path | None, fmt: str) -> None:
    """Plan the org from the live directory and store the plan for `apply`."""
    from mappings.operations import Plan
    from sync.plans import create_plan

    factory = open_database()
    org_id = org_id_by_name(factory, org)
    with one_line_errors():
        saved = create_plan(factory, org_id, trigger="cli plan")
    plan = Plan.from_dict(saved.body)
    click.echo(RENDERERS[fmt](plan), nl=False)
    if out is not None:
        out.write_text(render_json(plan), encoding="utf-8")
    click.echo(
        f"saved as plan {saved.id} ({saved.status}); "
        f"apply with: rolebridge apply --org {org} {saved.id}",
        err=True,
    )


@click.command("apply")
@click.option("--org", required=True, help="Organisation name.")
@click.argument("plan")
def apply_command(org: str, plan: str) -> None:
    """Apply exactly a saved plan (its id) or a plan file, if it is not stale."""
    from sync.files import load_plan
    from sync.plans import apply_saved

    factory = open_database()
    org_id = org_id_by_name(factory, org)
    with one_line_errors():
        target = int(plan) if plan.isdigit() else load_plan(plan)
        plan_id, result = apply_saved(factory, org_id, target, actor="cli apply")
    parts = ", ".join(f"{n} {op}" for op, n in result.summary.items()) or "nothing to do"
    click.echo(f"applied plan {plan_id}: {parts}; {result.messages} email(s) queued")


@click.command("plans")
@click.option("--org", required=True, help="Organisation name.")
@click.option(
    "--status",
    type=click.Choice(PLAN_STATUSES),
    default=None,
    help="Only plans with this status.",
)
def plans_command(org: str, status: PlanStatus | None) -> None:
    """List the org's saved plans, newest first: id, status, what they do, why held."""
    from sync.plans import list_plans

    factory = open_database()
    org_id = org_id_by_name(factory, org)
    with factory() as session:
        rows = list_plans(session, org_id, status)
    for row in rows:
        summary = ", ".join(f"{n} {op}" for op, n in row.body.get("summary", {}).items())
        held = row.body.get("held")
        why = f"  held: {held['why']}" if isinstance(held, dict) else ""
        click.echo(
            f"{row.id}\t{row.status}\t{row.created_at:%Y-%m-%d %H:%M}\t"
            f"{summary or 'no changes'}{why}"
        )


@click.command("approve")
@click.option("--org", required=True, help="Organisation name.")
@click.argument("plan_id", type=int)
@click.option("--fingerprint", default=None, help="Approve only if the plan has this fingerprint.")
@click.option("--by", "approver", default="cli", help="Who approves (recorded).")
def approve_command(org: str, plan_id: int, fingerprint: str | None, approver: str) -> None:
    """Approve a held or pending plan, bound to its fingerprint. A held plan is applied at
    once (re-planned first if the directory changed, within the same approval); exit 1
    when the approval lapsed and a fresh plan waits instead."""
    from sync.plans import approve

    factory = open_database()
    try:
        org_id = org_id_by_name(factory, org)
        with one_line_errors():
            row = approve(factory, org_id, plan_id, approver=approver, fingerprint=fingerprint)
    finally:
        factory.kw["bind"].dispose()  # close pooled connections before the process ends
    waits = row.status in ("held", "pending")
    click.echo(_approval_outcome(org, plan_id, row.id, row.status, row.body), err=waits)
    if waits:
        raise SystemExit(1)


def _approval_outcome(org: str, asked: int, got: int, status: str, body: dict[str, Any]) -> str:
    """One line saying what the approval of plan ``asked`` did."""
    summary = ", ".join(f"{n} {op}" for op, n in body.get("summary", {}).items())
    again = f"rolebridge approve --org {shlex.quote(org)} {got}"
    if status == "applied" and got == asked:
        return f"approved and applied plan {asked}: {summary or 'nothing to do'}"
    if status == "applied":
        return (
            f"approved plan {asked}; the directory had changed, so the org was re-planned "
            f"and plan {got} applied under the approval: {summary or 'nothing to do'}"
        )
    if status in ("held", "pending"):
        held = body.get("held") or {}
        return f"plan {asked} was not applied: {held.get('detail', '')}; to apply: {again}"
    if status == "stale":
        return f"approved plan {asked}; the directory changed since and nothing is left to do"
    apply = f"rolebridge apply --org {shlex.quote(org)} {asked}"
    return f"approved plan {asked} ({body.get('fingerprint', '')}); apply it with: {apply}"


@click.command("reconcile")
@click.option("--org", required=True, help="Organisation name.")
@click.option("--dry-run", is_flag=True, help="Only print the plan.")
@click.option("--format", "fmt", type=click.Choice(sorted(RENDERERS)), default="text")
def reconcile_command(org: str, dry_run: bool, fmt: str) -> None:
    """Plan the org and apply the plan (or store it for approval when it is held)."""
    from sync.reconcile import reconcile

    factory = open_database()
    org_id = org_id_by_name(factory, org)
    with one_line_errors():
        result = reconcile(factory, org_id, dry_run=dry_run, trigger="cli reconcile")
    click.echo(RENDERERS[fmt](result.plan), nl=False)
    suffix = f" (plan {result.plan_id})" if result.plan_id else ""
    click.echo(f"{result.status}{suffix}", err=True)
