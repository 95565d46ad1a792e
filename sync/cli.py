"""The ``rolebridge`` command line (click).

Each area registers its commands here; commands gather inputs, call the core, and
print. Errors leave as one line naming the file and place.
"""

from __future__ import annotations

import click

from sync.preview import demo_command, explain_command, mapping_group, preview_command

__all__ = ["main"]


@click.group()
@click.version_option(package_name="rolebridge")
def main() -> None:
    """rolebridge: IdP groups to platform roles, as reviewable plans."""


main.add_command(preview_command)
main.add_command(explain_command)
main.add_command(mapping_group)
main.add_command(demo_command)
