"""SCIM writes that find their org's lock taken are planned together (``sync.backlog``).

Writes of one org wait for its lock in turn. One that had to wait commits its mirror
change with its users queued, then waits until a pass has planned them: the first of
them to find the lock free plans every queued user at once, and the rest answer without
planning again. Each answer still comes after its users are planned (PostgreSQL; on
SQLite a write holds the database's lock from its start, and plans its own users).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session, sessionmaker

from sync import backlog
from sync.models import Organisation, OutboxMessage
from sync.reconcile import locked
from sync.store.platform import load_state
from sync.store.runs import list_runs
from tests.e2e.conftest import group, user
from tests.fuzz.serving import Served, served_app

WRITES = 8
MAPPING = """
role_model: aihub
rules:
  - group: Staff
    org_role: user
policy:
  acting_role: admin
"""
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


@pytest.fixture
def served(session_factory: sessionmaker[Session], tmp_path: Any) -> Iterator[Served]:
    """rolebridge on a loopback port, its org mapping ``Staff`` to the org role ``user``."""
    with served_app(session_factory, tmp_path, MAPPING) as server:
        yield server


def _org_id(session_factory: sessionmaker[Session]) -> int:
    with session_factory() as s:
        return s.scalars(select(Organisation.id).where(Organisation.name == "acme")).one()


def _waiting_for_locks(engine: Engine) -> int:
    with engine.connect() as conn:
        query = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
        return int(conn.execute(text(query)).scalar_one())


def _add(served: Served, group_id: str, user_id: str) -> requests.Response:
    body = {
        "schemas": [PATCH],
        "Operations": [{"op": "add", "path": "members", "value": [{"value": user_id}]}],
    }
    return served.patch(f"/Groups/{group_id}", body)


def test_writes_that_waited_for_the_lock_are_planned_in_one_pass(
    served: Served, session_factory: sessionmaker[Session], engine: Engine
) -> None:
    """Eight members added to ``Staff`` while the org's lock is held: all eight answer 204
    once invited, each invited once (one email each), by one reconcile run of eight."""
    if engine.dialect.name != "postgresql":
        pytest.skip("the backlog is PostgreSQL's: SQLite's writers queue on its file lock")
    ids = [served.post("/Users", user(f"q{i}@queue.example")).json()["id"] for i in range(WRITES)]
    staff = served.post("/Groups", group("Staff")).json()["id"]
    org_id = _org_id(session_factory)
    with session_factory() as s:
        runs_before = {run.id for run in list_runs(s, org_id)}
    with ThreadPoolExecutor(WRITES) as pool:
        with locked(session_factory, org_id):  # an admin's change, say, holds the lock
            answers = [pool.submit(_add, served, staff, uid) for uid in ids]
            deadline = time.monotonic() + 30
            while _waiting_for_locks(engine) < WRITES:
                assert time.monotonic() < deadline, "the writes never waited for the lock"
                time.sleep(0.01)
        statuses = Counter(answer.result().status_code for answer in answers)
    assert statuses == {204: WRITES}
    with session_factory() as s:
        members = load_state(s, org_id).members
        invited = {m.email: m.status for m in members}
        emails = Counter(s.scalars(select(OutboxMessage.recipient)))
        runs = [run for run in list_runs(s, org_id) if run.id not in runs_before]
        assert backlog.queued(s, org_id) == []
    expected = {f"q{i}@queue.example" for i in range(WRITES)}
    assert {email for email, status in invited.items() if status == "invited"} == expected
    assert {email: emails[email] for email in expected} == dict.fromkeys(expected, 1)
    # the eight mirror writes committed in turn; then one pass planned all eight
    assert [(run.trigger, run.counts) for run in runs] == [("scim", {"invite": WRITES})]


def test_a_pass_that_fails_leaves_its_users_queued_for_the_next(
    session_factory: sessionmaker[Session], engine: Engine, tmp_path: Any
) -> None:
    """The pass rolls back with the users still queued; the next pass plans them."""
    if engine.dialect.name != "postgresql":
        pytest.skip("the backlog is PostgreSQL's")
    with served_app(session_factory, tmp_path, MAPPING):
        org_id = _org_id(session_factory)
    with session_factory.begin() as s:
        backlog.queue(s, org_id, ["u-1", "u-2"])

    def fail(_session: Session, _users: list[str]) -> None:
        raise RuntimeError("the reconcile failed")

    with pytest.raises(RuntimeError):
        backlog.drain(session_factory, org_id, ["u-1"], fail)
    planned: list[list[str]] = []
    with session_factory() as s:
        assert backlog.queued(s, org_id) == ["u-1", "u-2"]
    backlog.drain(session_factory, org_id, ["u-2"], lambda _s, users: planned.append(users))
    assert planned == [["u-1", "u-2"]]
    with session_factory() as s:
        assert backlog.queued(s, org_id) == []
