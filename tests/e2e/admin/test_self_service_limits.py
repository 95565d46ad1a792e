"""The worst input an org's admin can send to what they run themselves (SCIM tokens, API
keys, webhooks, identity provider sign-in), through the admin API and the sign-in pages:
names and URLs at and past their limits (README "Limits"), control characters and odd
unicode, expiries far in the future, in the past and not dates, an issuer that is not
https or not a provider, and a provider that answers huge, deeply nested or non-JSON
discovery documents or a key set of thousands of keys. Each is a clear 4xx (or a page
saying why) that changes nothing; never a 5xx."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask.testing import FlaskClient
from joserfc.jwk import ECKey

from sync.credentials import oidc
from tests.e2e.admin.conftest import OLGA, Seeded, set_provider
from tests.fakes.oidc import FakeOidc

TOO_LONG = "n" * 201
BAD_TEXT = ["a\x00b", "a\nb", "a\rb", "a\x1bb", "a\x7fb", "a\u202eb", "a\u0085b"]


@pytest.fixture
def acme(seed: Callable[..., Seeded]) -> Seeded:
    """The soterai org with olga, its owner, and the owner's key."""
    return seed("acme", "soterai", ["owner"], [OLGA])


def _named(response: Any, field: str) -> bool:
    """Whether a refusal names ``field`` (a NUL anywhere is refused before any field is
    read: README "Limits")."""
    text = json.dumps(response.json)
    return field in text or "NUL characters" in text


def _api(client: FlaskClient, org: Seeded, method: str, path: str, body: Any = None) -> Any:
    response = client.open(
        "/api/v1/orgs/acme" + path, method=method, json=body, headers=org.auth("owner")
    )
    assert response.status_code < 500, response.get_data(as_text=True)
    return response


def _counts(client: FlaskClient, org: Seeded) -> tuple[int, int, int]:
    tokens = _api(client, org, "GET", "/tokens").json["tokens"]
    keys = _api(client, org, "GET", "/keys").json["keys"]
    hooks = _api(client, org, "GET", "/webhooks").json
    return (
        len(tokens),
        len(keys),
        len(hooks.get("webhooks", hooks) if isinstance(hooks, dict) else hooks),
    )


@pytest.mark.parametrize("kind", ["tokens", "keys"])
def test_token_and_key_names_at_and_past_the_limit(
    client: FlaskClient, acme: Seeded, kind: str
) -> None:
    """200 characters (any script) is a name; 201, a control character or a line break is
    a 422 naming ``name`` and nothing is made."""
    extra = {"role": "owner"} if kind == "keys" else {}
    for name in ("n" * 200, "ü" * 200, "名" * 200, "👩‍💻" * 40):
        r = _api(client, acme, "POST", f"/{kind}", {"name": name} | extra)
        assert r.status_code == 201, r.json
        assert r.json["name"] == name
    before = _counts(client, acme)
    for name in (TOO_LONG, *BAD_TEXT, 12, None, ["x"], {"a": 1}):
        r = _api(client, acme, "POST", f"/{kind}", {"name": name} | extra)
        assert r.status_code in (400, 422), (name, r.json)
        assert r.json["status"] == r.status_code and _named(r, "name"), r.json
    assert _counts(client, acme) == before


@pytest.mark.parametrize("kind", ["tokens", "keys"])
def test_expiries_far_away_in_the_past_and_not_dates(
    client: FlaskClient, acme: Seeded, kind: str
) -> None:
    """An expiry years ahead is kept as sent; one in the past, without a time zone, not a
    date, or a number is a 4xx naming ``expires_at``, on create and on rotate."""
    extra = {"role": "owner"} if kind == "keys" else {}
    far = _api(client, acme, "POST", f"/{kind}", {"expires_at": "9999-12-31T23:59:59Z"} | extra)
    assert far.status_code == 201, far.json
    assert far.json["expires_at"].startswith("9999-12-31")
    before = _counts(client, acme)
    bad: list[Any] = [
        "2001-01-01T00:00:00Z",
        "0001-01-01T00:00:00+00:00",
        "2099-01-01T00:00:00",  # no time zone
        "99999-01-01T00:00:00Z",
        "tomorrow",
        "",
        "2099-02-30T00:00:00Z",
        "2099-01-01T00:00:00+25:00",
        1e308,
        -1,
        10**40,
        True,
        {"$date": 1},
    ]
    for when in bad:
        made = _api(client, acme, "POST", f"/{kind}", {"expires_at": when} | extra)
        rotated = _api(
            client, acme, "POST", f"/{kind}/{far.json['id']}/rotate", {"expires_at": when}
        )
        for r in (made, rotated):
            assert r.status_code in (400, 422), (when, r.json)
            assert _named(r, "expires_at"), r.json
    assert _counts(client, acme) == before


