"""Loading a mapping: every mistake names the rule index and the field."""

from __future__ import annotations

from typing import Any

import pytest

from mappings import MappingError, Policy, RegexEngine, parse_mapping
from mappings.regex import compile_pattern
from sync.regex_engine import re2_engine

BASE: dict[str, Any] = {"role_model": "shareofmodel", "rules": []}


ENGINES = pytest.mark.parametrize(
    "engine", [compile_pattern, re2_engine], ids=["stdlib", "re2"]
)  # the core's default and the one the service injects refuse alike


def _error(doc: dict[str, Any], engine: RegexEngine = compile_pattern) -> tuple[str, str]:
    with pytest.raises(MappingError) as info:
        parse_mapping(doc, engine=engine)
    return info.value.where, info.value.message


def _rules(*rules: dict[str, Any], **policy: Any) -> dict[str, Any]:
    return {**BASE, "rules": list(rules), "policy": policy}


@pytest.mark.parametrize(
    ("doc", "where", "words"),
    [
        (
            _rules({"group": "A", "org_role": "boss"}),
            "rules[0].org_role",
            "unknown org role 'boss'",
        ),
        (
            _rules({"group": "A", "org_role": "guest"}, {"match": "(", "org_role": "guest"}),
            "rules[1].match",
            "bad regular expression",
        ),
        (
            _rules({"match": "^ws-(?P<w>.+)$", "workspace": "{workspace}"}),
            "rules[0].workspace",
            "unknown capture name 'workspace'",
        ),
        (
            _rules({"group": "A", "workspace": "x", "workspace_role": "owner"}),
            "rules[0].workspace_role",
            "unknown workspace role 'owner'",
        ),
        (
            _rules({"group": "A", "org_role": "owner"}, acting_role="editor"),
            "rules[0].org_role",
            "acting role 'editor' may not assign 'owner'",
        ),
        (_rules({"org_role": "guest"}), "rules[0]", "exactly one of 'group', 'role' or 'match'"),
        (_rules({"group": "A"}), "rules[0]", "grants nothing"),
        (_rules({"group": "A", "org_rol": "guest"}), "rules[0]", "unknown field 'org_rol'"),
        (
            _rules({"group": "A", "workspace": "x", "workspace_roles": ["viewer", "editor"]}),
            "rules[0].workspace_role",
            "one role per workspace",
        ),
        (
            _rules({"group": "A", "workspace": "x", "credits": 5}),
            "rules[0].credits",
            "only a rule with 'create_workspace: true'",
        ),
        (_rules(max_removals="ten"), "policy.max_removals", "a count"),
        (_rules(max_removals="120%"), "policy.max_removals", "a count"),
        (_rules(unmapped="drop"), "policy.unmapped", "remove, default_role, keep"),
        (_rules(apply="later"), "policy.apply", "auto, review"),
        (_rules(acting_role="root"), "policy.acting_role", "unknown role 'root'"),
        ({"rules": []}, "role_model", "is required"),
        ({"role_model": "nope", "rules": []}, "role_model", "unknown role model 'nope'"),
        ({**BASE, "rules": {"group": "A"}}, "rules", "must be a list"),
        ({**BASE, "scope": {"groups": [1]}}, "scope.groups", "list of group names"),
    ],
)
def test_a_bad_mapping_is_refused_with_the_place_and_the_problem(
    doc: dict[str, Any], where: str, words: str
) -> None:
    """Each kind of mistake raises MappingError naming its rule index and field."""
    got_where, message = _error(doc)
    assert got_where == where
    assert words in message


