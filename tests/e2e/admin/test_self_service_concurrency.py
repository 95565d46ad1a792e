"""What an org's admins run themselves, sixteen clients at once, against the app served on
a loopback port (SQLite, then PostgreSQL): SCIM tokens and API keys made with one name and
with many, one token rotated and revoked at once, webhooks added and removed at once, the
identity provider settings set by sixteen PUTs at once, and one provider callback replayed
sixteen times.

Every answer is below 500 and a JSON problem when it is an error; what must be unique (a
token's and a key's hash) is unique in the database; a revoked token is refused at once by
another process's app (its own connection pool); one audit entry per accepted change; the
sealed client secret always opens; a sign-in state starts exactly one session.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from threading import Barrier, local
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from scim_server.app import create_app
from sync.credentials.secrets import resolve_secret
from sync.models import AdminSession, ApiKey, AuditEntry, OidcSettings, ScimToken
from sync.settings import Settings
from tests.e2e.admin.conftest import MAX, OLGA, Seeded
from tests.fakes.oidc import FakeOidc
from tests.fakes.server import LoopbackServer
from tests.fuzz.tally import is_error_body

CLIENTS = 16
SECRET_KEY = "test-secret"
SCIM = "application/scim+json"


@dataclass
class Client:
    """HTTP to one served app; each thread keeps its own connection."""

    url: str
    _local: local = field(default_factory=local)

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """One request to the app."""
        http = getattr(self._local, "http", None)
        if http is None:
            http = self._local.http = requests.Session()
        return http.request(method, self.url + path, timeout=60, allow_redirects=False, **kwargs)


@dataclass
class Served:
    """The org ``acme`` (soterai: olga owner, max manager, an owner key), served twice:
    ``app`` and ``other``, a second app with its own connection pool (another process)."""

    app: Client
    other: Client
    org: Seeded
    factory: sessionmaker[Session]

    def api(self, method: str, path: str, body: Any = None) -> requests.Response:
        """An admin API call as the org's owner key."""
        return self.app.call(
            method, "/api/v1/orgs/acme" + path, json=body, headers=self.org.auth("owner")
        )

    def count(self, model: Any, *where: Any) -> int:
        """Rows of ``model`` in the database."""
        with self.factory() as s:
            return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)

    def audit(self, operation: str) -> int:
        """The org's audit entries of ``operation``."""
        return self.count(AuditEntry, AuditEntry.op == operation)


def _settings(session_factory: sessionmaker[Session], path: Path) -> Settings:
    url = str(session_factory.kw["bind"].url.render_as_string(hide_password=False))
    return Settings(
        database_url=url,
        instance_path=path,
        secret_key=SECRET_KEY,
        rate_limit_scim="1000000/minute",
        rate_limit_api="1000000/minute",
        rate_limit_auth_failures="1000000/minute",
        webhook_allow_private=True,
        db_pool_timeout=120.0,  # 16 writers wait their turn on a busy machine: not a 503
    )


@pytest.fixture
def served(
    session_factory: sessionmaker[Session], tmp_path: Path, seed: Callable[..., Seeded]
) -> Iterator[Served]:
    """Two apps on the test database, each on its own loopback port."""
    org = seed("acme", "soterai", ["owner"], [OLGA, MAX])
    apps = [create_app(_settings(session_factory, tmp_path / n)) for n in ("a", "b")]
    servers = [LoopbackServer(app, quiet=True) for app in apps]  # no URL with a state in logs
    try:
        yield Served(Client(servers[0].url), Client(servers[1].url), org, session_factory)
    finally:
        for server in servers:
            server.close()
        for app in apps:
            app.extensions["rolebridge"].engine.dispose()


def _at_once(calls: list[Callable[[], requests.Response]]) -> list[requests.Response]:
    """Run the calls on CLIENTS threads, released together by a barrier."""
    barrier = Barrier(len(calls))

    def run(call: Callable[[], requests.Response]) -> requests.Response:
        barrier.wait()
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def _no_server_error(answers: list[requests.Response]) -> None:
    for a in answers:
        assert a.status_code < 500, a.text[:500]
        if a.status_code >= 400 and a.headers.get("Content-Type", "").endswith("json"):
            assert is_error_body(a.headers["Content-Type"], a.content, scim=False), a.text[:500]


def _scim(client: Client, token: str) -> int:
    headers = {"Authorization": f"Bearer {token}", "Accept": SCIM}
    return client.call("GET", "/scim/v2/Users", headers=headers, params={"count": "1"}).status_code


