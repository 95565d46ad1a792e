"""Replay a recorded client request sequence from ``tests/samples/`` against the app.

A sample is ``{"source", "notes", "steps": [...]}``; each step has ``method``,
``path``, optional ``body``, ``expect`` (``status``, ``fields`` by dotted path,
``absent`` paths, ``length`` of lists) and ``save`` (names for response fields,
used later as ``{name}`` in paths and bodies).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.e2e.conftest import Scim

SAMPLES = Path(__file__).parent.parent / "samples"
_MISSING = object()


def load(name: str) -> dict[str, Any]:
    """A sample by file name."""
    sample: dict[str, Any] = json.loads((SAMPLES / name).read_text())
    return sample


def replay(scim: Scim, name: str, saved: dict[str, str] | None = None) -> dict[str, str]:
    """Run every step of a sample, asserting its expectations; returns the saved values."""
    saved = dict(saved or {})
    for number, step in enumerate(load(name)["steps"], 1):
        where = f"{name} step {number} ({step['name']})"
        path = _fill(step["path"], saved)
        body = json.loads(_fill(json.dumps(step["body"]), saved)) if "body" in step else None
        response = scim.request(step["method"], path, body)
        document = response.get_json(silent=True)
        expect = step["expect"]
        assert response.status_code == expect["status"], f"{where}: {document}"
        for field, value in expect.get("fields", {}).items():
            wanted = json.loads(_fill(json.dumps(value), saved))
            assert _get(document, field) == wanted, f"{where}: {field} in {document}"
        for field in expect.get("absent", []):
            assert _get(document, field) is _MISSING, f"{where}: {field} in {document}"
        for field, length in expect.get("length", {}).items():
            found = _get(document, field)
            assert isinstance(found, list) and len(found) == length, f"{where}: {field}"
        for key, field in step.get("save", {}).items():
            saved[key] = str(_get(document, field))
    return saved


def _fill(text: str, saved: dict[str, str]) -> str:
    for key, value in saved.items():
        text = text.replace("{" + key + "}", value)
    return text


def _get(document: Any, path: str) -> Any:
    """A value by dotted path; keys may hold dots (schema URNs), list items are numbers."""
    current = document
    rest = path
    while rest:
        if isinstance(current, list):
            head, _, rest = rest.partition(".")
            index = int(head)
            if index >= len(current):
                return _MISSING
            current = current[index]
            continue
        if not isinstance(current, dict):
            return _MISSING
        keys = [k for k in current if rest == k or rest.startswith(k + ".")]
        if not keys:
            return _MISSING
        key = max(keys, key=len)
        current, rest = current[key], rest[len(key) + 1 :]
    return current
