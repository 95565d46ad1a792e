"""Sign-in to the admin pages through the org's own OpenID Connect provider (a loopback
fake), through the app's HTTP paths: each person signs in as themselves with their own
role; a stranger, a bad ID token, a replayed or foreign state and a code without the
sign-in's PKCE are refused with nothing signed in; the settings API is for the org's admins
and never shows the client secret."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.e2e.admin.conftest import MAX, OLGA, MemberSpec, Seeded, csrf_on, set_provider, sign_in
from tests.fakes.oidc import FakeOidc

NINA: MemberSpec = ("nina@acme.com", "member", "joined", "idp", {})
IVY: MemberSpec = ("ivy@acme.com", "member", "invited", "manual", {})
PAT: MemberSpec = ("pat@acme.com", "manager", "joined", "manual", {})


@pytest.fixture
def acme(seed: Callable[..., Seeded], client: FlaskClient, provider: FakeOidc) -> Seeded:
    """The soterai org (olga owner, max manager, nina member, ivy invited, pat a manager
    added by hand) with sign-in
    through ``provider`` set by its owner's key."""
    org = seed("acme", "soterai", ["owner", "manager", "member"], [OLGA, MAX, NINA, IVY, PAT])
    set_provider(client, org, provider)
    return org


def _callback_url(client: FlaskClient, provider: FakeOidc, org: str = "acme") -> str:
    """Start a sign-in and let the provider answer: the callback URL it sends back."""
    start = client.get(f"/admin/signin/oidc/{org}")
    assert start.status_code == 302, start.get_data(as_text=True)
    return provider.visit(start.location)


