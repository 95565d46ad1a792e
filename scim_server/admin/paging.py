"""Paging, natural sorting and the links of the admin pages' lists: page numbers for a
list already in memory (``pager``), Next and First for a list read a page at a time by
keyset from the database (``keyset_pager``, ``sync.listings``), and the filters of the
audit and runs pages."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from flask import request, url_for

from mappings.errors import InputError
from sync.paging import Page

__all__ = [
    "AuditFilter",
    "KeysetPager",
    "Pager",
    "RunFilter",
    "keyset_pager",
    "natural_key",
    "page_number",
    "pager",
]

T = TypeVar("T")

_DIGITS = re.compile(r"(\d+)")


def natural_key(text: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key putting person2 before person10: digit runs compare as numbers."""
    return tuple(
        (0, int(part)) if part.isdigit() else (1, part.casefold())
        for part in _DIGITS.split(text)
        if part
    )


def page_number() -> int:
    """The ``page`` query parameter (1 when missing or not a small positive number)."""
    raw = request.args.get("page", "1")
    return int(raw) if raw.isdigit() and 0 < len(raw) < 7 and int(raw) > 0 else 1


@dataclass(frozen=True, slots=True)
class Pager:
    """Where a page sits in its list: rows ``first..last`` of ``total``."""

    number: int
    size: int
    total: int
    shown: int

    @property
    def offset(self) -> int:
        """Rows before this page."""
        return (self.number - 1) * self.size

    @property
    def first(self) -> int:
        """The first row's position (1-based), 0 when the page is empty."""
        return self.offset + 1 if self.shown else 0

    @property
    def last(self) -> int:
        """The last row's position."""
        return self.offset + self.shown

    @property
    def pages(self) -> int:
        """How many pages the list has."""
        return max(1, -(-self.total // self.size))

    def url(self, number: int) -> str:
        """This page's URL with another page number (the other arguments kept)."""
        args: dict[str, Any] = {k: v for k, v in request.args.items() if k != "page"}
        args.update(request.view_args or {})
        args["page"] = number
        assert request.endpoint is not None
        return url_for(request.endpoint, **args)


def pager(items: Sequence[T], size: int) -> tuple[list[T], Pager]:
    """One page of ``items`` (already filtered and sorted) and its pager."""
    number = page_number()
    total = len(items)
    pages = max(1, -(-total // size))
    number = min(number, pages)
    start = (number - 1) * size
    rows = list(items[start : start + size])
    return rows, Pager(number, size, total, len(rows))


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """What the audit page narrows to; empty fields match everything."""

    op: str = ""
    actor: str = ""  # contained in the actor
    user: str = ""  # contained in the user's email
    since: datetime | None = None
    until: datetime | None = None

    def listing(self) -> dict[str, Any]:
        """The filters as ``sync.listings.audit_page`` and ``audit_rows`` take them."""
        return {
            "op": self.op or None,
            "actor_contains": self.actor or None,
            "user_contains": self.user or None,
            "since": self.since,
            "until": self.until,
        }


@dataclass(frozen=True, slots=True)
class RunFilter:
    """What the runs page narrows to."""

    trigger: str = ""  # contained in the trigger
    outcome: str = ""
    with_empty: bool = False  # runs that found nothing to do


@dataclass(frozen=True, slots=True)
class KeysetPager:
    """Where a page read by keyset sits: rows ``first..last`` of ``total``; Next carries
    the opaque cursor of the page's last row, and the row count reached so far."""

    start: int  # the first row's position, 1-based
    shown: int
    total: int
    next_cursor: str | None

    @property
    def first(self) -> int:
        """The first row's position, 0 when the page is empty."""
        return self.start if self.shown else 0

    @property
    def last(self) -> int:
        """The last row's position."""
        return self.start + self.shown - 1 if self.shown else 0

    @property
    def next_url(self) -> str | None:
        """The next page's URL (the filters kept), None on the last page."""
        if self.next_cursor is None:
            return None
        return _url_with(cursor=self.next_cursor, at=self.start + self.shown)

    @property
    def first_url(self) -> str | None:
        """The first page's URL, None on the first page."""
        return None if self.start == 1 else _url_with()


def _url_with(**paging: Any) -> str:
    args: dict[str, Any] = {k: v for k, v in request.args.items() if k not in ("cursor", "at")}
    args.update(request.view_args or {})
    args.update(paging)
    assert request.endpoint is not None
    return url_for(request.endpoint, **args)


def keyset_pager(read: Callable[[str | None], Page[T]]) -> tuple[Page[T], KeysetPager]:
    """The page the request's ``cursor`` names (the first page for none, or for a cursor
    that is not this list's, say an old bookmark) and its pager; ``read(cursor)`` reads a
    page with its total."""
    cursor = request.args.get("cursor") or None
    raw = request.args.get("at", "1")
    start = int(raw) if raw.isdigit() and 0 < len(raw) < 10 and int(raw) > 0 else 1
    try:
        page = read(cursor)
    except InputError as e:
        if e.where != "cursor":
            raise
        page, start = read(None), 1
    if cursor is None:
        start = 1
    return page, KeysetPager(start, len(page.items), page.total or 0, page.next_cursor)
