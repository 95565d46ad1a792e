"""Admin API: where visibility is per workspace (annotation), the members list keeps in
its query only the members a key may see, so every page is full while more remain."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker

from mappings import load_role_model
from mappings.authority import Caller, visible_members
from sync.credentials.apikeys import create_api_key
from sync.store.platform import load_state
from tests.e2e.admin.conftest import MemberSpec, Seeded

ANNOTATION = load_role_model("annotation")
LIMIT = 4
WORKSPACES = {"w1": 0, "w2": 0, "w3": 0, "w4": 0}  # w4: nobody


def _member(i: int) -> dict[str, list[str]]:
    """Member i's workspace roles: 12 of the 75 are where a w1 project manager and a w3
    annotation manager see them; the rest are in w2, or hold only roles those do not see."""
    if i % 20 == 0:
        return {"w1": ["member"], "w2": ["member"]}
    if i % 20 == 7:
        return {"w1": ["developer", "project_manager"], "w3": ["developer"]}  # w1's own level
    if i % 20 == 13:
        return {"w3": ["annotation_manager", "project_manager"]}  # w3: the manager only
    if i % 3 == 1:
        return {"w1": ["developer"]}  # above a project manager: not seen there
    if i % 3 == 2:
        return {"w3": ["project_manager"]}  # above an annotation manager
    return {"w2": ["member", "admin"]} if i % 2 else {}


SPARSE = sum(1 for i in range(75) if i % 20 in (0, 7, 13))  # 12: three pages of 4
MEMBERS: list[MemberSpec] = [
    (f"user{i:03d}@ann.com", "member", "joined", "idp", _member(i)) for i in range(75)
]
SCOPED = {"w1": "project_manager", "w3": "annotation_manager"}


@pytest.fixture
def org(seed: Callable[..., Seeded]) -> Seeded:
    """An annotation org of 75 members across w1, w2 and w3, and an admin key."""
    return seed("ann", "annotation", ["admin"], MEMBERS, workspaces=WORKSPACES)


def _key(factory: sessionmaker[Session], org: Seeded, role: str, ws: Mapping[str, str]) -> str:
    with factory.begin() as s:
        return create_api_key(s, org.id, role, ["member", "admin"], f"{role} {ws}", ws)[1]


def _walk(client: FlaskClient, key: str, query: str = "") -> list[list[dict[str, Any]]]:
    """Every page of the members list at ``LIMIT``, following next_cursor."""
    pages: list[list[dict[str, Any]]] = []
    cursor = ""
    while True:
        r = client.get(
            f"/api/v1/orgs/ann/members?limit={LIMIT}{query}{cursor}",
            headers={"Authorization": f"Bearer {key}"},
        )
        assert r.status_code == 200, r.json
        pages.append(r.json["members"])
        if r.json["next_cursor"] is None:
            return pages
        cursor = f"&cursor={r.json['next_cursor']}"


def _expected(factory: sessionmaker[Session], org: Seeded, caller: Caller) -> dict[str, Any]:
    """What the core's in-memory filter shows the caller: email -> workspace roles."""
    with factory() as s:
        members = load_state(s, org.id).members
    return {
        m.email: {ws: sorted(r) for ws, r in m.workspaces.items()}
        for m in visible_members(ANNOTATION, caller, members)
    }


def _full_pages(pages: list[list[dict[str, Any]]], total: int) -> None:
    """Every page but the last holds LIMIT members; the last holds the rest (none empty)."""
    assert [len(p) for p in pages] == [LIMIT] * (total // LIMIT) + (
        [total % LIMIT] if total % LIMIT else []
    )


@pytest.mark.parametrize(
    ("role", "workspaces"),
    [("member", SCOPED), ("member", {"w2": "developer"}), ("member", {}), ("admin", {})],
    ids=["scoped-w1-w3", "scoped-w2", "org-wide-member", "org-wide-admin"],
)
def test_a_key_pages_through_exactly_the_members_it_may_see(
    client: FlaskClient,
    org: Seeded,
    session_factory: sessionmaker[Session],
    role: str,
    workspaces: dict[str, str],
) -> None:
    """Each key's pages, walked to the end, are the members the role model shows it, each
    with only the roles it sees, in email order, once each, every page full but the last."""
    key = _key(session_factory, org, role, workspaces)
    pages = _walk(client, key)
    got = [m for p in pages for m in p]
    expected = _expected(session_factory, org, Caller("test", role, workspaces))
    assert [m["email"] for m in got] == sorted(expected)
    assert {m["email"]: m["workspaces"] for m in got} == expected
    _full_pages(pages, len(expected))
    assert len(expected) < len(MEMBERS)  # the filter hides someone from every key here


def test_sparse_visible_members_still_fill_each_page(
    client: FlaskClient, org: Seeded, session_factory: sessionmaker[Session]
) -> None:
    """75 members, 12 seen by a w1 project manager and w3 annotation manager, scattered:
    three full pages and no empty fourth, each member with only the roles it may see."""
    pages = _walk(client, _key(session_factory, org, "member", SCOPED))
    seen = {m["email"]: m["workspaces"] for p in pages for m in p}
    assert SPARSE == 12 and len(seen) == SPARSE
    assert [len(p) for p in pages] == [4, 4, 4]
    assert seen["user000@ann.com"] == {"w1": ["member"]}  # not w2: not its workspace
    assert seen["user007@ann.com"] == {"w1": ["project_manager"]}  # not developer
    assert seen["user013@ann.com"] == {"w3": ["annotation_manager"]}
    assert "user001@ann.com" not in seen  # a developer in w1 is above a project manager


def test_filters_and_visibility_narrow_together(
    client: FlaskClient, org: Seeded, session_factory: sessionmaker[Session]
) -> None:
    """q= narrows the visible members; a key that sees no one gets one empty page."""
    key = _key(session_factory, org, "member", SCOPED)
    pages = _walk(client, key, "&q=user00")
    assert [m["email"] for p in pages for m in p] == [
        "user000@ann.com",
        "user007@ann.com",
    ]
    nobody = _key(session_factory, org, "member", {"w4": "admin"})
    assert _walk(client, nobody) == [[]]


def test_one_member_is_found_by_its_key_and_shown_as_the_list_shows_it(
    client: FlaskClient, org: Seeded, session_factory: sessionmaker[Session]
) -> None:
    """GET .../members/<email>: the scoped key sees a member it may see with only those
    roles (the email in any case), and a member it may not see is not found at all."""
    key = {"Authorization": f"Bearer {_key(session_factory, org, 'member', SCOPED)}"}
    seen = client.get("/api/v1/orgs/ann/members/User007@ANN.com", headers=key)
    assert seen.status_code == 200, seen.json
    assert seen.json["email"] == "user007@ann.com"
    assert seen.json["workspaces"] == {"w1": ["project_manager"]}
    hidden = client.get("/api/v1/orgs/ann/members/user001@ann.com", headers=key)
    assert hidden.status_code == 404 and "user001" in hidden.json["detail"]
    admin = {"Authorization": f"Bearer {_key(session_factory, org, 'admin', {})}"}
    everyone = client.get("/api/v1/orgs/ann/members/user001@ann.com", headers=admin)
    assert everyone.json["workspaces"] == {"w1": ["developer"]}
    assert client.get("/api/v1/orgs/ann/members/nobody@ann.com", headers=admin).status_code == 404
