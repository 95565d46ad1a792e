"""SCIM's promises under concurrent clients, against the app served on a loopback port.

Sixteen clients at once, as a busy IdP sends them: one user per userName and one group
per displayName (the losers of a race get 409 ``uniqueness``), deletes of users who share
groups never answer 500, and a member added while its user is deleted never dangles.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from threading import Barrier
from typing import Any

import pytest
import requests
from flask import Flask
from sqlalchemy import event, select, update
from sqlalchemy.orm import Session, sessionmaker

from sync.models import ScimToken, utcnow
from tests.e2e.conftest import Scim, group, make_org, user
from tests.fuzz.serving import Served, served_app

CLIENTS = 16
MAPPING = """
role_model: aihub
rules:
  - group: "AI Users"
    org_role: user
  - match: '^proj-(?P<workspace>[a-z]+)-(?P<role>user|manager)$'
    workspace: "{workspace}"
    workspace_role: "{role}"
policy:
  unmapped: remove
  max_removals: 1000
  acting_role: admin
"""
SHARED = ("AI Users", "proj-alpha-user", "proj-beta-manager")
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


@pytest.fixture
def served(session_factory: Any, tmp_path: Any) -> Iterator[Served]:
    """rolebridge on a loopback port with one org, its mapping and its SCIM token."""
    with served_app(session_factory, tmp_path, MAPPING) as server:
        yield server


def _at_once(calls: list[Callable[[], requests.Response]]) -> list[requests.Response]:
    """Run the calls on CLIENTS threads, released together by a barrier."""
    barrier = Barrier(min(CLIENTS, len(calls)))

    def run(call: Callable[[], requests.Response]) -> requests.Response:
        barrier.wait()
        return call()

    with ThreadPoolExecutor(CLIENTS) as pool:
        return list(pool.map(run, calls))


def test_sixteen_clients_creating_one_user_name_get_one_201_and_fifteen_409s(
    served: Served,
) -> None:
    """Per userName (in any case) exactly one create succeeds, and the lookup finds one user."""
    for round_ in range(3):
        name = f"dup{round_}@conc.com"
        bodies = [user(name if i % 2 else name.upper().replace("CONC", "Conc")) for i in range(16)]
        answers = _at_once([lambda b=b: served.post("/Users", b) for b in bodies])
        assert Counter(a.status_code for a in answers) == {201: 1, 409: 15}
        assert {a.json()["scimType"] for a in answers if a.status_code == 409} == {"uniqueness"}
        found = served.get("/Users", filter=f'userName eq "{name}"').json()
        assert found["totalResults"] == 1


def test_sixteen_clients_creating_one_group_name_get_one_201_and_fifteen_409s(
    served: Served,
) -> None:
    """Per displayName (in any case) exactly one group is created."""
    for round_ in range(3):
        name = f"Team {round_}"
        bodies = [group(name if i % 2 else name.upper()) for i in range(16)]
        answers = _at_once([lambda b=b: served.post("/Groups", b) for b in bodies])
        assert Counter(a.status_code for a in answers) == {201: 1, 409: 15}
        assert {a.json()["scimType"] for a in answers if a.status_code == 409} == {"uniqueness"}
        found = served.get("/Groups", filter=f'displayName eq "{name}"').json()
        assert found["totalResults"] == 1


def test_sixteen_clients_deleting_users_who_share_groups_never_get_a_500(
    session_factory: Any, tmp_path: Any
) -> None:
    """160 users in the same 3 groups, deleted by 16 clients at once: all 204, groups empty.

    The groups carry long names, so that few versions of their rows fit in a page and each
    delete's UPDATE of the three groups finds them in a changing order (PostgreSQL).
    """
    with served_app(session_factory, tmp_path) as served:  # no mapping: only the deletes
        ids = [served.post("/Users", user(f"u{i}@share.com")).json()["id"] for i in range(160)]
        groups = []
        for name in SHARED:
            body = group(name + " " * 380, *ids) | {"externalId": name.ljust(255, "x")}
            groups.append(served.post("/Groups", body).json()["id"])
        answers = _at_once([lambda i=i: served.delete(f"/Users/{i}") for i in ids])
        assert Counter(a.status_code for a in answers) == {204: 160}
        for group_id in groups:
            assert served.get(f"/Groups/{group_id}").json().get("members", []) == []


def test_a_member_added_while_its_user_is_deleted_never_dangles(served: Served) -> None:
    """PATCH add and DELETE of the same user, at once: the group lists only existing users."""
    ids = [served.post("/Users", user(f"r{i}@race.com")).json()["id"] for i in range(48)]
    group_id = served.post("/Groups", group("Racing")).json()["id"]

    def add(member: str) -> requests.Response:
        body = {
            "schemas": [PATCH],
            "Operations": [{"op": "add", "path": "members", "value": [{"value": member}]}],
        }
        return served.patch(f"/Groups/{group_id}", body)

    calls: list[Callable[[], requests.Response]] = []
    for member in ids:
        calls += [lambda m=member: add(m), lambda m=member: served.delete(f"/Users/{m}")]
    answers = _at_once(calls)
    assert all(a.status_code < 500 for a in answers)
    members = served.get(f"/Groups/{group_id}").json().get("members", [])
    assert [
        m["value"] for m in members if served.get(f"/Users/{m['value']}").status_code == 404
    ] == []


def test_a_scim_request_never_holds_two_pooled_connections(
    app: Flask, session_factory: sessionmaker[Session]
) -> None:
    """A token's "last used", due once a minute, is written after the request gave its
    connection back: 16 writers whose token was due at once each held one connection and
    waited for a second, the pool's 15 all held, until the pool's timeout."""
    engine = app.extensions["rolebridge"].engine
    held: Counter[int] = Counter()
    most = Counter[str]()

    def checkout(*_: Any) -> None:
        held[threading.get_ident()] += 1
        most["held"] = max(most["held"], held[threading.get_ident()])

    def checkin(*_: Any) -> None:
        held[threading.get_ident()] -= 1

    scim = Scim(app.test_client(), make_org(session_factory, "acme"))
    event.listen(engine, "checkout", checkout)
    event.listen(engine, "checkin", checkin)
    try:
        created = scim.post("/Users", user("ann@pool.com"))  # the token's first use: due
        assert created.status_code == 201, created.json
        with session_factory.begin() as s:
            s.execute(update(ScimToken).values(last_used_at=utcnow() - timedelta(minutes=5)))
        assert scim.get("/Users").status_code == 200  # due again, on a read
    finally:
        event.remove(engine, "checkout", checkout)
        event.remove(engine, "checkin", checkin)
    assert most["held"] == 1
    with session_factory() as s:
        used = s.scalars(select(ScimToken.last_used_at)).one()
    assert used is not None and utcnow() - used < timedelta(minutes=1)