def test_webhook_urls_at_and_past_the_limit(client: FlaskClient, acme: Seeded) -> None:
    """A 2,000-character URL is refused or kept whole, never a 5xx; 2,001 characters, a
    control character, a non-http scheme or no host is a 422 naming ``url``."""
    base = "https://hooks.acme.example/"
    at_limit = base + "p" * (2000 - len(base))
    r = _api(client, acme, "POST", "/webhooks", {"url": at_limit})
    assert r.status_code in (201, 422), r.json
    before = _counts(client, acme)
    for url in (
        at_limit + "p",
        base + "a\x00b",
        base + "a\nb",
        "javascript:alert(1)",
        "file:///etc/passwd",
        "https://",
        "https://exa mple.com/",
        "https://" + "a" * 300 + ".example/",
        12,
    ):
        r = _api(client, acme, "POST", "/webhooks", {"url": url})
        assert r.status_code in (400, 422), (url, r.json)
        assert _named(r, "url"), r.json
    assert _counts(client, acme) == before


ISSUER = "https://idp.acme.example"


def test_issuers_and_fields_past_their_limits_change_nothing(
    client: FlaskClient, acme: Seeded
) -> None:
    """An issuer that is not https (or http on the loopback), has a query, spaces, control
    characters, a bad host or port, or is past 500 characters; a client id past 500; a
    secret past 4,000: each a 422 naming the field, and the stored settings stay."""
    good = {"issuer": ISSUER, "client_id": "rb", "client_secret": "s" * 4000}
    assert _api(client, acme, "PUT", "/oidc", good).status_code == 200
    kept = _api(client, acme, "GET", "/oidc").json
    cases: list[tuple[str, Any]] = [
        ("issuer", "http://idp.acme.example"),
        ("issuer", "ftp://idp.acme.example"),
        ("issuer", "idp.acme.example"),
        ("issuer", "https://"),
        ("issuer", ISSUER + "?x=1"),
        ("issuer", ISSUER + "#top"),
        ("issuer", "https://idp acme.example"),
        ("issuer", ISSUER + "/\x1b[31m"),
        ("issuer", ISSUER + "/\u0085/"),
        ("issuer", "https://idp.acme.example:99999"),
        ("issuer", "https://" + "a" * 70 + ".example"),  # a DNS label past 63
        ("issuer", "https://idp.acme.example/" + "p" * 480),
        ("issuer", ""),
        ("client_id", "c" * 501),
        ("client_id", "a\nb"),
        ("client_secret", "s" * 4001),
        ("enabled", "yes please"),
    ]
    for field, value in cases:
        r = _api(client, acme, "PUT", "/oidc", good | {field: value})
        assert r.status_code in (400, 422), (field, value, r.json)
        assert _named(r, field), r.json
    assert _api(client, acme, "GET", "/oidc").json == kept


# -- a provider that answers what no provider should -------------------------------------


@pytest.fixture
def signing_in(client: FlaskClient, acme: Seeded, provider: FakeOidc) -> Iterator[None]:
    """Sign-in through ``provider`` set up for acme; provider answers not kept between
    tests."""
    set_provider(client, acme, provider)
    oidc._cache.clear()
    yield
    oidc._cache.clear()


def _start(client: FlaskClient) -> Any:
    return client.get("/admin/signin/oidc/acme")


