"""Read the offline inputs (mapping, directory, state, plan) from YAML or JSON files.

Any problem becomes a ``FileError`` whose one-line message names the file, the line
when it can be found, and the place in the document (``mapping.yaml:7: rules[1].org_role:
unknown org role 'boss'``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml

from mappings import (
    Directory,
    InputError,
    Plan,
    PlatformState,
    RoleMapping,
    RoleModel,
    check_state,
    parse_mapping,
)
from sync.nesting import MAX_DEPTH, json_too_deep, load_yaml, yaml_node
from sync.regex_engine import re2_engine

__all__ = [
    "FileError",
    "load_directory",
    "load_document",
    "load_mapping",
    "load_plan",
    "load_state",
]

T = TypeVar("T")
_STEP = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


class FileError(InputError):
    """A file could not be read or parsed; the message names the file and place."""

    def __init__(self, path: Path | str, message: str, line: int | None = None) -> None:
        self.path = str(path)
        self.line = line
        place = f"{self.path}:{line}" if line else self.path
        super().__init__(message, place)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileError(path, "no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise FileError(path, f"cannot read: {e}") from None


def load_document(path: Path | str) -> Any:
    """Parse a YAML or JSON file (by suffix; YAML otherwise) into plain data."""
    path = Path(path)
    text = _read(path)
    if path.suffix.lower() == ".json":
        if json_too_deep(text.encode()):
            raise FileError(path, f"invalid JSON: nested deeper than {MAX_DEPTH} levels")
        try:
            return json.loads(text)
        except json.JSONDecodeError as e:
            raise FileError(path, f"invalid JSON: {e.msg} (column {e.colno})", e.lineno) from None
    try:
        return load_yaml(text)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark is not None else None
        raise FileError(path, f"invalid YAML: {e.problem or e}", line) from None
    except yaml.YAMLError as e:
        raise FileError(path, f"invalid YAML: {e}") from None


def _line_of(text: str, where: str) -> int | None:
    """The 1-based line of a place like ``rules[2].org_role`` in a YAML or JSON text."""
    try:
        node = yaml_node(text)
    except yaml.YAMLError:
        return None
    if node is None:
        return None
    for name, index in _STEP.findall(where.removeprefix("$")):
        child: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode) and name:
            child = next((v for k, v in node.value if k.value == name), None)
        elif isinstance(node, yaml.SequenceNode) and index and int(index) < len(node.value):
            child = node.value[int(index)]
        if child is None:
            break  # a missing field: point at the object that lacks it
        node = child
    return node.start_mark.line + 1


def _load(path: Path | str, build: Callable[[Any], T]) -> T:
    path = Path(path)
    data = load_document(path)
    try:
        return build(data)
    except FileError:
        raise
    except InputError as e:
        line = _line_of(_read(path), e.where) if e.where else None
        raise FileError(path, f"{e.where}: {e.message}" if e.where else e.message, line) from None


def load_mapping(path: Path | str, role_model: RoleModel | None = None) -> RoleMapping:
    """A checked mapping from a YAML or JSON file, its patterns compiled by RE2."""
    return _load(path, lambda d: parse_mapping(d, role_model, engine=re2_engine))


def load_directory(path: Path | str) -> Directory:
    """A directory from ``{"users": [SCIM User], "groups": [SCIM Group]}``."""
    return _load(path, Directory.from_scim)


def load_state(path: Path | str, role_model: RoleModel | None = None) -> PlatformState:
    """A platform state from ``{"organisation": ..., "workspaces": ..., "members": ...}``;
    with ``role_model``, every role it names must exist there."""

    def build(data: Any) -> PlatformState:
        state = PlatformState.from_dict(data)
        if role_model is not None:
            check_state(state, role_model)
        return state

    return _load(path, build)


def load_plan(path: Path | str) -> Plan:
    """A saved plan (the JSON rendering)."""
    return _load(path, Plan.from_dict)
