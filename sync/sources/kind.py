"""What a pulled source kind declares about itself: its name, the settings it reads
(which are required, which are switches), what its one secret is, and how to build it.

Each source module declares one ``KIND``; ``sync.sources.registry`` lists them, and the
factory, the catalog, the mirror and ``rolebridge source add`` read the registry."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sync.sources.base import Bounds, RetryPolicy, Source

__all__ = ["Builder", "ConfigField", "SourceKind"]

Builder = Callable[[Mapping[str, Any], str, "RetryPolicy | None", Bounds], Source]
"""(config, resolved secret, retry policy, bounds) -> a ready source; a bad setting
raises ``TypeError`` or ``ValueError`` (reported as a configuration error)."""


@dataclass(frozen=True, slots=True)
class ConfigField:
    """One setting of a source kind, as stored in ``sources.config``.

    ``option`` is the command line's option (default: ``--`` and the name with dashes);
    ``flag`` makes it a switch (stored as true or false)."""

    name: str
    help: str
    required: bool = False
    flag: bool = False
    option: str | None = None

    @property
    def option_name(self) -> str:
        """The command line's option for this setting."""
        return self.option or "--" + self.name.replace("_", "-")


def _as_given(config: dict[str, Any]) -> dict[str, Any]:
    return config


@dataclass(frozen=True, slots=True)
class SourceKind:
    """A pulled source kind.

    ``summary`` is one line for people (``source add <kind> --help``) and says what the
    secret is; ``settle`` completes the settings given (say, which way to authenticate,
    from the settings present) before they are stored."""

    name: str
    summary: str
    fields: tuple[ConfigField, ...]
    build: Builder
    settle: Callable[[dict[str, Any]], dict[str, Any]] = _as_given

    def missing(self, config: Mapping[str, Any]) -> list[str]:
        """The required settings ``config`` lacks."""
        return [f.name for f in self.fields if f.required and config.get(f.name) in (None, "")]