def test_a_mapping_reads_back_from_its_own_document_form() -> None:
    """to_dict gives a document that parses to an equal mapping."""
    doc = {
        "role_model": "shareofmodel",
        "scope": {"groups": ["SOM Users"]},
        "rules": [
            {"group": "SOM Owners", "org_role": "owner"},
            {"role": "Analyst", "org_role": "editor"},
            {
                "match": "^ws-(?P<w>[a-z]+)-(?P<r>viewer|editor)$",
                "workspace": "{w}",
                "workspace_role": "{r}",
                "create_workspace": True,
                "credits": 100,
            },
        ],
        "policy": {"unmapped": "keep", "max_removals": "5%", "apply": "review"},
    }
    mapping = parse_mapping(doc)
    assert parse_mapping(mapping.to_dict()) == mapping
    assert mapping.policy == Policy(
        unmapped="keep",
        manage_manual_members=False,
        max_removals="5%",
        acting_role="owner",
        apply="review",
        allow_protected=False,
        default_role="guest",
    )


def test_max_removals_as_a_percentage_rounds_down_and_a_count_is_absolute() -> None:
    """'10%' of 25 members allows 2 removals; 3 allows 3 whatever the size."""
    assert Policy(max_removals="10%").removal_limit(25) == 2
    assert Policy(max_removals=3).removal_limit(1000) == 3
    assert Policy(max_removals=None).removal_limit(10) is None


def test_a_model_whose_org_roles_manage_nothing_acts_as_its_top_workspace_role() -> None:
    """annotation's only org role manages nothing, so the sync acts as workspace admin."""
    assert parse_mapping({"role_model": "annotation", "rules": []}).policy.acting_role == "admin"


def test_a_mapping_may_carry_its_own_role_model_inline() -> None:
    """role_model may be a whole role model document instead of a preset name."""
    doc = {
        "role_model": {
            "name": "tiny",
            "org_roles": ["reader", "writer"],
            "manages": {"writer": ["reader", "writer"]},
        },
        "rules": [{"group": "Writers", "org_role": "writer"}],
    }
    mapping = parse_mapping(doc)
    assert (mapping.role_model, mapping.policy.acting_role) == ("tiny", "writer")
    assert parse_mapping(mapping.to_dict()) == mapping
    with pytest.raises(MappingError) as info:
        parse_mapping({**doc, "role_model": {**doc["role_model"], "default_org_role": "boss"}})
    assert info.value.where == "role_model.default_org_role"


_WS = "^ws-(?P<w>[a-z]+)$"


@pytest.mark.parametrize(
    ("rule", "where", "message"),
    [
        (
            {"match": "^(?=ws-)(?P<w>.+)$", "workspace": "{w}"},
            "rules[0].match",
            "bad regular expression: lookahead (?=...) is not supported",
        ),
        (
            {"match": "^(?!x)(?P<w>.+)$", "workspace": "{w}"},
            "rules[0].match",
            "bad regular expression: negative lookahead (?!...) is not supported",
        ),
        (
            {"match": "(?<=ws-)(?P<w>.+)$", "workspace": "{w}"},
            "rules[0].match",
            "bad regular expression: lookbehind (?<=...) is not supported",
        ),
        (
            {"match": "(?<!x)(?P<w>.+)$", "workspace": "{w}"},
            "rules[0].match",
            "bad regular expression: negative lookbehind (?<!...) is not supported",
        ),
        (
            {"match": "^(?P<w>[a-z])(?P=w)$", "workspace": "{w}"},
            "rules[0].match",
            "bad regular expression: backreferences (?P=name) are not supported",
        ),
        (
            {"match": "^(?P<w>[a-z])\\1$", "workspace": "{w}"},
            "rules[0].match",
            "bad regular expression: backreferences (\\1 ... \\9) are not supported",
        ),
        (
            {"match": "^((a{100}){100})$", "org_role": "guest"},
            "rules[0].match",
            "bad regular expression: a repetition count (or nested counts multiplied) "
            "is above 1000",
        ),
        (
            {"match": "a" * 1001, "org_role": "guest"},
            "rules[0].match",
            "longer than 1000 characters",
        ),
        (
            {"match": _WS, "workspace": "{w:>99999999}"},
            "rules[0].workspace",
            "bad template: use {name} with a capture name only "
            "(no format spec, conversion, index or attribute)",
        ),
        ({"match": _WS, "org_role": "{w!r}"}, "rules[0].org_role", "bad template: use {name}"),
        ({"match": _WS, "workspace": "{w[0]}"}, "rules[0].workspace", "bad template: use {name}"),
        ({"match": _WS, "workspace": "{w.x}"}, "rules[0].workspace", "bad template: use {name}"),
        ({"match": _WS, "workspace": "ws-{{w}}"}, "rules[0].workspace", "bad template: use {name}"),
        (
            {"match": _WS, "workspace": "{w}", "workspace_role": "{w}}"},
            "rules[0].workspace_role",
            "bad template: use {name}",
        ),
        (
            {"match": _WS, "workspace": "x" * 201},
            "rules[0].workspace",
            "longer than 200 characters",
        ),
    ],
)
@ENGINES
def test_a_pattern_or_template_that_could_hurt_the_service_is_refused(
    rule: dict[str, Any], where: str, message: str, engine: RegexEngine
) -> None:
    """Refusals say what is unsupported, in the same words with either engine; templates
    allow only ``{name}``; both are capped."""
    got_where, got_message = _error(_rules(rule), engine)
    assert got_where == where
    assert got_message.startswith(message)


