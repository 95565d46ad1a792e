"""Every member form Okta and Entra document for a group PATCH is accepted.

Each case is one documented request shape (developer.okta.com "Okta and SCIM Version
2.0", Update Group membership / Update Group name; learn.microsoft.com "Tutorial: Develop
and plan provisioning for a SCIM endpoint in Microsoft Entra ID", Group operations),
sent to a group holding users A and B; the group's members afterwards are what the
client meant.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import Scim, group, user

PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"

# name -> (operations, with {A}, {B}, {C} for the users' ids, members expected after)
FORMS: dict[str, tuple[list[dict[str, Any]], set[str]]] = {
    "okta add, value objects with display": (
        [{"op": "add", "path": "members", "value": [{"value": "{C}", "display": "c@acme.com"}]}],
        {"A", "B", "C"},
    ),
    "okta remove, filtered path": (
        [{"op": "remove", "path": 'members[value eq "{A}"]'}],
        {"B"},
    ),
    "okta replace, path-less id and displayName (a rename keeps the members)": (
        [{"op": "replace", "value": {"id": "{G}", "displayName": "Renamed"}}],
        {"A", "B"},
    ),
    "okta replace, members path": (
        [{"op": "replace", "path": "members", "value": [{"value": "{C}", "display": "c"}]}],
        {"C"},
    ),
    "entra add, $ref null": (
        [{"op": "Add", "path": "members", "value": [{"$ref": None, "value": "{C}"}]}],
        {"A", "B", "C"},
    ),
    "entra remove, $ref null": (
        [{"op": "Remove", "path": "members", "value": [{"$ref": None, "value": "{A}"}]}],
        {"B"},
    ),
    "entra remove members, displayName beside value": (
        [{"op": "Remove", "path": "members", "value": [{"displayName": "a", "value": "{A}"}]}],
        {"B"},
    ),
    "entra add members, displayName beside value": (
        [{"op": "Add", "path": "members", "value": [{"displayName": "c", "value": "{C}"}]}],
        {"A", "B", "C"},
    ),
    "entra replace members, displayName beside value": (
        [{"op": "Replace", "path": "members", "value": [{"displayName": "c", "value": "{C}"}]}],
        {"C"},
    ),
    "add with type and an absolute $ref": (
        [
            {
                "op": "add",
                "path": "members",
                "value": [{"value": "{C}", "type": "User", "$ref": "https://idp.test/Users/{C}"}],
            }
        ],
        {"A", "B", "C"},
    ),
    "path-less add of members": (
        [{"op": "add", "value": {"members": [{"value": "{C}", "display": "c"}]}}],
        {"A", "B", "C"},
    ),
    "path-less add of members with displayName": (
        [{"op": "Add", "value": {"members": [{"value": "{C}", "displayName": "c"}]}}],
        {"A", "B", "C"},
    ),
    "path-less replace of members": (
        [{"op": "replace", "value": {"members": [{"value": "{C}"}]}}],
        {"C"},
    ),
    "remove every member": (
        [{"op": "remove", "path": "members"}],
        set(),
    ),
    "remove and add in one request": (
        [
            {"op": "remove", "path": 'members[value eq "{A}"]'},
            {"op": "add", "path": "members", "value": [{"value": "{C}", "display": "c"}]},
        ],
        {"B", "C"},
    ),
}


def _fill(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str):
        for name, real in ids.items():
            value = value.replace("{" + name + "}", real)
        return value
    if isinstance(value, list):
        return [_fill(v, ids) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    return value


@pytest.mark.parametrize("form", sorted(FORMS))
def test_a_documented_member_form_is_accepted(scim: Scim, form: str) -> None:
    operations, expected = FORMS[form]
    ids = {}
    for name in ("A", "B", "C"):
        created = scim.post("/Users", user(f"{name.lower()}@acme.com")).json
        assert created is not None
        ids[name] = created["id"]
    made = scim.post("/Groups", group("Team", ids["A"], ids["B"])).json
    assert made is not None
    ids["G"] = made["id"]
    body = {"schemas": [PATCH], "Operations": _fill(operations, ids)}
    answer = scim.patch(f"/Groups/{ids['G']}", body)
    assert answer.status_code in (200, 204), answer.json
    got = scim.get(f"/Groups/{ids['G']}").json
    assert got is not None
    by_id = {real: name for name, real in ids.items()}
    assert {by_id[m["value"]] for m in got.get("members", [])} == expected
