"""Keyset paging by an opaque cursor, for every list of the admin API.

A page is ``limit`` rows in a fixed order of one or more columns ending in a unique one
(the row id); the cursor names the last row's values of those columns, so the next page
starts right after it however many rows were added or removed meanwhile (no OFFSET, no
row seen twice). The cursor is URL-safe base64 of a small JSON document naming the list
it belongs to; a cursor of another list, or one that is not ours, is an ``InputError`` on
``cursor``.

    page = keyset_page(session, select(AuditEntry).where(...), "audit",
                       (AuditEntry.at, AuditEntry.id), limit=50, cursor=request_cursor)
    page.items, page.next_cursor   # next_cursor is None on the last page
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, and_, or_
from sqlalchemy.orm import InstrumentedAttribute, Session
from sqlalchemy.sql.elements import ColumnElement

from mappings.errors import InputError

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "Page",
    "decode_cursor",
    "encode_cursor",
    "keyset_page",
    "parse_limit",
]

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
MAX_CURSOR_CHARS = 1000

T = TypeVar("T")
Scalar = str | int | float | bool | datetime | None


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a list, and the cursor of the next (None on the last page); ``total``
    is how many rows the whole list has, where the caller asked for it."""

    items: list[T]
    next_cursor: str | None
    total: int | None = None


def _encode_value(value: Scalar) -> Any:
    if isinstance(value, datetime):
        return {"t": value.isoformat()}
    return value


def _decode_value(value: Any) -> Scalar:
    if isinstance(value, dict):
        raw = value.get("t")
        if not isinstance(raw, str):
            raise ValueError("bad time")
        return datetime.fromisoformat(raw)
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise ValueError("bad value")


def encode_cursor(kind: str, values: Sequence[Scalar]) -> str:
    """The opaque cursor after a row with ``values`` in the list ``kind``."""
    doc = {"k": kind, "v": [_encode_value(v) for v in values]}
    raw = json.dumps(doc, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(kind: str, cursor: str, width: int) -> list[Scalar]:
    """The row values a cursor of list ``kind`` names; ``InputError`` on ``cursor`` for
    anything else."""
    bad = InputError("not a cursor of this list; pass next_cursor from the last page", "cursor")
    if len(cursor) > MAX_CURSOR_CHARS:
        raise bad
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        doc = json.loads(raw)
        if not isinstance(doc, dict) or doc.get("k") != kind:
            raise ValueError("another list")
        values = doc.get("v")
        if not isinstance(values, list) or len(values) != width:
            raise ValueError("bad width")
        return [_decode_value(v) for v in values]
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise bad from None


def parse_limit(raw: str | None) -> int:
    """A page size from a query parameter: 1 to ``MAX_LIMIT``, ``DEFAULT_LIMIT`` when absent."""
    if raw is None or raw == "":
        return DEFAULT_LIMIT
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise InputError(f"must be a whole number from 1 to {MAX_LIMIT}", "limit")
    return int(raw)


def _after(
    keys: Sequence[InstrumentedAttribute[Any]], values: Sequence[Scalar], descending: bool
) -> ColumnElement[bool]:
    """Rows strictly after ``values`` in the order of ``keys``: (a, b) < (x, y) spelled
    out, so that it works on every database."""
    clauses: list[ColumnElement[bool]] = []
    for i, key in enumerate(keys):
        equal = [keys[j] == values[j] for j in range(i)]
        beyond = key < values[i] if descending else key > values[i]
        clauses.append(and_(*equal, beyond))
    return or_(*clauses)


def keyset_page(
    session: Session,
    query: Select[T],
    kind: str,
    keys: Sequence[InstrumentedAttribute[Any]],
    *,
    limit: int,
    cursor: str | None,
    descending: bool = True,
) -> Page[T]:
    """One page of ``query`` (which selects one entity) ordered by ``keys``, the last of
    which is unique; ``descending`` is newest-first for time keys."""
    if cursor:
        query = query.where(_after(keys, decode_cursor(kind, cursor, len(keys)), descending))
    order = [k.desc() if descending else k.asc() for k in keys]
    rows = list(session.scalars(query.order_by(*order).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = None
    if more and rows:
        last = rows[-1]
        next_cursor = encode_cursor(kind, [getattr(last, k.key) for k in keys])
    return Page(rows, next_cursor)