def _local(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def _oidc_sign_in(client: FlaskClient, provider: FakeOidc, org: str = "acme") -> TestResponse:
    return client.get(_local(_callback_url(client, provider, org)))


def _signed_in(client: FlaskClient) -> bool:
    return client.get("/admin/").status_code == 200


def _audit(client: FlaskClient, org: Seeded, op: str) -> list[dict[str, object]]:
    r = client.get(f"/api/v1/orgs/acme/audit?op={op}", headers=org.auth("owner"))
    entries: list[dict[str, object]] = r.json["entries"]
    return entries


def test_an_owner_signs_in_through_the_provider_and_sees_the_admin_pages(
    client: FlaskClient, acme: Seeded, provider: FakeOidc
) -> None:
    """Olga, the owner, signs in at her provider and lands on the overview as herself;
    the owner-only token page is hers; the sign-in is in the audit log."""
    provider.sign_in_as("Olga@ACME.com", "00u-olga")  # the platform's key: case does not matter
    done = _oidc_sign_in(client, provider)
    assert done.status_code == 302 and done.location.endswith("/admin/")
    page = client.get("/admin/").get_data(as_text=True)
    assert "olga@acme.com · owner" in page
    assert "SCIM tokens" in client.get("/admin/credentials").get_data(as_text=True)
    (entry,) = _audit(client, acme, "sign_in")
    assert entry["actor"] == "oidc:olga@acme.com"
    assert entry["detail"] == {"via": "oidc", "role": "owner"}
    token_request = provider.state.token_requests[-1]
    assert token_request["code_verifier"] and "client_secret" not in token_request  # Basic auth


def test_a_member_sees_what_their_role_may_and_is_refused_admin_actions(
    client: FlaskClient, acme: Seeded, provider: FakeOidc
) -> None:
    """Nina, a plain member, signs in with her own role: she reads the overview, but the
    sign-in settings, SCIM tokens and a new API key are refused."""
    provider.sign_in_as("nina@acme.com")
    assert _oidc_sign_in(client, provider).status_code == 302
    assert "nina@acme.com · member" in client.get("/admin/").get_data(as_text=True)
    assert client.get("/admin/sign-in-settings").status_code == 403
    assert "SCIM tokens" not in client.get("/admin/credentials").get_data(as_text=True)
    token = csrf_on(client, "/admin/")
    r = client.post(
        "/admin/keys",
        data={"csrf_token": token, "role": "owner", "name": "x"},
        follow_redirects=True,
    )
    assert "manages no one" in r.get_data(as_text=True)
    keys = client.get("/api/v1/orgs/acme/keys", headers=acme.auth("owner")).json["keys"]
    assert len(keys) == 3  # the seeded ones only


@pytest.mark.parametrize(
    ("email", "status", "words"),
    [
        ("stranger@acme.com", 403, "is not a member"),
        ("ivy@acme.com", 403, "is invited, not a joined member"),
        (None, 401, "sent no email"),
    ],
)
def test_someone_not_a_joined_member_is_refused(
    client: FlaskClient,
    acme: Seeded,
    provider: FakeOidc,
    email: str | None,
    status: int,
    words: str,
) -> None:
    """A person the provider knows but the org does not (or only invited) gets a page saying
    so, and no session."""
    provider.sign_in_as(email)
    r = _oidc_sign_in(client, provider)
    assert r.status_code == status
    assert words in r.get_data(as_text=True) and "Traceback" not in r.get_data(as_text=True)
    assert not _signed_in(client)
    (failed,) = _audit(client, acme, "sign_in_failed")
    assert failed["detail"]["reason"] in ("not_member", "not_joined", "no_email")  # type: ignore[index]


def test_preferred_username_names_the_member_when_there_is_no_verified_email(
    client: FlaskClient, acme: Seeded, provider: FakeOidc
) -> None:
    """Entra sends the user principal name as preferred_username; an unverified email is
    not trusted."""
    provider.sign_in_as("olga@acme.com", verified=False, preferred_username="max@acme.com")
    assert _oidc_sign_in(client, provider).status_code == 302
    assert "max@acme.com · manager" in client.get("/admin/").get_data(as_text=True)


@pytest.mark.parametrize(
    ("switch", "reason", "words"),
    [
        ("audience", "claim_aud", "not for this client"),
        ("expired", "expired", "has expired"),
        ("wrong_nonce", "claim_nonce", "nonce does not match"),
        ("wrong_key", "bad_signature", "signature does not verify"),
    ],
)
def test_a_bad_id_token_is_refused_with_no_session(
    client: FlaskClient,
    acme: Seeded,
    provider: FakeOidc,
    switch: str,
    reason: str,
    words: str,
) -> None:
    """Another client's token, an expired one, one for another sign-in (nonce) and one not
    signed by the provider's key: each refused, nothing signed in, the reason audited."""
    if switch == "audience":
        provider.state.audience = "someone-elses-client"
    else:
        setattr(provider.state, switch, True)
    r = _oidc_sign_in(client, provider)
    assert r.status_code == 401
    assert words in r.get_data(as_text=True)
    assert not _signed_in(client)
    (failed,) = _audit(client, acme, "sign_in_failed")
    assert failed["detail"]["reason"] == reason  # type: ignore[index]


def test_a_replayed_state_is_refused_even_with_a_copied_cookie(
    app: Flask, client: FlaskClient, acme: Seeded, provider: FakeOidc
) -> None:
    """The callback's state is single-use on the server: the same answer replayed in
    another browser holding a copy of the first one's cookie signs nobody in."""
    url = _callback_url(client, provider)
    cookie = client.get_cookie("session")
    assert cookie is not None
    assert client.get(_local(url)).status_code == 302 and _signed_in(client)
    other = app.test_client()
    other.set_cookie("session", cookie.value)
    replay = other.get(_local(url))
    assert replay.status_code == 401
    assert "already used" in replay.get_data(as_text=True)
    assert not _signed_in(other)


def test_a_state_this_browser_did_not_start_is_refused(
    app: Flask, client: FlaskClient, acme: Seeded, provider: FakeOidc
) -> None:
    """A provider answer for a sign-in started elsewhere (a forged or stolen link) is
    refused, and leaves the other sign-in unusable too."""
    url = _callback_url(client, provider)
    victim = app.test_client()
    r = victim.get(_local(url))
    assert r.status_code == 400 and "did not start in this browser" in r.get_data(as_text=True)
    assert not _signed_in(victim)
    unknown = client.get("/admin/signin/oidc/callback?state=made-up&code=x")
    assert unknown.status_code == 400 and not _signed_in(client)


def test_a_code_without_this_sign_ins_pkce_is_refused(
    client: FlaskClient, acme: Seeded, provider: FakeOidc
) -> None:
    """A code the provider issued to an authorization request without the PKCE challenge
    (or with another sign-in's) cannot be exchanged: refused, no session."""
    start = client.get("/admin/signin/oidc/acme")
    parts = urlsplit(start.location)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) == 43
    stripped = {k: v for k, v in query.items() if not k.startswith("code_challenge")}
    answer = provider.visit(urlunsplit(parts._replace(query=urlencode(stripped))))
    r = client.get(_local(answer))
    assert r.status_code == 401
    assert "refused the sign-in code: PKCE" in r.get_data(as_text=True)
    assert not _signed_in(client)
    # another sign-in's code, handed to this one's state
    first = _callback_url(client, provider)
    second_code = parse_qs(urlsplit(_callback_url(client, provider)).query)["code"][0]
    state = parse_qs(urlsplit(first).query)["state"][0]
    swapped = client.get(f"/admin/signin/oidc/callback?{urlencode({'state': state})}")
    assert swapped.status_code == 400  # the browser holds only the newest sign-in's state
    mixed = _callback_url(client, provider)
    mixed_state = parse_qs(urlsplit(mixed).query)["state"][0]
    r = client.get(
        f"/admin/signin/oidc/callback?{urlencode({'state': mixed_state, 'code': second_code})}"
    )
    assert r.status_code == 401 and "PKCE verification failed" in r.get_data(as_text=True)
    assert not _signed_in(client)