def _nested(depth: int) -> str:
    return '{"issuer": ' + "[" * depth + "]" * depth + "}"


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        (("<html>an ordinary web site</html>", "text/html", 200), "not JSON"),
        (("not found", "text/plain", 404), "HTTP 404"),
        (("[1, 2, 3]", "application/json", 200), "not JSON"),
        (("{}", "application/json", 200), "names issuer None"),
        (("x" * (oidc.MAX_DOCUMENT + 1), "application/json", 200), "too large"),
        ('{"a": "' + "x" * 10_000_000 + '"}', "too large"),
        ((_nested(100_000), "application/json", 200), "not JSON"),
        ((_nested(oidc.MAX_NESTING + 5), "application/json", 200), "nests too deep"),
    ],
    ids=["html", "404", "array", "empty", "past-cap", "ten-megabytes", "deep", "past-depth"],
)
def test_a_provider_answering_junk_to_discovery_is_a_clear_page(
    client: FlaskClient,
    provider: FakeOidc,
    signing_in: None,
    answer: Any,
    words: str,
) -> None:
    """The sign-in fails with a page saying why, nothing signed in, and the next sign-in
    (the provider fixed) works."""
    body, media, status = answer if isinstance(answer, tuple) else (answer, "application/json", 200)
    provider.state.discovery_answer = (body, media, status)
    r = _start(client)
    assert r.status_code == 502, r.get_data(as_text=True)[:300]
    page = r.get_data(as_text=True)
    assert words in page and len(page) < 20_000
    provider.state.discovery_answer = None
    assert _start(client).status_code == 302


def _ec_jwks(count: int) -> str:
    key = ECKey.generate_key("P-256").as_dict(private=False)
    return json.dumps({"keys": [key | {"kid": f"k{i}"} for i in range(count)]})


@pytest.mark.parametrize(
    ("keys", "words"),
    [
        (lambda: _ec_jwks(oidc.MAX_KEYS + 1), "more than"),
        (lambda: _ec_jwks(5000), "too large"),
        (lambda: '{"keys": "none"}', "invalid"),
        (lambda: '{"keys": [1, "two", null, {"kty": "RSA", "n": 5}]}', "invalid"),
    ],
    ids=["past-max-keys", "five-thousand", "not-a-list", "junk-keys"],
)
def test_a_key_set_of_thousands_of_keys_or_junk_is_a_clear_page(
    client: FlaskClient,
    acme: Seeded,
    provider: FakeOidc,
    signing_in: None,
    keys: Callable[[], str],
    words: str,
) -> None:
    """A key set with too many keys or junk in it: the callback is a page saying the key
    set is refused, nobody is signed in, and the failure is in the audit log."""
    provider.state.jwks_answer = keys()
    provider.sign_in_as("olga@acme.com")
    start = _start(client)
    assert start.status_code == 302
    back = urlsplit(provider.visit(start.location))
    r = client.get(f"{back.path}?{back.query}")
    assert r.status_code == 401, r.get_data(as_text=True)[:300]
    assert words in r.get_data(as_text=True)
    assert client.get("/admin/").status_code != 200
    failed = _api(client, acme, "GET", "/audit?op=sign_in_failed").json["entries"]
    assert [e["detail"]["reason"] for e in failed] == ["provider_error"]


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        ('{"id_token": "' + "x" * (oidc.MAX_DOCUMENT + 1) + '"}', "too large"),
        ("[" * 100_000 + "]" * 100_000, "refused the sign-in code"),
        ('{"id_token": 12}', "no ID token"),
    ],
    ids=["past-cap", "deep", "not-a-token"],
)
def test_a_token_endpoint_answering_junk_is_a_clear_page(
    client: FlaskClient,
    acme: Seeded,
    provider: FakeOidc,
    signing_in: None,
    answer: str,
    words: str,
) -> None:
    """The code exchanged for a huge, deeply nested or tokenless answer: a page saying
    why, nobody signed in."""
    provider.state.token_answer = answer
    provider.sign_in_as("olga@acme.com")
    start = _start(client)
    back = urlsplit(provider.visit(start.location))
    r = client.get(f"{back.path}?{back.query}")
    assert r.status_code == 401, r.get_data(as_text=True)[:300]
    assert words in r.get_data(as_text=True)
    assert client.get("/admin/").status_code != 200