def test_a_pattern_compiling_to_more_than_re2s_memory_is_refused() -> None:
    """RE2's program is capped at 1 MiB: a pattern over it is refused, in words."""
    assert _error(_rules({"match": "\\pL{100}" * 2, "org_role": "guest"}), re2_engine) == (
        "rules[0].match",
        "bad regular expression: the pattern compiles to more than 1 MiB",
    )


@pytest.mark.parametrize(
    ("pattern", "text"),
    [
        ("^(a+)+$", "a" * 5000 + "!"),
        ("^(((.+)+)+)+!$", "proj-" * 1000),
        ("^(a|ab)*$", "ab" * 2000 + "c"),
        ("^(x?){20}x{20}$", "x" * 20 + "y"),
    ],
)
def test_the_stdlib_engine_refuses_nested_repetition_that_re2_runs_in_linear_time(
    pattern: str, text: str
) -> None:
    """``re`` backtracks, so its engine refuses the exponential shapes; RE2 accepts them
    and answers at once on the text that would make ``re`` backtrack for ever."""
    where, message = _error(_rules({"match": pattern, "org_role": "guest"}))
    assert where == "rules[0].match"
    assert "inside a repetition is refused by the standard-library engine" in message
    rm = parse_mapping(_rules({"match": pattern, "org_role": "guest"}), engine=re2_engine)
    assert rm.rules[0].pattern is not None
    assert rm.rules[0].pattern.search(text) is None


@ENGINES
def test_a_pattern_and_template_within_the_limits_are_accepted(engine: RegexEngine) -> None:
    """A 1,000-character pattern and a 200-character template are at the limits and valid."""
    pattern = "^ws-(?P<w>[a-z]+)" + "x?" * 491 + "$"
    assert len(pattern) == 1000
    template = "{w}" + "x" * 197
    rm = parse_mapping(_rules({"match": pattern, "workspace": template}), engine=engine)
    assert (rm.rules[0].match, rm.rules[0].workspace) == (pattern, template)


def test_at_most_100_match_rules_fit_in_one_mapping() -> None:
    """100 ``match`` rules are accepted; the 101st is refused at its own index."""
    rule = {"match": "^ws-(?P<w>[a-z]+)$", "workspace": "{w}"}
    assert (
        len(parse_mapping(_rules({"group": "A", "org_role": "guest"}, *[rule] * 100)).rules) == 101
    )
    assert _error(_rules({"group": "A", "org_role": "guest"}, *[rule] * 101)) == (
        "rules[101].match",
        "more than 100 'match' rules in one mapping",
    )