def test_the_provider_saying_no_is_a_clear_page(
    client: FlaskClient, acme: Seeded, provider: FakeOidc
) -> None:
    """The person cancels at the provider: a page saying what it said."""
    provider.state.error = "access_denied"
    r = _oidc_sign_in(client, provider)
    assert r.status_code == 401 and "access_denied" in r.get_data(as_text=True)
    assert not _signed_in(client)


def test_an_org_without_provider_sign_in_is_a_clear_page(client: FlaskClient, acme: Seeded) -> None:
    """An org that has none (or an unknown name) is refused before anything is sent."""
    r = client.get("/admin/signin/oidc/globex")
    assert r.status_code == 404 and "no identity provider sign-in" in r.get_data(as_text=True)
    token = csrf_on(client, "/admin/sign-in")
    r = client.post("/admin/signin/oidc", data={"org": "acme", "csrf_token": token})
    assert r.status_code == 200 and 'href="/admin/signin/oidc/acme"' in r.get_data(as_text=True)


def test_turning_the_provider_off_ends_its_sessions(
    client: FlaskClient, acme: Seeded, provider: FakeOidc
) -> None:
    """Sessions signed in through the provider end once the owner disables it."""
    assert _oidc_sign_in(client, provider).status_code == 302 and _signed_in(client)
    body = {"issuer": provider.issuer, "client_id": provider.state.client_id, "enabled": False}
    r = client.put("/api/v1/orgs/acme/oidc", json=body, headers=acme.auth("owner"))
    assert r.status_code == 200 and r.json["enabled"] is False
    assert not _signed_in(client)


def test_the_settings_api_is_for_admins_and_never_returns_the_secret(
    client: FlaskClient, acme: Seeded, provider: FakeOidc
) -> None:
    """A member may not read it, a manager may read but not change it; no answer and no
    audit entry holds the secret; the first setting needs a secret; DELETE removes it."""
    secret = provider.state.client_secret
    assert client.get("/api/v1/orgs/acme/oidc", headers=acme.auth("member")).status_code == 403
    read = client.get("/api/v1/orgs/acme/oidc", headers=acme.auth("manager"))
    assert read.status_code == 200 and secret not in read.get_data(as_text=True)
    assert read.json["client_secret"] == "set" and read.json["issuer"] == provider.issuer
    assert read.json["redirect_uri"].endswith("/admin/signin/oidc/callback")
    body = {"issuer": provider.issuer, "client_id": "x", "client_secret": "y"}
    refused = client.put("/api/v1/orgs/acme/oidc", json=body, headers=acme.auth("manager"))
    assert refused.status_code == 403 and "only a owner" in refused.json["detail"]
    bad = client.put(
        "/api/v1/orgs/acme/oidc",
        json=body | {"issuer": "http://idp.example.com"},
        headers=acme.auth("owner"),
    )
    assert bad.status_code == 422 and bad.json["field"] == "issuer"
    (entry,) = _audit(client, acme, "set_oidc")
    assert str(entry["actor"]).startswith("apikey:") and str(entry["actor"]).endswith(":owner key")
    assert secret not in str(entry) and entry["detail"]["secret_changed"] is True  # type: ignore[index]
    gone = client.delete("/api/v1/orgs/acme/oidc", headers=acme.auth("owner"))
    assert gone.status_code == 200 and gone.json["configured"] is False
    first = client.put(
        "/api/v1/orgs/acme/oidc",
        json={"issuer": provider.issuer, "client_id": "x"},
        headers=acme.auth("owner"),
    )
    assert first.status_code == 422 and first.json["field"] == "client_secret"
    assert client.get("/admin/signin/oidc/acme").status_code == 404


