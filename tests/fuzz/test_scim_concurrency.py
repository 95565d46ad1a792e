"""The SCIM fuzzer's concurrency mode: several clients write at once, then the invariants.

Each client runs its own random sequence against the served app, all started together:
it creates, adds to and removes from shared groups, and deletes its own users; it races
the others to create users and groups with one shared name (in any case); it adds users
that their owner is deleting. Afterwards: every answer was below 500, each shared name
was created exactly once, userNames and displayNames are unique, no group lists a member
that does not exist, and each shared group holds exactly the users its writes intended.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from threading import Barrier
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session, sessionmaker

from tests.fuzz.serving import Served, served_app
from tests.fuzz.tally import TALLY, examples, is_error_body, is_failure

FUZZER = "SCIM concurrency (hypothesis)"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
GROUPS = 2
_examples = itertools.count()

Step = tuple[Any, ...]
own = st.integers(0, 3)
shared = st.integers(0, GROUPS - 1)
steps = st.one_of(
    st.tuples(st.just("add"), own, shared),
    st.tuples(st.just("remove"), own, shared),
    st.tuples(st.just("delete"), own),
    st.tuples(st.just("dup"), st.integers(0, 2), st.booleans()),
    st.tuples(st.just("dupgroup"), st.integers(0, 1), st.booleans()),
    st.tuples(st.just("doomed"), st.integers(0, 7), shared),
)
workloads = st.lists(st.lists(steps, min_size=3, max_size=10), min_size=2, max_size=6)


@pytest.fixture
def served(session_factory: sessionmaker[Session], tmp_path: Path) -> Iterator[Served]:
    """rolebridge on a loopback port with one org and its SCIM token."""
    with served_app(session_factory, tmp_path) as server:
        yield server


@dataclass
class Client:
    """One client's requests, and what its writes intend for its own users."""

    number: int
    example: int
    served: Served
    groups: list[str]
    doomed: list[str]
    users: dict[int, str | None] = field(default_factory=dict)  # None: deleted
    intended: list[set[str]] = field(default_factory=lambda: [set(), set()])
    answers: list[tuple[Step, int, str]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def send(self, step: Step, method: str, path: str, body: Any = None) -> Any:
        response = self.served.request(method, path, body)
        good = is_error_body(response.headers.get("Content-Type", ""), response.content, scim=True)
        TALLY.record(FUZZER, response.status_code, good)
        if is_failure(response.status_code, good):
            self.failures.append(f"{step} {method} {path} -> {response.status_code}")
        scim_type = response.json().get("scimType", "") if response.status_code >= 400 else ""
        self.answers.append((step, response.status_code, scim_type))
        return response

    def run(self, script: list[Step]) -> None:
        for step in script:
            getattr(self, "_" + step[0])(step, *step[1:])

    def _user(self, step: Step, j: int) -> str | None:
        if j not in self.users:
            name = f"c{self.number}-{j}-{self.example}@Fuzz.example"
            created = self.send(step, "POST", "/Users", _user(name))
            self.users[j] = created.json()["id"] if created.status_code == 201 else None
        return self.users[j]

    def _add(self, step: Step, j: int, g: int) -> None:
        user_id = self._user(step, j)
        if user_id is not None:
            self.send(step, "PATCH", f"/Groups/{self.groups[g]}", _members("add", user_id))
            self.intended[g].add(user_id)

    def _remove(self, step: Step, j: int, g: int) -> None:
        user_id = self.users.get(j)
        if user_id is not None and user_id in self.intended[g]:
            self.send(step, "PATCH", f"/Groups/{self.groups[g]}", _members("remove", user_id))
            self.intended[g].discard(user_id)

    def _delete(self, step: Step, j: int) -> None:
        user_id = self.users.get(j)
        if user_id is not None:
            self.send(step, "DELETE", f"/Users/{user_id}")
            self.users[j] = None
            for members in self.intended:
                members.discard(user_id)

    def _dup(self, step: Step, k: int, upper: bool) -> None:
        name = f"dup{k}-{self.example}@fuzz.example"
        self.send(step, "POST", "/Users", _user(name.upper() if upper else name))

    def _dupgroup(self, step: Step, k: int, upper: bool) -> None:
        name = f"Dup Team {k}-{self.example}"
        body = {"schemas": [GROUP], "displayName": name.upper() if upper else name}
        self.send(step, "POST", "/Groups", body)

    def _doomed(self, step: Step, d: int, g: int) -> None:
        doomed = self.doomed[d % len(self.doomed)]
        self.send(step, "PATCH", f"/Groups/{self.groups[g]}", _members("add", doomed))

    def _doom(self, step: Step, d: int) -> None:
        self.send(step, "DELETE", f"/Users/{self.doomed[d]}")


def _user(name: str) -> dict[str, Any]:
    return {"schemas": [USER], "userName": name, "emails": [{"value": name, "primary": True}]}


def _members(op: str, user_id: str) -> dict[str, Any]:
    if op == "remove":
        operation = {"op": "remove", "path": f'members[value eq "{user_id}"]'}
    else:
        operation = {"op": "add", "path": "members", "value": [{"value": user_id}]}
    return {"schemas": [PATCH], "Operations": [operation]}


def _listing(served: Served, resource: str) -> list[dict[str, Any]]:
    found = served.get(f"/{resource}", count="1000").json()
    assert found["totalResults"] <= 1000, "more than one page: the check would miss some"
    return list(found.get("Resources", []))


def _check(served: Served, clients: list[Client], groups: list[str]) -> None:
    """The invariants after every client finished."""
    assert [f for c in clients for f in c.failures] == []
    created = Counter(
        (step[0], step[1])
        for c in clients
        for step, status, _ in c.answers
        if step[0] in ("dup", "dupgroup") and status == 201
    )
    tried = {
        (step[0], step[1]) for c in clients for step, _, _ in c.answers if step[0][:3] == "dup"
    }
    assert created == Counter(dict.fromkeys(tried, 1)), "a shared name was created twice or never"
    losers = {
        t for c in clients for s, status, t in c.answers if s[0][:3] == "dup" and status != 201
    }
    assert losers <= {"uniqueness"}
    users, all_groups = _listing(served, "Users"), _listing(served, "Groups")
    keys = Counter(u["userName"].lower() for u in users)
    assert [k for k, n in keys.items() if n > 1] == [], "one userName, several users"
    names = Counter(g["displayName"].lower() for g in all_groups)
    assert [k for k, n in names.items() if n > 1] == [], "one displayName, several groups"
    ids = {u["id"] for u in users} | {g["id"] for g in all_groups}
    for listed in all_groups:
        values = [
            m["value"] for m in served.get(f"/Groups/{listed['id']}").json().get("members", [])
        ]
        assert [v for v in values if v not in ids] == [], f"{listed['displayName']} dangles"
        if listed["id"] in groups:
            g = groups.index(listed["id"])
            assert set(values) == set().union(*(c.intended[g] for c in clients))


def test_parallel_scim_writes_keep_uniqueness_membership_and_no_dangling_members(
    served: Served,
) -> None:
    """Random concurrent workloads from several clients leave a consistent directory."""

    @given(workload=workloads)
    @settings(
        max_examples=max(3, examples(3) // 10),  # each example is a whole concurrent run
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(workload: list[list[Step]]) -> None:
        example = next(_examples)
        groups = [
            served.post("/Groups", {"schemas": [GROUP], "displayName": f"fz{example} {g}"}).json()[
                "id"
            ]
            for g in range(GROUPS)
        ]
        doomed = [
            served.post("/Users", _user(f"doomed{d}-{example}@fuzz.example")).json()["id"]
            for d in range(len(workload))
        ]
        clients = [Client(i, example, served, groups, doomed) for i in range(len(workload))]
        scripts = [
            [*s[: len(s) // 2], ("doom", i), *s[len(s) // 2 :]] for i, s in enumerate(workload)
        ]
        barrier = Barrier(len(clients))

        def run(pair: tuple[Client, list[Step]]) -> None:
            barrier.wait()
            pair[0].run(pair[1])

        with ThreadPoolExecutor(len(clients)) as pool:
            list(pool.map(run, zip(clients, scripts, strict=True)))
        _check(served, clients, groups)

    check()
