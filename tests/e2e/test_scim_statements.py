"""How many SQL statements a SCIM write costs, pinned: each is a round trip on PostgreSQL.

The four writes ``benchmarks/scim_write.py`` measures, in an org under a mapping with a
group rule, a regex workspace rule, ``apply: auto`` and a percentage ``max_removals``
(benchmarks/README.md, "SCIM writes with a mapping in force"). A change that adds a
round trip to one of them fails here; lower the bound when a change removes one.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
from flask import Flask
from sqlalchemy import event, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from benchmarks.scim_write import MAPPING  # the benchmark's mapping: its writes, pinned
from sync.credentials.tokens import create_token
from sync.db import PING_AFTER
from sync.models import Base, Member, WorkspaceRole
from sync.store.mappings import save_mapping
from sync.store.orgs import create_org, create_workspace
from tests.e2e.conftest import Scim, group, make_org, user

PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"

# statements per write, at most (SQLite, PostgreSQL): SQLite's ``BEGIN IMMEDIATE`` is one,
# PostgreSQL's org advisory lock at the start of the write's transaction another; a
# plan that takes nothing from anyone reads neither the removal window nor the member
# count (only ``patch_deactivate``'s suspension does), and whether a plan of the org
# waits is a column of the org's and its mapping's one statement; the apply reads no
# member the gather read or looked up in vain; the gather looks members up by the keys of
# the users it just read (so its last round reads no member), and a round's users by id
# and by either key in one statement, its first members lookup the top role's joined
# holders too; a user PATCH reads its user
# once (locked, kept for the replace that follows) and checks the userName's uniqueness
# only when it changes
BOUNDS = {
    "post_user": (11, 10),
    "patch_add_member": (21, 20),
    "patch_deactivate": (21, 20),
    "group_patch_20": (21, 20),
}


@contextmanager
def counted(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    """The SQL statements sent through ``engine`` meanwhile, each with its parameters (an
    executemany counts once)."""
    said: list[tuple[str, Any]] = []

    def record(*args: Any) -> None:
        said.append((args[2], args[3]))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield said
    finally:
        event.remove(engine, "before_cursor_execute", record)


def add(*ids: str) -> dict[str, Any]:
    value = [{"value": i} for i in ids]
    return {"schemas": [PATCH], "Operations": [{"op": "add", "path": "members", "value": value}]}


def remove(*ids: str) -> dict[str, Any]:
    value = [{"value": i} for i in ids]
    return {"schemas": [PATCH], "Operations": [{"op": "remove", "path": "members", "value": value}]}


def _mapped_org(session_factory: sessionmaker[Session], name: str) -> str:
    """An org of three workspaces under the benchmark's mapping; its SCIM token."""
    with session_factory.begin() as session:
        org = create_org(session, name, "aihub")
        for n in range(3):
            create_workspace(session, org.id, f"w{n}")
        save_mapping(session, org.id, MAPPING)
        _, token = create_token(session, org.name)
    return token


