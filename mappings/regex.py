"""The regular expressions of ``match:`` rules: what the core asks of a regex engine.

A mapping is written by a tenant, so its patterns are hostile input. The core names the
engine it needs (``RegexEngine``: compile a pattern, or raise ``MappingError`` saying
why not) and takes one as a parameter where a mapping is parsed
(``mappings.mapping.parse_mapping``); it stays standard library only. The shell injects
RE2 (``sync.regex_engine``), which matches in time linear in the text whatever the
pattern, at every place a tenant's document is parsed (docs/architecture.md section 5.1).

The default, ``compile_pattern``, runs on the standard library's ``re`` and accepts the
same syntax as RE2 does: it refuses lookaround, backreferences, conditionals, atomic
groups and possessive repeats, and repetition counts (or nested counts multiplied) above
``MAX_REPEAT``, with the same words. Since ``re`` backtracks, it also refuses a variable
repetition or an alternation inside a repetition (``^(a+)+$``, ``(a|ab)*``), the shapes
that backtrack exponentially. It does not promise linear time (``.*.*.*x`` is
polynomial), so it is for trusted documents: the examples, tests, the core used as a
library. ``\\d``, ``\\w`` and ``\\b`` are ASCII, as in RE2. What differs: ``$`` also
matches before a final newline, ``\\s`` also matches the vertical tab, and ``(?i)`` folds
ASCII letters only (RE2's ``(?i)s`` also matches the long s, U+017F).

Limits, whatever the engine: a pattern has at most ``MAX_PATTERN`` characters and no
lone surrogate (checked before the engine sees it), and a mapping at most
``MAX_PATTERNS`` ``match`` rules. Both engines match a name as ``scalar_text`` gives it
(a lone surrogate read as U+FFFD), so no name makes either raise.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from mappings.errors import MappingError

__all__ = [
    "MAX_PATTERN",
    "MAX_PATTERNS",
    "MAX_REPEAT",
    "Pattern",
    "RegexEngine",
    "StdlibPattern",
    "LONE_SURROGATE",
    "check_length",
    "compile_pattern",
    "scalar_text",
]

MAX_PATTERN = 1_000  # characters
MAX_PATTERNS = 100  # match rules in one mapping
MAX_REPEAT = 1_000  # a repetition count, or nested counts multiplied (RE2's own limit)

LOOKAHEAD = "lookahead (?=...) is not supported"
NEGATIVE_LOOKAHEAD = "negative lookahead (?!...) is not supported"
LOOKBEHIND = "lookbehind (?<=...) is not supported"
NEGATIVE_LOOKBEHIND = "negative lookbehind (?<!...) is not supported"
NUMBERED_BACKREFERENCE = "backreferences (\\1 ... \\9) are not supported"
NAMED_BACKREFERENCE = "backreferences (?P=name) are not supported"
REPEAT_SIZE = f"a repetition count (or nested counts multiplied) is above {MAX_REPEAT}"


class Pattern(Protocol):
    """A compiled rule pattern, whichever engine compiled it."""

    @property
    def text(self) -> str:
        """The pattern as written."""
        ...

    @property
    def captures(self) -> frozenset[str]:
        """The names of its named groups (the ``{name}`` a template may use)."""
        ...

    def search(self, value: str) -> Mapping[str, str] | None:
        """The named captures that took part in the first match, or None without a match."""
        ...


class RegexEngine(Protocol):
    """Compile a rule's ``match`` text; ``MappingError`` at ``where`` says why not."""

    def __call__(self, text: str, where: str) -> Pattern: ...


def check_length(text: str, where: str) -> None:
    """Refuse a pattern over ``MAX_PATTERN`` characters, or holding a lone surrogate, before
    any engine compiles it."""
    if len(text) > MAX_PATTERN:
        raise MappingError(f"longer than {MAX_PATTERN} characters", where)
    if scalar_text(text) != text:
        raise MappingError(LONE_SURROGATE, where)


LONE_SURROGATE = "holds a lone surrogate (U+D800 to U+DFFF, half of a UTF-16 pair), not a character"


