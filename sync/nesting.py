"""Nesting limits of the documents rolebridge parses (JSON bodies and files, YAML mappings).

Python's parsers recurse once per level, so a document nested thousands deep exhausts
the stack (``RecursionError``) after costly work. Each document is refused past
``MAX_DEPTH`` levels instead: JSON by following its brackets before it is parsed, YAML while
it is composed. A YAML scalar Python cannot hold (an integer of thousands of digits)
is refused the same way, as a ``yaml.YAMLError`` that names its line.
"""

from __future__ import annotations

import re
from itertools import accumulate
from operator import add
from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.constructor import ConstructorError

__all__ = ["MAX_DEPTH", "json_too_deep", "load_yaml", "yaml_node"]

MAX_DEPTH = 32
"""The deepest nesting of arrays and objects (JSON) or sequences and mappings (YAML)."""

_JSON_STRING = re.compile(rb'"[^"]*"')  # once escaped quotes are gone
_BRACKETS = bytes(range(256)).translate(None, b"[]{}")
_SQUARE = bytes.maketrans(b"{}", b"[]")
_STEP = tuple(1 if b == ord("[") else -1 if b == ord("]") else 0 for b in range(256))
_CHUNK = 1 << 16


def json_too_deep(data: bytes, limit: int = MAX_DEPTH) -> bool:
    """Whether a JSON text nests deeper than ``limit``, without parsing it.

    Linear in the size of ``data`` and done in C: escapes and strings are dropped,
    then the running depth of the brackets that remain is followed chunk by chunk.
    """
    unescaped = data.replace(b"\\\\", b"").replace(b'\\"', b"")
    brackets = _JSON_STRING.sub(b"", unescaped).translate(None, _BRACKETS)
    brackets = brackets.translate(_SQUARE)
    depth = 0
    for start in range(0, len(brackets), _CHUNK):
        chunk = brackets[start : start + _CHUNK]
        opens = chunk.count(b"[")
        if depth + opens > limit:  # may go too deep: follow this chunk step by step
            steps = map(_STEP.__getitem__, chunk)
            if max(accumulate(steps, add, initial=depth)) > limit:
                return True
        depth += 2 * opens - len(chunk)
    return False


class _LimitedLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing nesting past ``MAX_DEPTH`` while it composes."""

    _depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self._depth >= MAX_DEPTH:
            mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
            raise ComposerError(None, None, f"nested deeper than {MAX_DEPTH} levels", mark)
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_object(self, node: Any, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except ValueError as e:  # e.g. an integer past Python's 4,300-digit limit
            raise ConstructorError(
                None, None, f"cannot read this value: {str(e).partition(';')[0]}", node.start_mark
            ) from None


def load_yaml(text: str) -> Any:
    """``yaml.safe_load`` within the nesting limit (a ``yaml.YAMLError`` past it)."""
    return yaml.load(text, Loader=_LimitedLoader)


def yaml_node(text: str) -> yaml.Node | None:
    """``yaml.compose`` within the nesting limit (a ``yaml.YAMLError`` past it)."""
    node: yaml.Node | None = yaml.compose(text, Loader=_LimitedLoader)
    return node
