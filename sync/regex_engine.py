"""RE2 for the patterns of ``match:`` rules: the regex engine the shell gives the core.

A mapping is written by a tenant, so its patterns are hostile input. Python's ``re``
backtracks: ``^(((.+)+)+)+!$`` against one ordinary group name runs for minutes. RE2
(the ``google-re2`` binding) matches in time linear in the text, whatever the pattern,
and refuses what it cannot do that way: lookaround and backreferences. The core stays
standard library only and takes the engine as a parameter (``mappings.regex.RegexEngine``);
every place the shell parses a tenant's mapping passes ``re2_engine``
(docs/architecture.md section 5.1).

Limits: a pattern has at most ``MAX_PATTERN`` characters; RE2 may use at most
``MAX_MEMORY`` bytes for the compiled program and its matching cache (a bigger
program is refused at validation; a full cache makes RE2 slower, never wrong); and a
mapping has at most ``MAX_PATTERNS`` ``match`` rules, so one mapping's patterns hold
at most ``MAX_PATTERNS * MAX_MEMORY`` bytes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import re2

from mappings.errors import MappingError
from mappings.regex import (
    LOOKAHEAD,
    LOOKBEHIND,
    MAX_PATTERN,
    MAX_PATTERNS,
    NAMED_BACKREFERENCE,
    NEGATIVE_LOOKAHEAD,
    NEGATIVE_LOOKBEHIND,
    NUMBERED_BACKREFERENCE,
    REPEAT_SIZE,
    check_length,
    scalar_text,
)

__all__ = ["MAX_MEMORY", "MAX_PATTERN", "MAX_PATTERNS", "Re2Pattern", "re2_engine"]

MAX_MEMORY = 1 << 20  # bytes, RE2's max_mem per compiled pattern

_OPTIONS = re2.Options()
_OPTIONS.max_mem = MAX_MEMORY
_OPTIONS.log_errors = False  # a refused pattern is the tenant's error, reported as such

# RE2's own words for what it refuses, and what they mean to someone writing a rule (the
# same words as the core's standard-library engine, so both refuse alike)
_REFUSALS = (
    ("invalid perl operator: (?=", LOOKAHEAD),
    ("invalid perl operator: (?!", NEGATIVE_LOOKAHEAD),
    ("invalid perl operator: (?<=", LOOKBEHIND),
    ("invalid perl operator: (?<!", NEGATIVE_LOOKBEHIND),
    ("invalid escape sequence: \\1", NUMBERED_BACKREFERENCE),
    ("pattern too large", f"the pattern compiles to more than {MAX_MEMORY >> 20} MiB"),
    ("invalid repetition size", REPEAT_SIZE),
)


@dataclass(frozen=True, slots=True)
class Re2Pattern:
    """A rule pattern compiled by RE2 (a ``mappings.regex.Pattern``)."""

    text: str
    captures: frozenset[str]
    _compiled: Any = field(repr=False, compare=False)

    def search(self, value: str) -> Mapping[str, str] | None:
        """The named captures that took part in the first match, or None without a match."""
        m = self._compiled.search(scalar_text(value))
        if m is None:
            return None
        return {k: v for k, v in m.groupdict().items() if v is not None}


def re2_engine(text: str, where: str) -> Re2Pattern:
    """Compile a rule's ``match`` with RE2; ``MappingError`` at ``where`` says why not."""
    check_length(text, where)
    try:
        compiled = re2.compile(text, _OPTIONS)
    except re2.error as e:
        raise MappingError(f"bad regular expression: {_words(e, text)}", where) from None
    return Re2Pattern(text, frozenset(compiled.groupindex), compiled)


def _words(error: Exception, text: str) -> str:
    raw = error.args[0] if error.args else error
    message = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    if "(?P=" in text and message.startswith("invalid perl operator: (?P"):
        return NAMED_BACKREFERENCE
    for starts, words in _REFUSALS:
        if starts in message:
            return words
    return message
