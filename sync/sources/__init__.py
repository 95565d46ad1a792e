"""Pull sources: Okta, Microsoft Graph and any SCIM 2.0 server, behind one interface."""

from __future__ import annotations

from sync.sources.base import (
    ConfigurationSourceError,
    RetryPolicy,
    Snapshot,
    SnapshotError,
    Source,
    SourceError,
    TransientSourceError,
)

__all__ = [
    "ConfigurationSourceError",
    "RetryPolicy",
    "Snapshot",
    "SnapshotError",
    "Source",
    "SourceError",
    "TransientSourceError",
]
