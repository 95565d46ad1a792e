"""``python -m sync`` runs the ``rolebridge`` command line."""

from __future__ import annotations

from sync.cli import main

main(prog_name="rolebridge")
