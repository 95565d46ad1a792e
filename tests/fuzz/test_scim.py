"""A hypothesis-driven SCIM fuzzer: random valid and invalid Users, Groups, filters, PATCH
bodies, paths, huge and malformed JSON, sent through the WSGI app.

Whatever comes in, ``/scim/v2`` must answer below 500, and every error must be a SCIM
Error body (RFC 7644 §3.12). Some requests carry no token or a wrong one, some a wrong
content type, so the edges (401, 413, 415) are fuzzed too.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz.conftest import Target
from tests.fuzz.tally import TALLY, examples, is_error_body, is_failure

FUZZER = "SCIM (hypothesis)"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"

text = st.text(max_size=40)
json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), text)
any_json = st.recursive(
    json_scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(text, inner, max_size=4)),
    max_leaves=12,
)
attributes = st.sampled_from(
    [
        "userName",
        "displayName",
        "externalId",
        "active",
        "emails",
        "emails.value",
        'emails[type eq "work"].value',
        "members",
        "members.value",
        "name.givenName",
        "meta.lastModified",
        "id",
        f"{USER}:userName",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
        "nosuch",
        "",
    ]
)
comparison = st.builds(
    lambda a, op, v: f"{a} {op} {v}",
    attributes,
    st.sampled_from(["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le", "pr", "xx"]),
    st.one_of(st.builds(json.dumps, text), st.sampled_from(["true", "false", "null", "42", '"'])),
)
filters = st.one_of(
    text,
    comparison,
    st.recursive(
        comparison,
        lambda inner: st.one_of(
            st.builds(lambda a, b: f"{a} and {b}", inner, inner),
            st.builds(lambda a, b: f"({a}) or {b}", inner, inner),
            st.builds(lambda a: f"not ({a})", inner),
            st.builds(lambda a, b: f"emails[{a}] and {b}", inner, inner),
        ),
        max_leaves=4,
    ),
)
emails = st.lists(
    st.fixed_dictionaries(
        {"value": st.one_of(st.emails(), text)},
        optional={"primary": st.one_of(st.booleans(), text), "type": text},
    ),
    max_size=3,
)
users = st.fixed_dictionaries(
    {"schemas": st.sampled_from([[USER], [USER], [USER], [], ["urn:nope"], USER])},
    optional={
        "userName": st.one_of(st.emails(), text, st.integers(), st.none()),
        "emails": st.one_of(emails, any_json),
        "active": st.one_of(st.booleans(), st.sampled_from(["True", "False", "yes"])),
        "externalId": st.one_of(text, st.integers()),
        "displayName": text,
        "name": st.one_of(st.fixed_dictionaries({}, optional={"givenName": text}), any_json),
        "id": text,
        "meta": any_json,
    },
)


def _groups(ids: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    member = st.fixed_dictionaries(
        {"value": st.one_of(st.sampled_from(ids), text, st.integers())},
        optional={"type": st.sampled_from(["User", "Group", "x"]), "display": text},
    )
    return st.fixed_dictionaries(
        {"schemas": st.sampled_from([[GROUP], [GROUP], [GROUP], [], ["urn:nope"]])},
        optional={
            "displayName": st.one_of(text, st.none(), st.integers()),
            "members": st.one_of(st.lists(member, max_size=4), any_json),
            "externalId": text,
        },
    )


def _patches(ids: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    operation = st.fixed_dictionaries(
        {"op": st.sampled_from(["add", "remove", "replace", "Add", "Replace", "move", ""])},
        optional={
            "path": st.one_of(
                attributes,
                st.builds(lambda v: f'members[value eq "{v}"]', st.sampled_from(ids)),
                text,
            ),
            "value": st.one_of(
                any_json,
                st.lists(st.fixed_dictionaries({"value": st.sampled_from(ids)}), max_size=3),
                st.fixed_dictionaries({}, optional={"active": st.booleans(), "userName": text}),
            ),
        },
    )
    return st.fixed_dictionaries(
        {
            "schemas": st.sampled_from([[PATCH], [PATCH], [PATCH], [], ["urn:nope"]]),
            "Operations": st.one_of(st.lists(operation, max_size=4), any_json),
        }
    )


def _requests(ids: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    resource_id = st.one_of(st.sampled_from(ids), text.map(lambda s: quote(s, safe="")), st.uuids())
    path = st.one_of(
        st.sampled_from(["/Users", "/Groups", "/.search", "/Users/.search", "/Bulk", "/Me"]),
        st.builds(lambda r, i: f"/{r}/{i}", st.sampled_from(["Users", "Groups"]), resource_id),
        st.sampled_from(
            [
                "/ServiceProviderConfig",
                "/ResourceTypes",
                "/ResourceTypes/User",
                "/Schemas",
                f"/Schemas/{USER}",
                "/Schemas/nope",
                "/",
                "/nope/deeper",
            ]
        ),
        st.builds(lambda s: "/" + quote(s, safe="/"), text),
    )
    body = st.one_of(
        users.map(json.dumps),
        _groups(ids).map(json.dumps),
        _patches(ids).map(json.dumps),
        st.fixed_dictionaries(
            {"schemas": st.just([SEARCH])},
            optional={"filter": filters, "startIndex": any_json, "count": any_json},
        ).map(json.dumps),
        any_json.map(json.dumps),
        st.binary(max_size=200),
        st.sampled_from(
            [
                "[" * 50_000 + "]" * 50_000,  # nesting past any recursion limit
                '{"userName": "' + "x" * 70_000 + '"}',  # over the body limit
                '{"userName": "a@b.c"',  # truncated
                "\ufeff{}",
                "",
            ]
        ),
    )
    query = st.fixed_dictionaries(
        {},
        optional={
            "filter": filters,
            "startIndex": st.one_of(st.integers(-5, 10**12).map(str), text),
            "count": st.one_of(st.integers(-5, 10**12).map(str), text),
            "sortBy": attributes,
            "sortOrder": st.sampled_from(["ascending", "descending", "sideways"]),
            "attributes": attributes,
            "excludedAttributes": attributes,
        },
    )
    return st.fixed_dictionaries(
        {
            "method": st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE"]),
            "path": path,
            "query": query,
            "body": st.one_of(st.none(), body),
            "content_type": st.sampled_from(
                [
                    "application/scim+json",
                    "application/scim+json",
                    "application/json",
                    "text/plain",
                    None,
                ]
            ),
            "auth": st.sampled_from(["good", "good", "good", "good", "none", "wrong"]),
        }
    )


def _wellformed(ids: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    """Requests a real client would send (right method, path, token, content type), with
    random values: these get past the edges into storage, filters and PATCH."""
    user_id, group_id = st.sampled_from(ids[:-1]), st.just(ids[-1])
    names = st.one_of(st.emails(), text.filter(str.strip))
    valid_users = st.builds(lambda u, n: {**u, "schemas": [USER], "userName": n}, users, names)
    valid_groups = st.builds(
        lambda g, n: {**g, "schemas": [GROUP], "displayName": n}, _groups(ids), names
    )
    member_values = st.lists(st.fixed_dictionaries({"value": st.sampled_from(ids)}), max_size=3)
    valid_operation = st.one_of(
        st.fixed_dictionaries(
            {
                "op": st.sampled_from(["add", "replace", "Add", "Replace"]),
                "path": st.sampled_from(
                    ["members", "displayName", "active", "userName", "externalId", "name.givenName"]
                ),
                "value": st.one_of(member_values, names, st.booleans()),
            }
        ),
        st.fixed_dictionaries(
            {
                "op": st.sampled_from(["remove", "Remove"]),
                "path": st.one_of(
                    st.just("members"),
                    st.sampled_from(ids).map(lambda v: f'members[value eq "{v}"]'),
                ),
            }
        ),
        st.fixed_dictionaries(
            {
                "op": st.just("replace"),
                "value": st.fixed_dictionaries(
                    {}, optional={"active": st.booleans(), "displayName": names}
                ),
            }
        ),
    )
    valid_patches = st.lists(valid_operation, min_size=1, max_size=3).map(
        lambda ops: {"schemas": [PATCH], "Operations": ops}
    )
    search = st.fixed_dictionaries(
        {},
        optional={
            "filter": filters,
            "startIndex": st.integers(-2, 50).map(str),
            "count": st.integers(-2, 50).map(str),
            "sortBy": attributes,
        },
    )
    requests = st.one_of(
        st.tuples(st.just("POST"), st.just("/Users"), valid_users, st.just({})),
        st.tuples(st.just("POST"), st.just("/Groups"), valid_groups, st.just({})),
        st.tuples(st.just("PUT"), user_id.map(lambda i: f"/Users/{i}"), valid_users, st.just({})),
        st.tuples(
            st.just("PATCH"),
            st.one_of(user_id.map(lambda i: f"/Users/{i}"), group_id.map(lambda i: f"/Groups/{i}")),
            valid_patches,
            st.just({}),
        ),
        st.tuples(st.just("GET"), st.sampled_from(["/Users", "/Groups"]), st.none(), search),
    )
    return requests.map(
        lambda r: {
            "method": r[0],
            "path": r[1],
            "body": json.dumps(r[2]) if r[2] is not None else None,
            "query": r[3],
            "content_type": "application/scim+json",
            "auth": "good",
        }
    )


def _seed(target: Target) -> list[str]:
    """Two users and a group to aim at; their ids."""
    client = target.app.test_client()
    headers = {"Authorization": f"Bearer {target.scim_token}"}
    ids = []
    for name in ("ann@acme.com", "bob@acme.com"):
        body = {"schemas": [USER], "userName": name, "emails": [{"value": name, "primary": True}]}
        ids.append(client.post("/scim/v2/Users", json=body, headers=headers).json["id"])
    group = {"schemas": [GROUP], "displayName": "AI Users", "members": [{"value": ids[0]}]}
    ids.append(client.post("/scim/v2/Groups", json=group, headers=headers).json["id"])
    return ids


def test_no_scim_request_gets_a_5xx_or_an_error_that_is_not_a_scim_error(target: Target) -> None:
    """Random requests at /scim/v2: every answer is below 500 and every error is SCIM's."""
    ids = _seed(target)
    client = target.app.test_client()
    failures: list[str] = []

    @given(request=st.one_of(_wellformed(ids), _requests(ids)))
    @settings(
        max_examples=examples(150),
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(request: dict[str, Any]) -> None:
        headers = {}
        if request["auth"] != "none":
            token = target.scim_token if request["auth"] == "good" else "rbscim_wrong"
            headers["Authorization"] = f"Bearer {token}"
        if request["content_type"] and request["body"] is not None:
            headers["Content-Type"] = request["content_type"]
        response = client.open(
            "/scim/v2" + request["path"],
            method=request["method"],
            query_string=request["query"],
            data=request["body"],
            headers=headers,
        )
        good = is_error_body(response.content_type or "", response.data, scim=True)
        TALLY.record(FUZZER, response.status_code, good)
        if is_failure(response.status_code, good):
            failures.append(
                f"{request['method']} {request['path']} {request['query']} "
                f"body={str(request['body'])[:120]!r} -> {response.status_code} "
                f"{response.content_type}: {response.data[:200]!r}"
            )

    check()
    assert failures == []
