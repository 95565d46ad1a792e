"""``rolebridge audit``: what was applied to an org, newest first."""

from __future__ import annotations

from typing import Any

import click

from rolebridge.cli.common import database, echo_json_lines, format_option, org_id, org_option
from sync.store.audit import list_audit

__all__ = ["audit_command"]


@click.command("audit")
@org_option()
@click.option("--user", default=None, help="Only this user's entries.")
@click.option(
    "--limit", type=click.IntRange(min=1), default=100, show_default=True, help="At most this many."
)
@format_option
@click.option("--json", "as_json", is_flag=True, help="The same as --format json.")
def audit_command(org: str, user: str | None, limit: int, fmt: str, as_json: bool) -> None:
    """What was applied to the org, newest first: when, by what, the op and why."""
    with database() as factory:
        found = org_id(factory, org)
        with factory() as session:
            rows: list[dict[str, Any]] = [
                {
                    "at": row.at,
                    "actor": row.actor,
                    "plan": row.plan_id,
                    "op": row.op,
                    "user": row.user,
                    "workspace": row.workspace,
                    "detail": row.detail,
                }
                for row in list_audit(session, found, user, limit=limit)
            ]
    if as_json or fmt == "json":
        echo_json_lines(
            {"at": r["at"].isoformat(), "actor": r["actor"], "plan": r["plan"], **r["detail"]}
            for r in rows
        )
        return
    for r in rows:
        where = f" [{r['workspace']}]" if r["workspace"] else ""
        click.echo(
            f"{r['at']:%Y-%m-%d %H:%M:%S}  {r['actor']:<16} {r['op']:<22} {r['user']}{where}"
        )
