"""The SCIM fuzzer's size mode: values at and past the documented limits.

userName (320 characters), externalId (255), displayName (400 on groups, 320 on users)
and emails (320) are stored in columns of those lengths. At the limit a create, PUT and
PATCH succeed and read back unchanged; past it they answer 400 naming the attribute and
change nothing, never 500 (PostgreSQL refuses what SQLite would store).
"""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz.conftest import Target
from tests.fuzz.tally import TALLY, examples, is_error_body, is_failure

FUZZER = "SCIM sizes (hypothesis)"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"

# (resource, attribute, limit, the value of that length)
LIMITS: list[tuple[str, str, int]] = [
    ("Users", "userName", 320),
    ("Users", "externalId", 255),
    ("Users", "displayName", 320),
    ("Users", "emails", 320),
    ("Groups", "displayName", 400),
    ("Groups", "externalId", 255),
]
_serial = iter(range(10**9))


def _value(attribute: str, length: int) -> str:
    """A unique value of exactly ``length`` characters (an address for userName and emails)."""
    tag = f"{next(_serial)}"
    if attribute in ("userName", "emails"):
        domain = f"@{tag}.example"
        return "u" * (length - len(domain)) + domain
    return (tag + "-" + "x" * length)[:length] if length > len(tag) + 1 else "x" * length


def _body(resource: str, attribute: str, value: str) -> dict[str, Any]:
    if resource == "Groups":
        body: dict[str, Any] = {"schemas": [GROUP], "displayName": f"g{next(_serial)}"}
    else:
        body = {"schemas": [USER], "userName": f"n{next(_serial)}@size.example"}
    return _with(body, attribute, value)


def _with(body: dict[str, Any], attribute: str, value: str) -> dict[str, Any]:
    if attribute == "emails":
        return body | {"emails": [{"value": value, "primary": True}]}
    return body | {attribute: value}


def _stored(body: dict[str, Any], attribute: str) -> Any:
    return body["emails"][0]["value"] if attribute == "emails" else body.get(attribute)


class _Client:
    """The test client with the org's token; every answer is tallied and checked."""

    def __init__(self, target: Target) -> None:
        self.client: FlaskClient = target.app.test_client()
        self.headers = {"Authorization": f"Bearer {target.scim_token}"}
        self.failures: list[str] = []

    def send(self, method: str, path: str, body: Any = None) -> Any:
        response = self.client.open(
            "/scim/v2" + path, method=method, json=body, headers=self.headers
        )
        good = is_error_body(response.content_type or "", response.data, scim=True)
        TALLY.record(FUZZER, response.status_code, good)
        if is_failure(response.status_code, good):
            self.failures.append(f"{method} {path} -> {response.status_code}")
        return response


def _past_the_limit_is_refused(
    client: _Client, resource: str, attribute: str, limit: int, over: int
) -> None:
    """POST, then PUT and PATCH of a stored resource, one value ``over`` past the limit."""
    long = _value(attribute, limit + over)
    created = client.send("POST", f"/{resource}", _body(resource, attribute, long))
    _refused(client, created, attribute, f"POST {resource} {attribute}+{over}")
    good = _body(resource, attribute, _value(attribute, limit))
    stored = client.send("POST", f"/{resource}", good)
    assert stored.status_code == 201, stored.data
    path = f"/{resource}/{stored.json['id']}"
    replaced = client.send("PUT", path, _with(good, attribute, long))
    _refused(client, replaced, attribute, f"PUT {resource} {attribute}+{over}")
    value: Any = [{"value": long}] if attribute == "emails" else long
    patch = {
        "schemas": [PATCH],
        "Operations": [{"op": "replace", "path": attribute, "value": value}],
    }
    patched = client.send("PATCH", path, patch)
    _refused(client, patched, attribute, f"PATCH {resource} {attribute}+{over}")
    after = client.send("GET", path).json
    assert _stored(after, attribute) == _stored(good, attribute), "a refused write changed it"


def _refused(client: _Client, response: Any, attribute: str, what: str) -> None:
    if response.status_code != 400 or attribute not in str(response.json.get("detail")):
        client.failures.append(f"{what} -> {response.status_code} {response.data[:200]!r}")


def test_values_at_the_limits_are_stored_and_read_back(target: Target) -> None:
    """userName, externalId, displayName and emails of exactly the column's length."""
    client = _Client(target)
    for resource, attribute, limit in LIMITS:
        body = _body(resource, attribute, _value(attribute, limit))
        created = client.send("POST", f"/{resource}", body)
        assert created.status_code == 201, (resource, attribute, created.data)
        read = client.send("GET", f"/{resource}/{created.json['id']}").json
        assert _stored(read, attribute) == _stored(body, attribute)
    assert client.failures == []


def test_values_past_the_limits_are_a_400_naming_the_attribute(target: Target) -> None:
    """One character past, and far past (10k characters), on create, PUT and PATCH."""
    client = _Client(target)

    @given(case=st.sampled_from(LIMITS), over=st.one_of(st.just(1), st.integers(2, 10_000)))
    @settings(
        max_examples=examples(12),
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case: tuple[str, str, int], over: int) -> None:
        _past_the_limit_is_refused(client, *case, over)

    for case in LIMITS:
        _past_the_limit_is_refused(client, *case, 1)
    check()
    assert client.failures == []