def test_sixteen_clients_making_tokens_and_keys_with_one_name_and_with_many(
    served: Served,
) -> None:
    """Names are labels (a rotation keeps its token's name): sixteen creates with one name
    and sixteen with their own names all succeed, each with its own secret that works; the
    hashes are unique in the database, and each create is one audit entry."""
    for kind, body in (("tokens", {}), ("keys", {"role": "manager"})):
        same = [{"name": "shared"} | body] * CLIENTS
        many = [{"name": f"client {i}"} | body for i in range(CLIENTS)]
        for bodies in (same, many):
            answers = _at_once([lambda b=b, k=kind: served.api("POST", f"/{k}", b) for b in bodies])
            _no_server_error(answers)
            assert Counter(a.status_code for a in answers) == {201: CLIENTS}
            secrets = [a.json()["token" if kind == "tokens" else "key"] for a in answers]
            assert len(set(secrets)) == CLIENTS
            assert len({a.json()["id"] for a in answers}) == CLIENTS
    assert served.count(ScimToken) == 2 * CLIENTS
    assert served.count(ApiKey) == 2 * CLIENTS + 1  # and the seeded owner key
    with served.factory() as s:
        hashes = s.scalars(select(ScimToken.token_hash)).all()
        key_hashes = s.scalars(select(ApiKey.key_hash)).all()
    assert len(set(hashes)) == len(hashes) and len(set(key_hashes)) == len(key_hashes)
    assert served.audit("create_scim_token") == 2 * CLIENTS
    assert served.audit("create_api_key") == 2 * CLIENTS
    listed = served.api("GET", "/tokens", None).json()["tokens"]
    assert len(listed) == 2 * CLIENTS


def test_the_database_refuses_a_second_token_with_one_hash(served: Served) -> None:
    """The uniqueness of a token's and a key's hash is the database's, not the code's."""
    from sqlalchemy.exc import IntegrityError

    made = served.api("POST", "/tokens", {"name": "one"}).json()
    with served.factory() as s:
        row = s.get(ScimToken, made["id"])
        assert row is not None
        s.add(ScimToken(org_id=row.org_id, token_hash=row.token_hash, name="copy"))
        with pytest.raises(IntegrityError):
            s.flush()
        s.rollback()
        key = s.scalars(select(ApiKey)).first()
        assert key is not None
        s.add(ApiKey(org_id=key.org_id, key_hash=key.key_hash, role="owner", name="copy"))
        with pytest.raises(IntegrityError):
            s.flush()


def test_one_token_rotated_and_revoked_by_sixteen_clients_at_once(served: Served) -> None:
    """Eight rotations and eight revocations of one token at once: each answer is a 201
    (a new token), a 200 (revoked) or a clear 4xx (already revoked); the old token is
    refused at once by the other app; every new token works; one revocation entry."""
    for round_ in range(3):
        made = served.api("POST", "/tokens", {"name": f"idp {round_}"}).json()
        old, token_id = made["token"], made["id"]
        assert _scim(served.other, old) == 200
        calls = [
            (lambda t=token_id: served.api("POST", f"/tokens/{t}/rotate", {}))
            if i % 2
            else (lambda t=token_id: served.api("DELETE", f"/tokens/{t}"))
            for i in range(CLIENTS)
        ]
        answers = _at_once(calls)
        _no_server_error(answers)
        rotations = [a for i, a in enumerate(answers) if i % 2]
        revocations = [a for i, a in enumerate(answers) if not i % 2]
        assert {a.status_code for a in revocations} == {200}
        assert {a.json()["revoked_at"] for a in revocations} != {None}
        assert len({a.json()["revoked_at"] for a in revocations}) == 1, "one revocation date"
        assert {a.status_code for a in rotations} <= {201, 422}
        refused = [a.json() for a in rotations if a.status_code == 422]
        assert all("revoked" in r["detail"] for r in refused), refused
        assert _scim(served.other, old) == 401, "the revoked token still works elsewhere"
        assert _scim(served.app, old) == 401
        for rotated in (a.json() for a in rotations if a.status_code == 201):
            assert rotated["name"] == f"idp {round_}"
            assert _scim(served.other, rotated["token"]) == 200
        assert served.audit("revoke_scim_token") == round_ + 1
        rotated_count = sum(a.status_code == 201 for a in rotations)
        with served.factory() as s:
            same_name = s.scalars(select(ScimToken).where(ScimToken.name == f"idp {round_}"))
            assert len(same_name.all()) == 1 + rotated_count, "a rotation left no token or two"


def test_sixteen_clients_adding_and_removing_webhooks_at_once(served: Served) -> None:
    """Sixteen adds of one URL each get their own endpoint and secret, one audit entry
    each; sixteen removals of one endpoint: one 204, fifteen 404s, never a 5xx."""
    url = "http://127.0.0.1:9/hook"
    answers = _at_once([lambda: served.api("POST", "/webhooks", {"url": url})] * CLIENTS)
    _no_server_error(answers)
    assert Counter(a.status_code for a in answers) == {201: CLIENTS}
    assert len({a.json()["secret"] for a in answers}) == CLIENTS
    assert served.audit("add_webhook") == CLIENTS
    doomed = answers[0].json()["webhook"]["id"]
    removals = _at_once([lambda: served.api("DELETE", f"/webhooks/{doomed}")] * CLIENTS)
    _no_server_error(removals)
    assert Counter(a.status_code for a in removals) == {204: 1, 404: CLIENTS - 1}
    listed = served.api("GET", "/webhooks").json()
    ids = [w["id"] for w in listed.get("webhooks", [])] if isinstance(listed, dict) else []
    assert doomed not in ids and len(ids) == CLIENTS - 1


