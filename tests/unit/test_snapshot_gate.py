"""The completeness gate on pure directories."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mappings.directory import Directory, DirectoryGroup, DirectoryUser, GroupMember
from mappings.errors import InputError
from mappings.snapshot import DropLimit, GateVerdict, Suspicion, check_snapshot


def _dir(n_users: int, groups: dict[str, list[int]], inactive: tuple[int, ...] = ()) -> Directory:
    users = tuple(
        DirectoryUser(id=f"u{i}", user_name=f"u{i}@acme.com", active=i not in inactive)
        for i in range(n_users)
    )
    return Directory(
        users=users,
        groups=tuple(
            DirectoryGroup(
                id=name, display_name=name, members=tuple(GroupMember(f"u{i}") for i in m)
            )
            for name, m in groups.items()
        ),
    )


TEN_PERCENT = DropLimit.parse("10%")


def test_the_first_snapshot_of_a_source_is_never_suspicious() -> None:
    """With nothing to compare against, the gate lets it through."""
    assert check_snapshot(None, _dir(0, {"Admins": []}), TEN_PERCENT) == GateVerdict()


def test_a_group_that_had_members_and_now_has_none_is_suspicious() -> None:
    """An emptied group is named with its previous size."""
    before = _dir(20, {"Admins": [1, 2, 3], "Staff": [4]})
    after = _dir(20, {"Admins": [], "Staff": [4]})
    assert check_snapshot(before, after, TEN_PERCENT) == GateVerdict(
        (
            Suspicion(
                "emptied_group", "group 'Admins' had 3 members and now has none", "Admins", 3, 0
            ),
        )
    )


def test_a_deleted_group_or_a_group_that_was_already_empty_is_not_suspicious() -> None:
    """Only the step from some members to none counts."""
    before = _dir(20, {"Gone": [1], "Empty": []})
    assert check_snapshot(before, _dir(20, {"Empty": []}), TEN_PERCENT).ok


def test_a_user_drop_beyond_the_limit_is_suspicious_and_within_it_is_not() -> None:
    """20 -> 18 active users is 10% (allowed); 20 -> 17 is 15% (held)."""
    assert check_snapshot(_dir(20, {}), _dir(18, {}), TEN_PERCENT).ok
    verdict = check_snapshot(_dir(20, {}), _dir(17, {}), TEN_PERCENT)
    assert verdict.summary() == "active users dropped from 20 to 17 (more than the limit of 10%)"


def test_deactivated_users_count_as_a_drop() -> None:
    """Users still listed but deactivated en masse are as dangerous as missing ones."""
    verdict = check_snapshot(_dir(10, {}), _dir(10, {}, inactive=(1, 2, 3)), DropLimit.parse(2))
    assert [s.kind for s in verdict.suspicions] == ["user_drop"]


def test_a_bad_limit_is_an_input_error_naming_the_setting() -> None:
    """Limits are a percentage or a count."""
    for bad in ("lots", "150%", "-1"):
        with pytest.raises(InputError, match="max_user_drop"):
            DropLimit.parse(bad)


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 200), st.integers(0, 200), st.integers(0, 100))
def test_a_percentage_limit_allows_exactly_the_drops_within_it(
    before: int, after: int, percent: int
) -> None:
    """allows() agrees with the arithmetic definition for any counts."""
    limit = DropLimit.parse(f"{percent}%")
    assert limit.allows(before, after) == (before - after <= before * percent / 100)
