"""The completeness gate on pure directories."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mappings.completeness import DropLimit, GateVerdict, Suspicion, check_snapshot
from mappings.directory import Directory, DirectoryGroup, DirectoryUser, GroupMember
from mappings.errors import InputError
from mappings.mapping import RoleMapping, parse_mapping


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


def _mapping(*rules: dict[str, str], scope: tuple[str, ...] = (), drop: str = "20%") -> RoleMapping:
    doc = {
        "role_model": "generic",
        "rules": [{**r, "org_role": "admin"} for r in rules],
        "policy": {"max_group_drop": drop},
    }
    if scope:
        doc["scope"] = {"groups": list(scope)}
    return parse_mapping(doc)


def _named(groups: dict[tuple[str, str], list[int]]) -> Directory:
    """Twenty users and groups keyed by (id, display name)."""
    users = tuple(DirectoryUser(id=f"u{i}", user_name=f"u{i}@acme.com") for i in range(20))
    return Directory(
        users=users,
        groups=tuple(
            DirectoryGroup(
                id=gid, display_name=name, members=tuple(GroupMember(f"u{i}") for i in m)
            )
            for (gid, name), m in groups.items()
        ),
    )


ADMINS = _mapping({"group": "Admins"}, scope=("Staff",))
BEFORE = _named({("g1", "Admins"): list(range(10)), ("g2", "Staff"): list(range(20))})


def test_a_mapped_group_that_disappears_is_suspicious_and_an_unmapped_one_is_not() -> None:
    """Admins (a rule's group) gone: held; an unmapped group gone: nothing to say."""
    verdict = check_snapshot(
        BEFORE, _named({("g2", "Staff"): list(range(20))}), TEN_PERCENT, ADMINS
    )
    assert verdict.suspicions == (
        Suspicion(
            "deleted_group",
            "mapped group 'Admins' (10 members) disappeared from the directory",
            "Admins",
            10,
            0,
        ),
    )
    other = _mapping({"group": "Other"})
    assert check_snapshot(BEFORE, _named({("g2", "Staff"): list(range(20))}), TEN_PERCENT, other).ok


def test_a_renamed_mapped_group_no_longer_matches_and_is_suspicious() -> None:
    """Rules match by name: the scope group renamed would take everyone out of scope."""
    after = _named({("g1", "Admins"): list(range(10)), ("g2", "Staff (old)"): list(range(20))})
    verdict = check_snapshot(BEFORE, after, TEN_PERCENT, ADMINS)
    assert [(s.kind, s.group, s.before, s.after) for s in verdict.suspicions] == [
        ("renamed_group", "Staff", 20, 20)
    ]
    assert "was renamed to 'Staff (old)'" in verdict.summary()


def test_a_group_selected_by_id_or_by_a_pattern_may_be_renamed() -> None:
    """A rename the selector still matches takes nothing from anyone."""
    after = _named({("g1", "Admins EU"): list(range(10)), ("g2", "Staff"): list(range(20))})
    assert check_snapshot(BEFORE, after, TEN_PERCENT, _mapping({"group": "id:g1"})).ok
    assert check_snapshot(BEFORE, after, TEN_PERCENT, _mapping({"match": "^Admins"})).ok


def test_a_mapped_group_losing_more_than_its_share_is_suspicious() -> None:
    """Staff 20 -> 14 (30%, 6 people) is past 20%; 20 -> 15 (25%, 5) past it too; 20 -> 16
    (20%) is within it; a drop of fewer than five members never counts."""

    def staff(n: int) -> Directory:
        return _named({("g1", "Admins"): list(range(10)), ("g2", "Staff"): list(range(n))})

    verdict = check_snapshot(BEFORE, staff(14), TEN_PERCENT, ADMINS)
    assert verdict.summary() == (
        "mapped group 'Staff' lost 6 of its 20 members (30%, more than the limit of 20%)"
    )
    assert not check_snapshot(BEFORE, staff(15), TEN_PERCENT, ADMINS).ok
    assert check_snapshot(BEFORE, staff(16), TEN_PERCENT, ADMINS).ok
    small = _named({("g1", "Admins"): [1, 2, 3, 4], ("g2", "Staff"): list(range(20))})
    three_gone = _named({("g1", "Admins"): [1], ("g2", "Staff"): list(range(20))})
    assert check_snapshot(small, three_gone, TEN_PERCENT, ADMINS).ok
    assert check_snapshot(
        BEFORE, staff(14), TEN_PERCENT, _mapping({"group": "Admins"}, drop="50%")
    ).ok
