"""The ``rolebridge`` command line (click): one module per command group.

Commands translate their arguments into calls of ``sync``'s functions and the results
into output. Every error leaves as one line on stderr and exit status 1, usage errors
included; exit status 2 only means "there are changes" under ``--detailed-exitcode``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import click

from rolebridge.cli.apikeys import apikey_group
from rolebridge.cli.audit import audit_command
from rolebridge.cli.db import db_group
from rolebridge.cli.demo import demo_command
from rolebridge.cli.mapping import explain_command, mapping_group, preview_command
from rolebridge.cli.members import member_group
from rolebridge.cli.oidc import oidc_group
from rolebridge.cli.orgs import org_group, workspace_group
from rolebridge.cli.outbox import invite_group, outbox_group
from rolebridge.cli.plans import (
    apply_command,
    approve_command,
    plan_command,
    plans_command,
    reconcile_command,
)
from rolebridge.cli.serve import serve_command
from rolebridge.cli.sources import scheduler_command, source_group, sync_command
from rolebridge.cli.tokens import token_group
from rolebridge.cli.webhooks import events_command, webhook_group

__all__ = ["main"]


class _Command(click.Group):
    """The top-level group: click's errors, usage errors included, become one line and
    exit status 1, so that 2 keeps its one meaning."""

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        """Run the command; in standalone mode, exit with its status."""
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, **extra)
        try:
            code = super().main(args, prog_name, complete_var, False, **extra)
        except click.ClickException as exc:
            click.echo(f"error: {exc.format_message()}", err=True)
            sys.exit(1)
        except click.Abort:
            click.echo("error: aborted", err=True)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


@click.group(cls=_Command)
@click.version_option(package_name="rolebridge")
def main() -> None:
    """rolebridge: IdP groups to platform roles, as reviewable plans."""


for command in (
    preview_command,
    explain_command,
    mapping_group,
    demo_command,
    db_group,
    org_group,
    workspace_group,
    member_group,
    plan_command,
    apply_command,
    approve_command,
    plans_command,
    reconcile_command,
    audit_command,
    outbox_group,
    invite_group,
    token_group,
    serve_command,
    source_group,
    sync_command,
    scheduler_command,
    apikey_group,
    webhook_group,
    events_command,
    oidc_group,
):
    main.add_command(command)
