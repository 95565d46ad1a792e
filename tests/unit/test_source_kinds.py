"""The pulled source kinds come from one registry: each source module declares its kind,
and the factory, the mirror and ``rolebridge source add`` read the registry
(docs/architecture.md section 9)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from rolebridge.cli import main
from sync.mirror import SOURCE_KINDS
from sync.sources.base import ConfigurationSourceError
from sync.sources.factory import build_source
from sync.sources.registry import KINDS, PULL_KINDS


def test_the_registry_names_each_kind_by_its_own_declaration() -> None:
    """Each kind is registered under its name, fits the ``sources.kind`` column and
    settles to the settings it was given plus any it derives; the mirror knows them all."""
    assert tuple(KINDS) == PULL_KINDS and set(PULL_KINDS) >= {"okta", "graph", "scim-pull"}
    for name, kind in KINDS.items():
        assert kind.name == name and len(name) <= 20
        assert kind.fields and kind.summary
        given = {f.name: "x" for f in kind.fields}
        assert kind.settle(dict(given)).items() >= given.items()
    assert ("scim", *PULL_KINDS) == SOURCE_KINDS


def test_a_kind_the_registry_lacks_cannot_be_built() -> None:
    """An unknown kind is a configuration error naming the kinds there are."""
    with pytest.raises(ConfigurationSourceError, match="expected one of okta"):
        build_source("ldap", {}, "secret")


@pytest.mark.parametrize("name", sorted(KINDS))
def test_source_add_has_a_command_per_kind_with_its_settings(name: str) -> None:
    """``source add <kind> --help`` offers every setting of the kind, and leaving out a
    required one is a usage error (one line, exit 1)."""
    runner = CliRunner()
    shown = runner.invoke(main, ["source", "add", name, "--help"])
    assert shown.exit_code == 0, shown.output
    kind = KINDS[name]
    for field in kind.fields:
        assert field.option_name in shown.output
    assert kind.summary.split(":")[0] in shown.output
    required = [f for f in kind.fields if f.required]
    if required:
        missing = runner.invoke(main, ["source", "add", name, "--org", "acme"])
        assert missing.exit_code == 1
        assert required[0].option_name in missing.output
