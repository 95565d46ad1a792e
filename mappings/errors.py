"""Errors of the pure core.

    RolebridgeError
     +-- InputError          a file or document is malformed (``where`` names the place)
          +-- MappingError   a mapping rule or policy is invalid (rule index and field)
          +-- RoleModelError a role model is inconsistent or unknown

Every error carries a one-line message that names the place; the edges (CLI, SCIM,
admin API) translate them once.
"""

from __future__ import annotations

__all__ = ["InputError", "MappingError", "RoleModelError", "RolebridgeError"]


class RolebridgeError(Exception):
    """Base of every error rolebridge raises on purpose."""


class InputError(RolebridgeError):
    """A document is malformed; ``where`` is a path such as ``users[3].userName``."""

    def __init__(self, message: str, where: str = "") -> None:
        super().__init__(f"{where}: {message}" if where else message)
        self.message = message
        self.where = where


class MappingError(InputError):
    """A mapping is invalid; ``where`` reads like ``rules[2].org_role``."""


class RoleModelError(InputError):
    """A role model is unknown or inconsistent."""
