"""SCIM input past the documented limits: a 400 naming the attribute, and nothing stored.

Each ran into PostgreSQL (a value longer than its column, an offset past bigint) or
Python's parsers (recursion, a filter of 150,000 terms) and answered 500 before.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
from werkzeug.test import TestResponse

from scim_server.ops.limits import FILTER_LENGTH_MAX, FILTER_TERMS_MAX, JSON_DEPTH_MAX
from tests.e2e.conftest import SCIM, Scim, group, user

SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"


def _refused(r: TestResponse, attribute: str, scim_type: str = "invalidValue") -> None:
    assert r.status_code == 400, r.get_data(as_text=True)
    assert r.json is not None
    assert (r.json["scimType"], r.json["detail"].split(":")[0]) == (scim_type, attribute)


def _count(scim: Scim, resource: str) -> int:
    listed = scim.get(f"/{resource}")
    assert listed.json is not None
    return int(listed.json["totalResults"])


def _long_email(user_name: str) -> dict[str, Any]:
    return {**user(user_name), "emails": [{"value": "e" * 10_000 + "@x.com", "primary": True}]}


@pytest.mark.parametrize(
    ("resource", "body", "attribute"),
    [
        ("Users", user("u" * 315 + "@x.com"), "userName"),
        ("Users", user("ext@x.com", externalId="e" * 256), "externalId"),
        ("Users", user("dn@x.com", displayName="d" * 321), "displayName"),
        ("Users", _long_email("mail@x.com"), "emails"),
        ("Groups", group("g" * 401), "displayName"),
        ("Groups", {**group("Team"), "externalId": "e" * 256}, "externalId"),
    ],
)
def test_a_value_longer_than_its_column_is_a_400_naming_the_attribute(
    scim: Scim, resource: str, body: dict[str, Any], attribute: str
) -> None:
    """userName > 320, externalId > 255, displayName > 320/400, a 10k email: 400, nothing stored."""
    _refused(scim.post(f"/{resource}", body), attribute)
    assert _count(scim, resource) == 0


def test_values_at_the_limits_are_stored(scim: Scim) -> None:
    """A 320-character userName, 255-character externalId and 400-character group name fit."""
    name = "u" * 314 + "@x.com"
    created = scim.post("/Users", user(name, externalId="e" * 255))
    assert created.status_code == 201, created.json
    assert scim.post("/Groups", group("g" * 400)).status_code == 201


def test_a_put_or_patch_past_a_column_changes_nothing(scim: Scim) -> None:
    """Replacing or patching userName with 321 characters is refused; the user keeps its name."""
    created = scim.post("/Users", user("ann@x.com"))
    assert created.json is not None
    path = f"/Users/{created.json['id']}"
    too_long = "a" * 315 + "@x.com"
    _refused(scim.put(path, user(too_long)), "userName")
    patch = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "userName", "value": too_long}],
    }
    _refused(scim.patch(path, patch), "userName")
    after = scim.get(path)
    assert after.json is not None and after.json["userName"] == "ann@x.com"


def test_a_group_member_display_past_its_column_is_refused(scim: Scim) -> None:
    """A members PATCH whose display is longer than 400 characters changes nothing."""
    member = scim.post("/Users", user("m@x.com"))
    team = scim.post("/Groups", group("Team"))
    assert member.json is not None and team.json is not None
    patch = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [
            {
                "op": "add",
                "path": "members",
                "value": [{"value": member.json["id"], "display": "d" * 401}],
            }
        ],
    }
    _refused(scim.patch(f"/Groups/{team.json['id']}", patch), "members.display")
    after = scim.get(f"/Groups/{team.json['id']}")
    assert after.json is not None and not after.json.get("members")


@pytest.mark.parametrize("name", ["startIndex", "count"])
def test_paging_past_the_integer_range_is_a_400_naming_the_parameter(scim: Scim, name: str) -> None:
    """startIndex or count of 2**64 (by GET and by POST .search) is refused, not sent to SQL."""
    scim.post("/Users", user("ann@x.com"))
    _refused(scim.get(f"/Users?{name}=18446744073709551616"), name)
    body = {"schemas": [SEARCH], name: 18446744073709551616}
    _refused(scim.post("/Users/.search", body), name)
    assert scim.get(f"/Users?{name}=2").status_code == 200


def test_a_filter_of_150000_terms_is_refused_before_it_is_parsed(scim: Scim) -> None:
    """Too long a filter, or too many comparisons in a short one: 400 tooMany naming filter."""
    huge = " or ".join(f'userName eq "u{i}"' for i in range(150_000))
    _refused(scim.get(f"/Users?filter={quote(huge)}"), "filter", "tooMany")
    many = " or ".join(f"id eq {i}" for i in range(FILTER_TERMS_MAX + 1))
    assert len(many) < FILTER_LENGTH_MAX
    _refused(scim.get(f"/Users?filter={quote(many)}"), "filter", "tooMany")
    _refused(
        scim.post("/Users/.search", {"schemas": [SEARCH], "filter": many}), "filter", "tooMany"
    )
    at_limit = " or ".join(f'userName eq "u{i}"' for i in range(FILTER_TERMS_MAX))
    assert scim.post("/Users/.search", {"schemas": [SEARCH], "filter": at_limit}).status_code == 200


def test_json_nested_a_thousand_deep_is_a_400(scim: Scim) -> None:
    """A body nested 1,000 deep is refused before it is parsed; one at the limit is parsed."""
    headers = {"Authorization": f"Bearer {scim.token}", "Content-Type": SCIM}
    deep = '{"a":' * 1000 + "1" + "}" * 1000
    r = scim.client.post("/scim/v2/Users", data=deep, headers=headers)
    assert r.status_code == 400 and r.json is not None
    assert "nested deeper" in r.json["detail"]
    nested = "[" * (JSON_DEPTH_MAX - 1) + "]" * (JSON_DEPTH_MAX - 1)
    body = '{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "n@x.com", '
    within = scim.client.post("/scim/v2/Users", data=body + f'"x": {nested}}}', headers=headers)
    assert within.status_code == 201, within.json
    assert _count(scim, "Users") == 1


def test_a_patch_path_filter_past_the_filter_limits_is_refused(scim: Scim) -> None:
    """A members[...] path of 201 comparisons is 400 tooMany naming the path; nothing changes."""
    team = scim.post("/Groups", group("Team"))
    assert team.json is not None
    terms = " or ".join(f'value eq "{i}"' for i in range(FILTER_TERMS_MAX + 1))
    patch = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "remove", "path": f"members[{terms}]"}],
    }
    _refused(scim.patch(f"/Groups/{team.json['id']}", patch), "path", "tooMany")
