"""The completeness gate: is a new directory snapshot safe enough to drive removals?

A pull that fetched every page can still be wrong (an IdP glitch, a filter changed on the
IdP side, an app unassigned). Compared with the previous snapshot of the same source, these
signs make it *suspicious*: a group that had members and now has none, a drop in active
users beyond the limit, and a group the mapping selects (by a rule or its scope) that
disappeared, no longer matches (renamed: rules match by name) or lost more than the
policy's ``max_group_drop`` of its members. A suspicious snapshot is held, with no
removals, until an admin forces it. This check is separate from the plan's
``max_removals``.
"""

from __future__ import annotations

from dataclasses import dataclass

from mappings.directory import Directory, DirectoryGroup
from mappings.errors import InputError
from mappings.mapping import RoleMapping
from mappings.resolve import selected_groups

__all__ = ["GROUP_DROP_FLOOR", "DropLimit", "GateVerdict", "Suspicion", "check_snapshot"]

# A mapped group losing fewer members than this in one pull is never suspicious, whatever
# the share: small groups change by a person or two without looking truncated.
GROUP_DROP_FLOOR = 5


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
    """One reason a snapshot looks truncated. ``kind``: ``emptied_group``, ``user_drop``,
    ``deleted_group``, ``renamed_group`` or ``group_drop``; ``group`` names the group and
    ``before``/``after`` count its members (or the active users)."""

    kind: str
    detail: str
    group: str | None = None
    before: int | None = None
    after: int | None = None


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


def check_snapshot(
    previous: Directory | None,
    new: Directory,
    limit: DropLimit,
    mapping: RoleMapping | None = None,
) -> GateVerdict:
    """Compare ``new`` with the ``previous`` snapshot of the same source; ``mapping`` adds
    the checks of the groups it selects."""
    if previous is None or not previous.users:
        return GateVerdict()  # the first snapshot has nothing to be compared with
    found: list[Suspicion] = []
    now = {g.id: g for g in new.groups}
    for group in sorted(previous.groups, key=lambda g: g.display_name.casefold()):
        after = now.get(group.id)
        if group.members and after is not None and not after.members:
            name, size = after.display_name, len(group.members)
            detail = f"group {name!r} had {size} members and now has none"
            found.append(Suspicion("emptied_group", detail, name, size, 0))
    if mapping is not None:
        found += _mapped_groups(previous, new, mapping)
    before_count = sum(1 for u in previous.users if u.active)
    after_count = sum(1 for u in new.users if u.active)
    if not limit.allows(before_count, after_count):
        found.append(
            Suspicion(
                "user_drop",
                f"active users dropped from {before_count} to {after_count} "
                f"(more than the limit of {limit})",
                before=before_count,
                after=after_count,
            )
        )
    return GateVerdict(tuple(found))


def _mapped_groups(previous: Directory, new: Directory, mapping: RoleMapping) -> list[Suspicion]:
    """Suspicions about the groups ``mapping`` selected in ``previous``."""
    was, still = selected_groups(previous, mapping), selected_groups(new, mapping)
    now = {g.id: g for g in new.groups}
    share = mapping.policy.group_drop_percent()
    found: list[Suspicion] = []
    for group in sorted(previous.groups, key=lambda g: g.display_name.casefold()):
        size, after = len(set(group.members)), now.get(group.id)
        if group.id not in was or not size:
            continue  # nobody holds a role through it
        name = group.display_name
        if after is None:
            detail = f"mapped group {name!r} ({size} members) disappeared from the directory"
            found.append(Suspicion("deleted_group", detail, name, size, 0))
        elif group.id not in still:
            found.append(_unmatched(group, after, size))
        elif after.members and share is not None:
            drop = _drop(name, size, len(set(after.members)), share)
            found += [drop] if drop else []
    return found


def _unmatched(group: DirectoryGroup, after: DirectoryGroup, size: int) -> Suspicion:
    name, new_name = group.display_name, after.display_name
    how = f"was renamed to {new_name!r}" if new_name != name else "changed"
    detail = f"mapped group {name!r} ({size} members) {how} and no rule or scope selects it now"
    return Suspicion("renamed_group", detail, name, size, len(set(after.members)))


def _drop(name: str, before: int, after: int, share: float) -> Suspicion | None:
    lost = before - after
    if lost < GROUP_DROP_FLOOR or lost * 100 <= share * before:
        return None
    percent = lost * 100 // before
    detail = (
        f"mapped group {name!r} lost {lost} of its {before} members ({percent}%, "
        f"more than the limit of {share:g}%)"
    )
    return Suspicion("group_drop", detail, name, before, after)