def test_the_owner_sets_it_on_the_page_and_a_member_may_not(
    client: FlaskClient, seed: Callable[..., Seeded], provider: FakeOidc
) -> None:
    """The owner saves the provider on the Sign-in page (the secret not shown back); the
    page's empty secret field keeps the stored secret; a manager sees it but may not change
    it."""
    org = seed("acme", "soterai", ["owner", "manager"], [OLGA, MAX])
    sign_in(client, org.keys["owner"])
    form = {
        "issuer": provider.issuer,
        "client_id": provider.state.client_id,
        "client_secret": provider.state.client_secret,
        "enabled": "on",
        "csrf_token": csrf_on(client, "/admin/sign-in-settings"),
    }
    saved = client.post("/admin/sign-in-settings", data=form, follow_redirects=True)
    html = saved.get_data(as_text=True)
    assert "Saved the identity provider sign-in." in html and 'id="oidc-secret">set<' in html
    assert provider.state.client_secret not in html
    assert "/admin/signin/oidc/acme" in html  # the members' sign-in link
    again = form | {"client_secret": "", "csrf_token": csrf_on(client, "/admin/sign-in-settings")}
    assert client.post("/admin/sign-in-settings", data=again).status_code == 303
    provider.sign_in_as("max@acme.com")
    manager = client.application.test_client()
    assert _oidc_sign_in(manager, provider).status_code == 302  # the stored secret still works
    page = manager.get("/admin/sign-in-settings").get_data(as_text=True)
    assert "Only the organisation's top role may change this." in page
    token = csrf_on(manager, "/admin/sign-in-settings")
    refused = manager.post("/admin/sign-in-settings/clear", data={"csrf_token": token})
    assert refused.status_code == 303
    follow = manager.get(refused.location).get_data(as_text=True)
    assert "only a owner may change the organisation&#39;s sign-in provider" in follow
    assert client.get("/api/v1/orgs/acme/oidc", headers=org.auth("owner")).json["configured"]


def test_a_provider_that_does_not_answer_is_a_clear_page(
    client: FlaskClient, acme: Seeded, provider: FakeOidc
) -> None:
    """The provider is down: the start says so on a page, no traceback, nothing kept."""
    provider.close()
    r = client.get("/admin/signin/oidc/acme")
    text = r.get_data(as_text=True)
    assert r.status_code == 502 and "discovery document could not be fetched" in text
    assert "Traceback" not in text and not _signed_in(client)


def test_a_member_demoted_after_signing_in_acts_with_the_new_role(
    client: FlaskClient, acme: Seeded, provider: FakeOidc
) -> None:
    """The session's role is the member's role now, not at sign-in; removing them ends it."""
    provider.sign_in_as("pat@acme.com")
    assert _oidc_sign_in(client, provider).status_code == 302
    assert "pat@acme.com · manager" in client.get("/admin/").get_data(as_text=True)
    body = {"email": "pat@acme.com", "org_role": "member"}
    r = client.put("/api/v1/orgs/acme/members", json=body, headers=acme.auth("owner"))
    assert r.status_code == 200, r.json
    assert "pat@acme.com · member" in client.get("/admin/").get_data(as_text=True)
    gone = client.delete("/api/v1/orgs/acme/members/pat@acme.com", headers=acme.auth("owner"))
    assert gone.status_code in (200, 204), gone.json
    assert not _signed_in(client)


def test_the_key_set_is_kept_and_fetched_again_when_the_provider_rotates_its_key(
    app: Flask, client: FlaskClient, acme: Seeded, provider: FakeOidc
) -> None:
    """A second sign-in uses the key set already fetched; after the provider signs with a
    new key id, the next sign-in fetches the set once more and succeeds."""
    assert _oidc_sign_in(client, provider).status_code == 302
    assert provider.state.log.count("jwks") == 1
    second = app.test_client()
    assert _oidc_sign_in(second, provider).status_code == 302
    assert provider.state.log.count("jwks") == 1  # kept, not fetched again
    provider.rotate_key()
    third = app.test_client()
    assert _oidc_sign_in(third, provider).status_code == 302 and _signed_in(third)
    assert provider.state.log.count("jwks") == 2