def _oidc_body(issuer: str, i: int) -> dict[str, Any]:
    return {"issuer": issuer, "client_id": f"client-{i}", "client_secret": f"secret-{i}"}


def test_sixteen_puts_of_the_sign_in_settings_at_once(served: Served) -> None:
    """Sixteen PUTs (the first ever among them): each is accepted in turn, the last one
    stands whole (its client id with its own secret), one audit entry per accepted PUT,
    and the sealed secret always opens."""
    issuer = "https://idp.acme.example"
    for round_ in range(2):
        bodies = [_oidc_body(issuer, round_ * 100 + i) for i in range(CLIENTS)]
        answers = _at_once([lambda b=b: served.api("PUT", "/oidc", b) for b in bodies])
        _no_server_error(answers)
        assert Counter(a.status_code for a in answers) == {200: CLIENTS}
        assert served.audit("set_oidc") == CLIENTS * (round_ + 1)
        with served.factory() as s:
            row = s.get(OidcSettings, served.org.id)
            assert row is not None
            client_id, secret = row.client_id, resolve_secret(row.client_secret, SECRET_KEY)
        assert secret == "secret-" + client_id.removeprefix("client-"), "a mixed write"
        shown = served.api("GET", "/oidc").json()
        assert shown["client_id"] == client_id and shown["client_secret"] == "set"


def test_sixteen_puts_without_a_secret_keep_the_stored_one(served: Served) -> None:
    """PUTs that omit the secret, racing with one that sets a new one: the secret is the
    new one or the old one, whole, never an empty or mixed one."""
    issuer = "https://idp.acme.example"
    assert served.api("PUT", "/oidc", _oidc_body(issuer, 0)).status_code == 200
    bodies: list[dict[str, Any]] = [
        {"issuer": issuer, "client_id": f"client-{i}", "enabled": bool(i % 2)}
        for i in range(CLIENTS - 1)
    ]
    bodies.append(_oidc_body(issuer, 99))
    answers = _at_once([lambda b=b: served.api("PUT", "/oidc", b) for b in bodies])
    _no_server_error(answers)
    assert Counter(a.status_code for a in answers) == {200: CLIENTS}
    with served.factory() as s:
        row = s.get(OidcSettings, served.org.id)
        assert row is not None
        assert resolve_secret(row.client_secret, SECRET_KEY) == "secret-99"


@pytest.fixture
def provider(provider: FakeOidc) -> Iterator[FakeOidc]:
    """The org's identity provider; the HTTP client's debug lines (the callback URL with
    its state) kept out of the logs."""
    quiet = logging.getLogger("urllib3.connectionpool")
    level = quiet.level
    quiet.setLevel(logging.INFO)
    yield provider
    quiet.setLevel(level)


def test_one_callback_replayed_by_sixteen_clients_starts_one_session(
    served: Served, provider: FakeOidc
) -> None:
    """A browser's sign-in, its callback (state, code, the browser's cookie) sent sixteen
    times at once: exactly one session starts, the others get a page saying why."""
    body = {
        "issuer": provider.issuer,
        "client_id": provider.state.client_id,
        "client_secret": provider.state.client_secret,
    }
    assert served.api("PUT", "/oidc", body).status_code == 200
    provider.sign_in_as("olga@acme.com")
    for round_ in range(3):
        browser = requests.Session()
        start = browser.get(
            served.app.url + "/admin/signin/oidc/acme", allow_redirects=False, timeout=60
        )
        assert start.status_code == 302, start.text[:300]
        back = urlsplit(provider.visit(start.headers["Location"]))
        callback = f"{served.app.url}{back.path}?{back.query}"
        cookies = browser.cookies.get_dict()

        def replay(cookies: dict[str, str] = cookies, callback: str = callback) -> Any:
            return requests.get(callback, cookies=cookies, allow_redirects=False, timeout=60)

        answers = _at_once([replay] * CLIENTS)
        assert [a.status_code for a in answers if a.status_code >= 500] == []
        signed_in = [a for a in answers if a.status_code == 302]
        assert len(signed_in) == 1 and signed_in[0].headers["Location"].endswith("/admin/")
        assert {a.status_code for a in answers if a.status_code != 302} <= {400, 401}
        assert all("start again" in a.text for a in answers if a.status_code != 302)
        assert served.count(AdminSession, AdminSession.member_id.is_not(None)) == round_ + 1
        assert served.audit("sign_in") == round_ + 1
