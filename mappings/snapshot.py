"""The completeness gate: is a new directory snapshot safe enough to drive removals?

A pull that fetched every page can still be wrong (an IdP glitch, a filter changed on the
IdP side, an app unassigned). Compared with the previous snapshot of the same source, two
signs make it *suspicious*: a group that had members and now has none, and a drop in
active users beyond the limit. A suspicious snapshot is held, with no removals, until an
admin forces it. This check is separate from the plan's ``max_removals``.
"""

from __future__ import annotations

from dataclasses import dataclass

from mappings.directory import Directory
from mappings.errors import InputError

__all__ = ["DropLimit", "GateVerdict", "Suspicion", "check_snapshot"]


@dataclass(frozen=True, slots=True)
class DropLimit:
    """How many active users may disappear between two snapshots: a count or a percentage."""

    value: float
    percent: bool = True

    @classmethod
    def parse(cls, text: str | int) -> DropLimit:
        """``"10%"`` or ``25`` (an absolute number of users)."""
        raw = str(text).strip()
        try:
            if raw.endswith("%"):
                number = float(raw[:-1])
                if not 0 <= number <= 100:
                    raise ValueError(raw)
                return cls(number, percent=True)
            count = int(raw)
            if count < 0:
                raise ValueError(raw)
            return cls(float(count), percent=False)
        except ValueError:
            raise InputError(
                f"must be a percentage like '10%' or a user count, not {raw!r}", "max_user_drop"
            ) from None

    def allows(self, before: int, after: int) -> bool:
        """True when going from ``before`` to ``after`` active users stays within the limit."""
        dropped = before - after
        if dropped <= 0:
            return True
        if self.percent:
            return dropped * 100 <= self.value * before
        return dropped <= self.value

    def __str__(self) -> str:
        return f"{self.value:g}%" if self.percent else f"{int(self.value)} users"


@dataclass(frozen=True, slots=True)
class Suspicion:
    """One reason a snapshot looks truncated; ``kind`` is ``emptied_group`` or ``user_drop``."""

    kind: str
    detail: str


@dataclass(frozen=True, slots=True)
class GateVerdict:
    """The gate's answer: no suspicions means the snapshot may drive removals."""

    suspicions: tuple[Suspicion, ...] = ()

    @property
    def ok(self) -> bool:
        """True when nothing looks truncated."""
        return not self.suspicions

    def summary(self) -> str:
        """One line naming every suspicion."""
        return "; ".join(s.detail for s in self.suspicions)


def check_snapshot(previous: Directory | None, new: Directory, limit: DropLimit) -> GateVerdict:
    """Compare ``new`` with the ``previous`` snapshot of the same source."""
    if previous is None or not previous.users:
        return GateVerdict()  # the first snapshot has nothing to be compared with
    found: list[Suspicion] = []
    now = {g.id: g for g in new.groups}
    for group in sorted(previous.groups, key=lambda g: g.display_name.casefold()):
        after = now.get(group.id)
        if group.members and after is not None and not after.members:
            detail = f"group {after.display_name!r} had {len(group.members)} members"
            found.append(Suspicion("emptied_group", f"{detail} and now has none"))
    before_count = sum(1 for u in previous.users if u.active)
    after_count = sum(1 for u in new.users if u.active)
    if not limit.allows(before_count, after_count):
        found.append(
            Suspicion(
                "user_drop",
                f"active users dropped from {before_count} to {after_count} "
                f"(more than the limit of {limit})",
            )
        )
    return GateVerdict(tuple(found))