def test_each_scim_write_stays_within_its_statement_count(
    app: Flask, session_factory: sessionmaker[Session]
) -> None:
    """POST /Users, a PATCH adding one member, a PATCH ``active: false`` and a group PATCH
    of 20 members each send no more statements than pinned, and do what they say."""
    scim = Scim(app.test_client(), _mapped_org(session_factory, "counted"))
    ids = [scim.post("/Users", user(f"u{i}@example.com")).get_json()["id"] for i in range(40)]
    staff = scim.post("/Groups", group("Staff", *ids[:30])).get_json()["id"]
    ws1 = scim.post("/Groups", group("ws-1")).get_json()["id"]
    engine = app.extensions["rolebridge"].engine
    column = 1 if engine.dialect.name == "postgresql" else 0

    def members() -> dict[str, str]:
        with session_factory() as session:
            return {e: s for e, s in session.execute(select(Member.email, Member.status))}

    assert members().get("u31@example.com") is None
    with counted(engine) as said:
        created = scim.post("/Users", user("new@example.com"))
    assert created.status_code == 201
    assert len(said) <= BOUNDS["post_user"][column], said

    with counted(engine) as said:
        answer = scim.patch(f"/Groups/{staff}", add(ids[31]))
    assert answer.status_code in (200, 204)
    assert members()["u31@example.com"] == "invited"
    assert len(said) <= BOUNDS["patch_add_member"][column], said

    assert members()["u0@example.com"] == "invited"
    off = {"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"active": False}}]}
    with counted(engine) as said:
        answer = scim.patch(f"/Users/{ids[0]}", off)
    assert answer.status_code == 200
    assert "u0@example.com" not in members()  # ``unmapped: remove``
    assert len(said) <= BOUNDS["patch_deactivate"][column], said

    with counted(engine) as said:
        answer = scim.patch(f"/Groups/{ws1}", add(*ids[1:21]))
    assert answer.status_code in (200, 204)
    with session_factory() as session:
        roles = session.scalar(select(func.count()).select_from(WorkspaceRole))
    assert roles == 20
    assert len(said) <= BOUNDS["group_patch_20"][column], said


def test_a_request_takes_one_connection_and_at_most_one_transaction_postgresql(
    app: Flask, session_factory: sessionmaker[Session]
) -> None:
    """On PostgreSQL a write goes on in the transaction its token check began, on the same
    connection, and a lookup runs in autocommit: each takes one connection from the pool
    (one ping) and a write one BEGIN and COMMIT, a lookup none. Before, a write checked
    its token in a transaction of its own: two checkouts and two transactions."""
    engine = app.extensions["rolebridge"].engine
    if engine.dialect.name != "postgresql":
        pytest.skip("round trips of PostgreSQL; SQLite checks a write's token apart")
    with session_factory.begin() as session:
        org = create_org(session, "one-trip", "aihub")
        create_workspace(session, org.id, "w1")
        save_mapping(session, org.id, MAPPING)
        _, token = create_token(session, org.name)
    scim = Scim(app.test_client(), token)
    first = scim.post("/Users", user("first@example.com")).get_json()["id"]  # "last used"
    staff = scim.post("/Groups", group("Staff")).get_json()["id"]
    taken: list[int] = []
    commits: list[int] = []
    autocommit: list[bool] = []

    def on_checkout(*_args: Any) -> None:
        taken.append(1)

    def on_commit(*_args: Any) -> None:
        commits.append(1)

    def on_statement(conn: Any, *_args: Any) -> None:
        autocommit.append(conn.connection.dbapi_connection.autocommit)

    event.listen(engine, "checkout", on_checkout)
    event.listen(engine, "commit", on_commit)
    event.listen(engine, "before_cursor_execute", on_statement)
    try:
        for method, path, body, status in (
            ("POST", "/Users", user("second@example.com"), 201),
            ("PATCH", f"/Groups/{staff}", add(first), 204),
        ):
            for seen in (taken, commits, autocommit):
                seen.clear()
            assert scim.request(method, path, body).status_code == status
            assert (len(taken), len(commits)) == (1, 1), (method, taken, commits)
            assert autocommit and not any(autocommit)
        with session_factory() as session:
            invited = session.scalar(
                select(Member.status).where(Member.email == "first@example.com")
            )
        assert invited == "invited"  # the PATCH's plan applied in that one transaction
        taken.clear()
        autocommit.clear()
        found = scim.get('/Users?filter=userName eq "second@example.com"').get_json()
        assert found["totalResults"] == 1
        assert len(taken) == 1 and autocommit and all(autocommit)
    finally:
        event.remove(engine, "checkout", on_checkout)
        event.remove(engine, "commit", on_commit)
        event.remove(engine, "before_cursor_execute", on_statement)


def test_a_connection_is_pinged_only_after_it_sat_idle_postgresql(
    app: Flask, session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pooled connection given back moments ago goes to the next request unpinged (a
    round trip fewer per request under load); one idle for longer than ``PING_AFTER`` is
    pinged, and one the server dropped meanwhile (a database restart) is replaced before
    the request uses it: the request answers as usual, no 503."""
    engine = app.extensions["rolebridge"].engine
    if engine.dialect.name != "postgresql":
        pytest.skip("pooled PostgreSQL connections; SQLite's are files")
    scim = Scim(app.test_client(), make_org(session_factory, "pinged"))
    pings: list[int] = []
    ping = engine.dialect.do_ping

    def counted_ping(dbapi_connection: Any) -> bool:
        pings.append(dbapi_connection.info.backend_pid)
        return ping(dbapi_connection)

    monkeypatch.setattr(engine.dialect, "do_ping", counted_ping)
    opened: list[int] = []

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        opened.append(dbapi_connection.info.backend_pid)

    engine.dispose()  # from here on the pool holds only what these requests open
    event.listen(engine, "connect", on_connect)
    try:
        lookup = '/Users?filter=userName eq "nobody@example.com"'
        assert scim.get(lookup).status_code == 200  # new connections: not pinged
        assert scim.get(lookup).status_code == 200  # given back moments ago: not pinged
        assert pings == [] and opened
        time.sleep(PING_AFTER + 0.1)
        url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(url, autocommit=True) as admin:  # as a database restart would
            for backend in opened:
                admin.execute("SELECT pg_terminate_backend(%s)", (backend,))
        killed = list(opened)
        answer = scim.get(lookup)
        assert answer.status_code == 200, answer.get_json()
        # idle past the window: pinged, found dead, replaced by a new connection
        assert pings and set(pings) <= set(killed), (pings, killed)
        assert len(opened) > len(killed)
    finally:
        event.remove(engine, "connect", on_connect)


def test_lookups_keep_the_statements_postgresql_prepared(
    app: Flask, session_factory: sessionmaker[Session]
) -> None:
    """A lookup leaves its connection's prepared statements alone (it runs in autocommit;
    a transaction a request leaves open ends with a COMMIT): psycopg forgets every
    statement it prepared on a connection that rolls back, so a ROLLBACK per lookup made
    PostgreSQL parse and plan every statement of the writes that followed on it."""
    engine = app.extensions["rolebridge"].engine
    if engine.dialect.name != "postgresql":
        pytest.skip("prepared statements are psycopg's, on PostgreSQL")
    scim = Scim(app.test_client(), make_org(session_factory, "prepared"))
    engine.pool.dispose()  # a fresh pool: the lookups' connections only
    # past psycopg's threshold (5 runs of one statement on a connection) on each of the
    # two connections the lookups take in turn (the first one's "last used" write, in its
    # own transaction, opened a second)
    for n in range(14):
        found = scim.get(f'/Users?filter=userName eq "nobody{n}@example.com"').get_json()
        assert found["totalResults"] == 0
    with engine.connect() as connection:
        prepared = connection.exec_driver_sql("SELECT count(*) FROM pg_prepared_statements")
        assert prepared.scalar_one() > 0
        connection.commit()


def test_each_read_of_a_scim_write_goes_through_an_index_sqlite(
    app: Flask, session_factory: sessionmaker[Session]
) -> None:
    """Every statement a SCIM write sends that reads rows finds them through an index (a
    list of ids or keys, bound as one JSON parameter, is looked up value by value), never
    by scanning a table: SQLite's plan of each, with its own parameters."""
    engine = app.extensions["rolebridge"].engine
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite's plans; PostgreSQL's are tests/e2e/test_planner_stats.py")
    scim = Scim(app.test_client(), _mapped_org(session_factory, "indexed"))
    ids = [scim.post("/Users", user(f"u{i}@example.com")).get_json()["id"] for i in range(30)]
    staff = scim.post("/Groups", group("Staff", *ids[:10])).get_json()["id"]
    ws1 = scim.post("/Groups", group("ws-1")).get_json()["id"]
    off = {"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"active": False}}]}
    with counted(engine) as said:
        assert scim.post("/Users", user("new@example.com")).status_code == 201
        assert scim.patch(f"/Groups/{staff}", add(ids[11])).status_code == 204
        assert scim.patch(f"/Users/{ids[0]}", off).status_code == 200
        assert scim.patch(f"/Groups/{ws1}", add(*ids[1:21])).status_code == 204
        assert scim.patch(f"/Groups/{staff}", remove(*ids[5:8])).status_code == 204
    explained = 0
    tables = [["SCAN", name] for name in Base.metadata.tables]
    with engine.connect() as conn:
        for statement, parameters in said:
            if not statement.lstrip().upper().startswith(("SELECT", "WITH", "DELETE", "UPDATE")):
                continue
            plan = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
            # a scan of a subquery's rows, a JSON list's or a recursive query's own is
            # no table's
            scans = [r[3] for r in plan if r[3].split()[:2] in tables]
            assert not scans, (statement, scans)
            explained += 1
    assert explained > 20
