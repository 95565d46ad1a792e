"""Renderings: terraform-like text, Markdown, and byte-stable JSON that reads back."""

from __future__ import annotations

import json
from pathlib import Path

from mappings import (
    Directory,
    Plan,
    PlatformState,
    load_role_model,
    make_plan,
    parse_mapping,
    render_json,
    render_markdown,
    render_text,
)
from tests.unit.builders import NOW

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "shareofmodel"


def _example_plan(reverse: bool = False) -> Plan:
    import yaml  # the test may read YAML; the core never does

    doc = yaml.safe_load((EXAMPLE / "mapping.yaml").read_text())
    raw_dir = json.loads((EXAMPLE / "directory.json").read_text())
    raw_state = json.loads((EXAMPLE / "state.json").read_text())
    if reverse:
        raw_dir = {k: v[::-1] for k, v in raw_dir.items()}
        raw_state["members"] = raw_state["members"][::-1]
    d, s = Directory.from_scim(raw_dir), PlatformState.from_dict(raw_state)
    return make_plan(d, s, parse_mapping(doc), load_role_model(doc["role_model"]), now=NOW)


def test_equal_inputs_give_byte_equal_json_whatever_order_the_files_list_things() -> None:
    """The JSON of a plan from reordered but equal inputs is the same bytes."""
    assert render_json(_example_plan()) == render_json(_example_plan(reverse=True))


def test_the_json_plan_reads_back_to_an_equal_plan() -> None:
    """Plan.from_dict(render_json(plan)) == plan, so a saved plan can be applied later."""
    plan = _example_plan()
    assert Plan.from_dict(json.loads(render_json(plan))) == plan


def test_the_json_plan_has_the_public_shape() -> None:
    """operations, skipped, held, summary and fingerprint are the top-level keys."""
    data = json.loads(render_json(_example_plan()))
    assert set(data) == {"operations", "skipped", "held", "summary", "warnings", "fingerprint"}
    assert data["fingerprint"].startswith("sha256:")
    set_role = next(o for o in data["operations"] if o["op"] == "set_org_role")
    assert set_role == {
        "op": "set_org_role",
        "user": "bob@acme.com",
        "from": "guest",
        "to": "editor",
        "reason": [{"rule": 1, "groups": ["SOM Analysts"]}],
    }


def test_text_reads_like_terraform_plan_with_signs_reasons_and_a_summary() -> None:
    """Additions are +, changes ~, removals -, each with its rule; then a summary line."""
    lines = render_text(_example_plan()).splitlines()
    assert "  ~ set_org_role bob@acme.com guest -> editor    [rule 1: SOM Analysts]" in lines
    assert "  + invite carol@acme.com as guest    [default org role]" in lines
    assert "  - remove_from_org gina@acme.com    [not in the directory]" in lines
    assert "  ~ rename_member erin@acme.com -> erin.smith@acme.com" in lines
    assert any(line.startswith("Plan: 6 to add, 3 to change, 2 to remove.") for line in lines)


def test_markdown_is_a_table_for_a_review_comment() -> None:
    """The Markdown rendering has a table row per operation and the summary in bold."""
    md = render_markdown(_example_plan())
    assert "| ~ | `set_org_role` | bob@acme.com | guest -&gt; editor | rule 1: SOM Analysts |" in md
    assert "**Plan: 6 to add, 3 to change, 2 to remove.**" in md


def test_an_empty_plan_says_there_is_nothing_to_do() -> None:
    """No operations: the text says so and counts zero."""
    text = render_text(Plan())
    assert text.startswith("No changes.")
    assert "Plan: 0 to add, 0 to change, 0 to remove." in text
