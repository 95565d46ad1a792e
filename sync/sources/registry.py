"""The pulled source kinds: the one list the factory (``build_source``), the catalog
(``pulled_sources``), the source services (``editable_settings``), the mirror
(``SOURCE_KINDS``), the scheduler and ``rolebridge source add`` read. Adding an IdP is
its module (declaring ``KIND``, see ``sync.sources.kind``), one line here, its fake and
its tests (CONTRIBUTING.md)."""

from __future__ import annotations

from sync.sources import graph, okta, scimpull
from sync.sources.kind import SourceKind

__all__ = ["KINDS", "PULL_KINDS", "find_kind"]

KINDS: dict[str, SourceKind] = {k.name: k for k in (okta.KIND, graph.KIND, scimpull.KIND)}
PULL_KINDS: tuple[str, ...] = tuple(KINDS)


def find_kind(name: str) -> SourceKind | None:
    """The pulled kind called ``name``, if there is one."""
    return KINDS.get(name)
