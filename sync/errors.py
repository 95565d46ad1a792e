"""Errors of the shell's stores. Each message is one line a user can act on.

RolebridgeError (mappings.errors)
 +-- StoreError            a request the database state does not allow
      +-- Refused          a rule of the role model refused a change (``reason``: a skip reason)
      +-- Forbidden        the caller's role does not manage what it asks for
      +-- NotFound         no such org, workspace, member, plan or token
      +-- Conflict         the name or email is taken
      +-- LimitError       the org's plan or credits do not allow it
      +-- PlanError        a plan cannot be applied as it is (names the operation)
           +-- StalePlan   the inputs changed since the plan was made
      +-- StaleVersion     a save was made from a version that is no longer the newest
"""

from __future__ import annotations

from mappings.errors import RolebridgeError

__all__ = [
    "Conflict",
    "Forbidden",
    "LimitError",
    "NotFound",
    "PlanError",
    "Refused",
    "StalePlan",
    "StaleVersion",
    "StoreError",
]


class StoreError(RolebridgeError):
    """A request the database state does not allow."""


class Refused(StoreError):
    """A rule of the role model refused a change, which changed nothing. ``reason`` is the
    plan's skip reason (``mappings.operations.SkipReason``: ``not_permitted``,
    ``last_owner``...), ``field`` the input it is about."""

    def __init__(self, reason: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.field = field


class NotFound(StoreError, LookupError):
    """No such org, workspace, member, plan, source or token; ``field`` names the input."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class Forbidden(StoreError):
    """The caller's role does not manage what it asks for; ``field`` names the input."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class Conflict(StoreError, ValueError):
    """The name or email is taken, or the thing is busy; ``field`` names the input."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class LimitError(StoreError):
    """The org's commercial plan or credit pool does not allow it; ``field`` names the input."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class PlanError(StoreError):
    """A plan cannot be applied as it is."""


class StalePlan(PlanError):
    """The plan's fingerprint no longer matches the current inputs."""


class StaleVersion(StoreError):
    """A save was made from a version that is no longer the newest; ``current`` is it."""

    def __init__(self, message: str, current: int) -> None:
        super().__init__(message)
        self.current = current
