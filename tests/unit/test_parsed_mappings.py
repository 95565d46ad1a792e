"""The parsed mappings a process keeps are bounded by what they may weigh, not by their
number: each compiled RE2 pattern may hold ``MAX_MEMORY``, so a few regex-heavy
mappings, not 256 of them, fill the budget (sync/store/mappings.py)."""

from __future__ import annotations

import threading

from mappings.mapping import pattern_count
from sync.regex_engine import MAX_MEMORY
from sync.store.mappings import ParsedMappings

BUDGET = 10 * MAX_MEMORY  # room for two mappings of four patterns, not three


def regex_heavy(tag: str, patterns: int = 4) -> str:
    """An aihub mapping of ``patterns`` distinct ``match`` rules and one group rule."""
    rules = "".join(
        f"  - match: '^{tag}-{i}-(?P<n>[0-9]+)$'\n"
        '    workspace: "w{n}"\n'
        "    workspace_role: user\n"
        for i in range(patterns)
    )
    return (
        "role_model: aihub\nrules:\n  - group: Staff\n    org_role: user\n"
        f"{rules}policy:\n  acting_role: admin\n"
    )


def weight(document: str, patterns: int = 4) -> int:
    return patterns * MAX_MEMORY + len(document)


def test_a_mapping_weighs_its_compiled_patterns_and_its_document() -> None:
    """Four ``match`` rules: four patterns (the group rule compiles none)."""
    cache = ParsedMappings(BUDGET)
    doc = regex_heavy("a")
    assert pattern_count(cache.get(doc, "aihub")) == 4
    assert (len(cache), cache.weight) == (1, weight(doc))


def test_a_hit_returns_the_same_mapping_and_weighs_nothing_more() -> None:
    cache = ParsedMappings(BUDGET)
    doc = regex_heavy("a")
    first = cache.get(doc, "aihub")
    assert cache.get(doc, "aihub") is first
    assert cache.get(str(doc.encode().decode()), "aihub") is first  # equal text, not same str
    assert (len(cache), cache.weight) == (1, weight(doc))


def test_the_least_recently_used_is_dropped_to_stay_within_the_budget() -> None:
    """a, b, then a read again: c's parse drops b, the least recently used, and the total
    stays within the budget after every parse."""
    cache = ParsedMappings(BUDGET)
    a, b, c, d = (regex_heavy(tag) for tag in "abcd")
    kept_a = cache.get(a, "aihub")
    cache.get(b, "aihub")
    assert cache.weight == weight(a) + weight(b) <= BUDGET
    assert cache.get(a, "aihub") is kept_a
    cache.get(c, "aihub")
    assert (a, "aihub") in cache and (b, "aihub") not in cache and (c, "aihub") in cache
    assert cache.weight == weight(a) + weight(c) <= BUDGET
    cache.get(d, "aihub")  # now a is the least recently used
    assert (a, "aihub") not in cache and (c, "aihub") in cache and (d, "aihub") in cache
    assert cache.weight == weight(c) + weight(d) <= BUDGET
    assert cache.get(a, "aihub") is not kept_a  # parsed again


def test_a_mapping_over_the_budget_is_still_returned_and_kept_alone() -> None:
    cache = ParsedMappings(BUDGET)
    small = regex_heavy("a")
    cache.get(small, "aihub")
    huge = regex_heavy("h", patterns=12)
    parsed = cache.get(huge, "aihub")
    assert pattern_count(parsed) == 12
    assert (small, "aihub") not in cache
    assert (len(cache), cache.weight) == (1, weight(huge, 12))
    assert cache.weight > BUDGET
    assert cache.get(huge, "aihub") is parsed
    cache.get(small, "aihub")  # the next parse drops it: the total fits again
    assert (len(cache), cache.weight) == (1, weight(small))


def test_the_same_document_under_another_role_model_is_another_entry() -> None:
    cache = ParsedMappings(BUDGET)
    doc = "rules:\n  - group: Staff\n    org_role: member\n"
    on_soterai = cache.get(doc, "soterai")
    assert on_soterai.role_model == "soterai"
    assert cache.get(doc.replace("member", "user"), "aihub").role_model == "aihub"
    assert len(cache) == 2 and cache.get(doc, "soterai") is on_soterai


def test_threads_reading_one_document_at_once_share_one_mapping() -> None:
    cache = ParsedMappings(BUDGET)
    doc = regex_heavy("t")
    start = threading.Barrier(8)
    got: list[object] = []

    def read() -> None:
        start.wait()
        got.append(cache.get(doc, "aihub"))

    threads = [threading.Thread(target=read) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(m) for m in got}) == 1
    assert (len(cache), cache.weight) == (1, weight(doc))
