"""Paging, natural sorting and the page-number links of the admin pages' lists."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import request, url_for

__all__ = ["Pager", "natural_key", "page_number", "pager"]

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
