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


from sync.apikey_cli import apikey_group  # noqa: E402

main.add_command(apikey_group)
