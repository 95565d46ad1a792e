"""Rule templates: ``{name}`` fills in a named capture of the rule's ``match``, nothing more.

Templates are tenant input, so they are not ``str.format`` strings: a format spec
(``{w:>99999999}``), a conversion (``{w!r}``), an index (``{w[0]}``) or an attribute
(``{w.x}``) is refused when the mapping is validated, and filling is plain substitution.
A filled value longer than ``MAX_FILLED`` characters (the length of a workspace name)
is not a name rolebridge will use: the grant is dropped with a warning.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping

from mappings.errors import MappingError

__all__ = ["MAX_FILLED", "MAX_TEMPLATE", "check_template", "fill", "is_template"]

MAX_TEMPLATE = 200  # characters of a role or workspace text, template or not
MAX_FILLED = 200  # characters of a filled value (the workspace name column's length)

_PART = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")  # no nested quantifier: linear
_HELP = "use {name} with a capture name only (no format spec, conversion, index or attribute)"


def is_template(text: str) -> bool:
    """Whether ``text`` has ``{...}`` fields to fill."""
    return "{" in text or "}" in text


@functools.lru_cache(maxsize=1024)
def _parts(text: str) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    """(literals, names) with ``len(literals) == len(names) + 1``, or None if malformed."""
    literals: list[str] = []
    names: list[str] = []
    at = 0
    for m in _PART.finditer(text):
        literals.append(text[at : m.start()])
        names.append(m.group(1))
        at = m.end()
    literals.append(text[at:])
    if any("{" in lit or "}" in lit for lit in literals):
        return None
    return tuple(literals), tuple(names)


def check_template(text: str, captures: frozenset[str], where: str) -> None:
    """Refuse anything but ``{name}`` fields naming a capture; ``where`` names the field."""
    if len(text) > MAX_TEMPLATE:
        raise MappingError(f"longer than {MAX_TEMPLATE} characters", where)
    parts = _parts(text)
    if parts is None:
        raise MappingError(f"bad template: {_HELP}", where)
    for name in parts[1]:
        if name not in captures:
            known = ", ".join(sorted(captures)) or "none"
            raise MappingError(f"unknown capture name '{name}' (captures: {known})", where)


def fill(text: str, captures: Mapping[str, str]) -> str | None:
    """``text`` with each ``{name}`` replaced; None if a capture is missing or empty.

    A checked template is assumed (``check_template``); the caller bounds the length.
    """
    parts = _parts(text)
    if parts is None:
        return None
    literals, names = parts
    if not names:
        return text
    out = [literals[0]]
    for name, literal in zip(names, literals[1:], strict=True):
        value = captures.get(name)
        if not value:
            return None
        out += (value, literal)
    return "".join(out)
