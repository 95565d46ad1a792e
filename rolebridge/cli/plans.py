"""``rolebridge plan|plans|apply|approve|reconcile``: saved plans and reconciliation."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import click

from mappings.authority import Caller
from mappings.render import render_json
from rolebridge.cli.common import (
    FILE,
    database,
    echo_json_lines,
    format_option,
    one_line_errors,
    org_id,
    org_option,
)
from rolebridge.cli.mapping import RENDERERS
from sync.files import load_plan
from sync.gcpause import cyclic_gc_paused
from sync.services.plans import apply_plan, approve_plan, create_plan
from sync.services.reconcile import reconcile
from sync.store.plans import PLAN_STATUSES, PlanStatus, list_plans

__all__ = ["apply_command", "approve_command", "plan_command", "plans_command", "reconcile_command"]

_PLAN_FORMAT = click.option(
    "--format",
    "fmt",
    type=click.Choice(sorted(RENDERERS)),
    default="text",
    show_default=True,
    help="How to print the plan.",
)


@click.command("plan")
@org_option()
@click.option("--out", type=FILE, default=None, help="Also write the plan as JSON here.")
@_PLAN_FORMAT
@cyclic_gc_paused()
def plan_command(org: str, out: Path | None, fmt: str) -> None:
    """Plan the org from the live directory and store the plan for `apply`."""
    with database() as factory:
        found = org_id(factory, org)
        with one_line_errors():
            saved = create_plan(factory, found, Caller("cli plan", None))
    plan = saved.plan
    click.echo(RENDERERS[fmt](plan), nl=False)
    if out is not None:
        out.write_text(render_json(plan), encoding="utf-8")
    click.echo(
        f"saved as plan {saved.id} ({saved.status}); "
        f"apply with: rolebridge apply --org {org} {saved.id}",
        err=True,
    )


@click.command("apply")
@org_option()
@click.argument("plan")
@cyclic_gc_paused()
def apply_command(org: str, plan: str) -> None:
    """Apply exactly a saved plan (its id) or a plan file, if it is not stale."""
    with database() as factory:
        found = org_id(factory, org)
        with one_line_errors():
            target = int(plan) if plan.isdigit() else load_plan(plan)
            done = apply_plan(factory, found, target, Caller("cli apply", None))
    plan_id, result = done.record.id, done.result
    parts = ", ".join(f"{n} {op}" for op, n in result.summary.items()) or "nothing to do"
    click.echo(f"applied plan {plan_id}: {parts}; {result.messages} email(s) queued")


def _plan_line(row: dict[str, Any]) -> str:
    summary = ", ".join(f"{n} {op}" for op, n in row["summary"].items())
    held = row["held"]
    why = f"  held: {held['why']}" if isinstance(held, dict) else ""
    return f"{row['id']}\t{row['status']}\t{row['created_at']:%Y-%m-%d %H:%M}\t" + (
        f"{summary or 'no changes'}{why}"
    )


@click.command("plans")
@org_option()
@click.option(
    "--status",
    type=click.Choice(PLAN_STATUSES),
    default=None,
    help="Only plans with this status.",
)
@format_option
def plans_command(org: str, status: PlanStatus | None, fmt: str) -> None:
    """List the org's saved plans, newest first: id, status, what they do, why held."""
    with database() as factory:
        found = org_id(factory, org)
        with factory() as session:
            rows = [
                {
                    "id": row.id,
                    "status": row.status,
                    "created_at": row.created_at,
                    "fingerprint": row.body.get("fingerprint"),
                    "summary": row.body.get("summary", {}),
                    "held": row.body.get("held"),
                }
                for row in list_plans(session, found, (status,) if status else ())
            ]
    if fmt == "json":
        echo_json_lines({**row, "created_at": row["created_at"].isoformat()} for row in rows)
        return
    for row in rows:
        click.echo(_plan_line(row))


@click.command("approve")
@org_option()
@click.argument("plan_id", type=int)
@click.option("--fingerprint", default=None, help="Approve only if the plan has this fingerprint.")
@click.option("--by", "approver", default="cli", show_default=True, help="Who approves (recorded).")
@cyclic_gc_paused()
def approve_command(org: str, plan_id: int, fingerprint: str | None, approver: str) -> None:
    """Approve a held or pending plan, bound to its fingerprint. A held plan is applied at
    once (re-planned first if the directory changed, within the same approval); exit 1
    when the approval lapsed and a fresh plan waits instead."""
    with database() as factory:
        found = org_id(factory, org)
        with one_line_errors():
            row = approve_plan(
                factory, found, plan_id, Caller(approver, None), fingerprint=fingerprint
            )
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
@org_option()
@click.option("--dry-run", is_flag=True, help="Only print the plan.")
@_PLAN_FORMAT
@cyclic_gc_paused()
def reconcile_command(org: str, dry_run: bool, fmt: str) -> None:
    """Plan the org and apply the plan (or store it for approval when it is held)."""
    with database() as factory:
        found = org_id(factory, org)
        with one_line_errors():
            result = reconcile(factory, found, Caller("cli reconcile", None), dry_run=dry_run)
    click.echo(RENDERERS[fmt](result.plan), nl=False)
    suffix = f" (plan {result.plan_id})" if result.plan_id else ""
    click.echo(f"{result.status}{suffix}", err=True)
