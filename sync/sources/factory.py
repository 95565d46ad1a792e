"""Build a source object from a ``sources`` row's kind, config and (resolved) secret,
through the kind's own builder (``sync.sources.registry``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sync.sources.base import Bounds, ConfigurationSourceError, RetryPolicy, Source
from sync.sources.registry import PULL_KINDS, find_kind

__all__ = ["PULL_KINDS", "build_source"]


def build_source(
    kind: str, config: Mapping[str, Any], secret: str, retry: RetryPolicy | None = None
) -> Source:
    """A ready source; unknown kinds and bad settings are configuration errors.

    Every kind reads its run's bounds from the same settings: ``connect_timeout``,
    ``read_timeout``, ``body_timeout``, ``deadline`` (seconds) and ``max_pages``.
    """
    found = find_kind(kind)
    if found is None:
        raise ConfigurationSourceError(
            f"source kind {kind!r} cannot be pulled; expected one of {', '.join(PULL_KINDS)}"
        )
    try:
        return found.build(config, secret, retry, Bounds.from_config(config))
    except (TypeError, ValueError) as exc:
        raise ConfigurationSourceError(f"bad {kind} settings: {exc}") from None
