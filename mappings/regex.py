"""The regular expressions of ``match:`` rules, run by RE2 so no pattern can backtrack.

A mapping is written by a tenant, so its patterns are hostile input. Python's ``re``
backtracks: ``^(((.+)+)+)+!$`` against one ordinary group name runs for minutes. RE2
(the ``google-re2`` binding) matches in time linear in the text, whatever the pattern,
and refuses what it cannot do that way: lookaround and backreferences. This module is
the one place the core uses a third-party package; ``tests/unit/test_purity.py`` names
it as the only exception.

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

import re2  # the one third-party import of the core (see the module docstring)

from mappings.errors import MappingError

__all__ = ["MAX_MEMORY", "MAX_PATTERN", "MAX_PATTERNS", "Pattern", "compile_pattern"]

MAX_PATTERN = 1_000  # characters
MAX_MEMORY = 1 << 20  # bytes, RE2's max_mem per compiled pattern
MAX_PATTERNS = 100  # match rules in one mapping

_OPTIONS = re2.Options()
_OPTIONS.max_mem = MAX_MEMORY
_OPTIONS.log_errors = False  # a refused pattern is the tenant's error, reported as such

# RE2's own words for what it refuses, and what they mean to someone writing a rule
_REFUSALS = (
    ("invalid perl operator: (?=", "lookahead (?=...) is not supported"),
    ("invalid perl operator: (?!", "negative lookahead (?!...) is not supported"),
    ("invalid perl operator: (?<=", "lookbehind (?<=...) is not supported"),
    ("invalid perl operator: (?<!", "negative lookbehind (?<!...) is not supported"),
    ("invalid escape sequence: \\1", "backreferences (\\1 ... \\9) are not supported"),
    ("pattern too large", f"the pattern compiles to more than {MAX_MEMORY >> 20} MiB"),
    ("invalid repetition size", "a repetition count (or nested counts multiplied) is above 1000"),
)


@dataclass(frozen=True, slots=True)
class Pattern:
    """A compiled rule pattern: ``search`` gives the named captures of the first match."""

    text: str
    captures: frozenset[str]
    _compiled: Any = field(repr=False, compare=False)

    def search(self, value: str) -> Mapping[str, str] | None:
        """The named captures that took part in the first match, or None without a match."""
        m = self._compiled.search(value)
        if m is None:
            return None
        return {k: v for k, v in m.groupdict().items() if v is not None}


def compile_pattern(text: str, where: str) -> Pattern:
    """Compile a rule's ``match`` with RE2; ``MappingError`` at ``where`` says why not."""
    if len(text) > MAX_PATTERN:
        raise MappingError(f"longer than {MAX_PATTERN} characters", where)
    try:
        compiled = re2.compile(text, _OPTIONS)
    except re2.error as e:
        raise MappingError(f"bad regular expression: {_words(e, text)}", where) from None
    return Pattern(text, frozenset(compiled.groupindex), compiled)


def _words(error: Exception, text: str) -> str:
    raw = error.args[0] if error.args else error
    message = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    if "(?P=" in text and message.startswith("invalid perl operator: (?P"):
        return "backreferences (?P=name) are not supported"
    for starts, words in _REFUSALS:
        if starts in message:
            return words
    return message
