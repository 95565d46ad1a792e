"""The core gives the same resolution whichever regex engine compiles the patterns: the
standard library's (the core's default) or RE2 (what the service injects)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mappings import Directory, PlatformState, RegexEngine, load_role_model, make_plan, resolve
from mappings.errors import MappingError
from mappings.mapping import parse_mapping
from mappings.regex import compile_pattern
from sync.files import load_document
from sync.regex_engine import re2_engine

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NAMES = sorted(p.parent.name for p in EXAMPLES.glob("*/mapping.yaml"))
NOW = datetime(2026, 12, 1, tzinfo=UTC)


def _example(name: str) -> tuple[dict[str, Any], Directory, PlatformState]:
    base = EXAMPLES / name
    return (
        load_document(base / "mapping.yaml"),
        Directory.from_scim(load_document(base / "directory.json")),
        PlatformState.from_dict(load_document(base / "state.json")),
    )


def _plan_with(name: str, engine: RegexEngine) -> tuple[Any, Any]:
    doc, directory, state = _example(name)
    model = load_role_model(doc["role_model"])
    mapping = parse_mapping(doc, engine=engine)
    desired = resolve(directory, mapping, model)
    plan = make_plan(directory, state, mapping, model, now=NOW)
    return desired, plan.to_dict()


def test_every_preset_has_an_example_to_compare() -> None:
    """The comparison below covers the examples, and some of them have ``match:`` rules."""
    assert len(NAMES) >= 5
    with_patterns = [n for n in NAMES if any("match" in r for r in _example(n)[0]["rules"])]
    assert len(with_patterns) >= 3


@pytest.mark.parametrize("name", NAMES)
def test_an_example_resolves_and_plans_alike_with_either_engine(name: str) -> None:
    """Same desired state (grants, reasons, warnings) and the same plan, to the fingerprint."""
    stdlib = _plan_with(name, compile_pattern)
    re2 = _plan_with(name, re2_engine)
    assert stdlib == re2
    assert stdlib[0].users  # the example maps someone, so the comparison says something


PATTERNS = sorted(
    {r["match"] for n in NAMES for r in _example(n)[0]["rules"] if "match" in r}
    | {r"^(?P<w>\w+)-(?P<n>\d{1,3})$", r"^ws-(?P<w>[a-z]+)\b", r"^[^-]+-(?P<rest>.*)$"}
)
# group names like the examples' (ASCII letters, digits, dashes), plus any other character
# but the newline: ``re``'s ``$`` also matches before a final newline, RE2's does not
# (mappings.regex lists the differences between the engines)
NAME = st.one_of(
    st.from_regex(r"\A(team|ws|proj)-[a-z0-9]{0,8}-(viewer|editor|admin|user|manager)\Z"),
    st.text(st.characters(blacklist_characters="\n"), max_size=30),
    st.text(st.sampled_from("abcXYZ019-_ é٣"), max_size=30),
)


@given(name=NAME)
def test_a_group_name_gives_the_same_captures_with_either_engine(name: str) -> None:
    """Each example pattern (and a few using ``\\w``, ``\\d``, ``\\b``) captures
    the same from any group name with either engine."""
    for text in PATTERNS:
        assert compile_pattern(text, "p").search(name) == re2_engine(text, "p").search(name)


@pytest.mark.parametrize("engine", [compile_pattern, re2_engine])
def test_a_pattern_holding_a_lone_surrogate_is_refused_with_its_place(engine: Any) -> None:
    """YAML's ``"\\ud800"`` escape gives half a UTF-16 pair, not a character: refused with
    words and the rule's place, never an encoding error."""
    with pytest.raises(MappingError) as refused:
        engine("^ws-\ud800(?P<n>[0-9]+)$", "rules[0].match")
    assert "lone surrogate" in str(refused.value) and "rules[0].match" in str(refused.value)


def test_a_group_name_holding_a_lone_surrogate_matches_alike_on_either_engine() -> None:
    """A name from a JSON file with a ``\\ud800`` escape: both engines match it as a UTF-8
    decoder would read it (U+FFFD in its place), neither raises."""
    for text, name, expected in (
        ("^ws-(?P<x>.)$", "ws-\ud800", {"x": "\ufffd"}),
        ("^ws-(?P<n>[0-9]+)$", "ws-\udfff12", None),
        ("(?P<n>[0-9]+)$", "\ud83d-ws-7", {"n": "7"}),
    ):
        assert compile_pattern(text, "p").search(name) == expected
        assert re2_engine(text, "p").search(name) == expected
