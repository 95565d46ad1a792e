"""The ``rolebridge`` command line (click).

Each area registers its commands here; commands gather inputs, call the core, and
print. Errors leave as one line naming the file and place.
"""

from __future__ import annotations

import click

from sync import commands, plancli
from sync.apikey_cli import apikey_group
from sync.demo import demo_command
from sync.opscli import db_check_command
from sync.preview import explain_command, mapping_group, preview_command
from sync.pullcli import scheduler_command, source_group, sync_command
from sync.scim_cli import serve_command, token_group
from sync.worker import outbox_work_command

__all__ = ["main"]


@click.group()
@click.version_option(package_name="rolebridge")
def main() -> None:
    """rolebridge: IdP groups to platform roles, as reviewable plans."""


main.add_command(preview_command)
main.add_command(explain_command)
main.add_command(mapping_group)
main.add_command(demo_command)
main.add_command(commands.db_group)
main.add_command(commands.org_group)
main.add_command(commands.workspace_group)
main.add_command(commands.member_group)
main.add_command(plancli.plan_command)
main.add_command(plancli.apply_command)
main.add_command(plancli.approve_command)
main.add_command(plancli.plans_command)
main.add_command(plancli.reconcile_command)
main.add_command(commands.audit_command)
main.add_command(commands.outbox_group)
main.add_command(commands.invite_group)
mapping_group.add_command(commands.mapping_set_command)
mapping_group.add_command(commands.mapping_versions_command)
main.add_command(token_group)
main.add_command(serve_command)
main.add_command(source_group)
main.add_command(sync_command)
main.add_command(scheduler_command)
main.add_command(apikey_group)
commands.outbox_group.add_command(outbox_work_command)
commands.db_group.add_command(db_check_command)