def scalar_text(value: str) -> str:
    """``value`` with each lone surrogate replaced by U+FFFD, as a UTF-8 decoder replaces
    what is not a character. JSON's and YAML's ``\\ud800`` escapes give Python strings
    holding them; RE2 cannot take them at all, so both engines match on this form and
    agree."""
    if value.isascii():
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in value)
    return value


@dataclass(frozen=True, slots=True)
class StdlibPattern:
    """A pattern compiled by the standard library's ``re`` (``compile_pattern``)."""

    text: str
    captures: frozenset[str]
    _compiled: re.Pattern[str] = field(repr=False, compare=False)

    def search(self, value: str) -> Mapping[str, str] | None:
        """The named captures that took part in the first match, or None without a match."""
        m = self._compiled.search(scalar_text(value))
        if m is None:
            return None
        return {k: v for k, v in m.groupdict().items() if v is not None}


def compile_pattern(text: str, where: str) -> StdlibPattern:
    """Compile a rule's ``match`` with ``re`` within RE2's syntax and without nested
    repetition; ``MappingError`` at ``where`` says why not."""
    check_length(text, where)
    try:
        tree = _PARSER.parse(text, re.ASCII)
    except re.error as e:
        raise MappingError(f"bad regular expression: {e.msg}", where) from None
    refusal = _refusal(tree, text, 1, inside_repeat=False)
    if refusal is not None:
        raise MappingError(f"bad regular expression: {refusal}", where)
    try:
        compiled = re.compile(text, re.ASCII)
    except re.error as e:  # pragma: no cover - the parse above already raised it
        raise MappingError(f"bad regular expression: {e.msg}", where) from None
    return StdlibPattern(text, frozenset(compiled.groupindex), compiled)


# ``re``'s own parser (standard library, no public name): its tree is what ``re`` runs,
# so the checks below see the pattern exactly as the matcher will.
_PARSER: Any = importlib.import_module("re._parser")
_UNBOUNDED: int = _PARSER.MAXREPEAT
_LEAVES = frozenset({"LITERAL", "NOT_LITERAL", "ANY", "IN", "AT", "CATEGORY"})
_REPEATS = frozenset({"MAX_REPEAT", "MIN_REPEAT"})


def _refusal(tree: Any, text: str, product: int, *, inside_repeat: bool) -> str | None:
    """Why the parsed ``tree`` is refused, or None. ``product``: the counts of the
    repetitions around it multiplied; ``inside_repeat``: whether one of them may repeat."""
    for op, av in tree:
        name = str(op)
        refusal: str | None = None
        if name in _LEAVES:
            continue
        if name == "SUBPATTERN":
            refusal = _refusal(av[3], text, product, inside_repeat=inside_repeat)
        elif name in _REPEATS:
            low, high, body = av
            product *= max(low if high == _UNBOUNDED else high, 1)  # as RE2 counts
            if product > MAX_REPEAT:
                return REPEAT_SIZE
            if inside_repeat and low != high:
                return _NESTED
            refusal = _refusal(body, text, product, inside_repeat=inside_repeat or high > 1)
        elif name == "BRANCH":
            if inside_repeat:
                return _NESTED
            for branch in av[1]:
                refusal = refusal or _refusal(branch, text, product, inside_repeat=False)
        elif name in ("ASSERT", "ASSERT_NOT"):
            ahead = av[0] == 1
            if name == "ASSERT":
                return LOOKAHEAD if ahead else LOOKBEHIND
            return NEGATIVE_LOOKAHEAD if ahead else NEGATIVE_LOOKBEHIND
        elif name == "GROUPREF":
            return NAMED_BACKREFERENCE if "(?P=" in text else NUMBERED_BACKREFERENCE
        elif name == "GROUPREF_EXISTS":
            return "conditionals (?(name)...) are not supported"
        elif name == "ATOMIC_GROUP":
            return "atomic groups (?>...) are not supported"
        elif name == "POSSESSIVE_REPEAT":
            return "possessive repetitions (*+, ++, ?+) are not supported"
        else:
            return f"{name.lower().replace('_', ' ')} is not supported"
        if refusal is not None:
            return refusal
    return None


_NESTED = (
    "a variable repetition or an alternation inside a repetition is refused by the "
    "standard-library engine (it could backtrack exponentially)"
)
