"""The ``rolebridge`` command line (click).

Each area registers its commands here; commands gather inputs, call the core, and
print. Errors leave as one line naming the file and place.
"""

from __future__ import annotations

import click

__all__ = ["main"]


@click.group()
@click.version_option(package_name="rolebridge")
def main() -> None:
    """rolebridge: IdP groups to platform roles, as reviewable plans."""


def _register_pull_commands() -> None:
    from sync.pullcli import scheduler_command, source_group, sync_command

    main.add_command(source_group)
    main.add_command(sync_command)
    main.add_command(scheduler_command)


_register_pull_commands()
