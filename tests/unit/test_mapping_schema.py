"""The mapping JSON Schema accepts every shipped example, refuses what the parser
refuses for its shape, and names the same fields as the parser."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from click.testing import CliRunner

from mappings.mapping import _POLICY_FIELDS, _RULE_FIELDS
from mappings.schema import mapping_schema
from rolebridge.cli import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(ROOT.glob("examples/*/mapping.yaml"))


def test_the_schema_names_the_fields_the_parser_accepts() -> None:
    """Rule and policy fields are the parser's own, so the two cannot drift apart."""
    schema = mapping_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert set(schema["$defs"]["rule"]["properties"]) == _RULE_FIELDS
    assert set(schema["$defs"]["policy"]["properties"]) == _POLICY_FIELDS


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.parent.name)
def test_every_example_mapping_is_valid(path: Path) -> None:
    """Each examples/*/mapping.yaml validates."""
    jsonschema.validate(yaml.safe_load(path.read_text()), mapping_schema())


@pytest.mark.parametrize(
    ("doc", "where"),
    [
        ({"rules": [{"group": "A", "role": "B", "org_role": "member"}]}, ["rules", 0]),
        ({"rules": [{"group": "A"}]}, ["rules", 0]),
        ({"rules": [{"group": "A", "org_role": "member", "colour": 1}]}, ["rules", 0]),
        ({"policy": {"unmapped": "drop"}}, ["policy", "unmapped"]),
        ({"policy": {"max_removals": "lots"}}, ["policy", "max_removals"]),
        ({"polcy": {}}, []),
    ],
)
def test_a_misshapen_mapping_is_refused_at_its_place(
    doc: dict[str, object], where: list[object]
) -> None:
    """Two selectors, no grant, an unknown field, a bad enum or count: invalid, located."""
    errors = list(jsonschema.Draft202012Validator(mapping_schema()).iter_errors(doc))
    assert errors and list(errors[0].absolute_path) == where


def test_the_cli_prints_the_schema() -> None:
    """`rolebridge mapping schema` prints the same document as JSON."""
    result = CliRunner().invoke(main, ["mapping", "schema"])
    assert result.exit_code == 0 and json.loads(result.output) == mapping_schema()
