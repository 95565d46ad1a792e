"""A first push into a new org keeps every lookup of a SCIM write on its index.

PostgreSQL only: it chooses an index from its statistics, and statistics taken while
the org was empty say it has no rows (sync/planner_stats.py). Each read a write sends
is explained with its own parameters and run: none may read past the rows it returns,
which a lookup through the wrong index of a grown org does.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from scim_server import create_app
from sync.settings import Settings
from sync.store.mappings import save_mapping
from sync.store.orgs import create_workspace, find_org
from tests.e2e.conftest import Scim, group, make_org, user
from tests.e2e.test_scim_statements import MAPPING, PATCH, counted

PUSHED = 400
FILTERED_AT_MOST = 20  # rows a lookup may read and drop: far below the org's size


def _filtered(plan: dict[str, Any]) -> list[tuple[str, int]]:
    """(node, rows removed by its filter) for every node of an explained plan."""
    out = [
        (
            plan["Node Type"] + " " + plan.get("Index Name", ""),
            plan.get("Rows Removed by Filter", 0),
        )
    ]
    for child in plan.get("Plans", []):
        out += _filtered(child)
    return out


def _app(settings: Settings) -> Flask:
    app = create_app(settings)
    app.config["TESTING"] = True
    return app


def test_a_first_push_into_a_new_org_reads_only_what_each_write_touches(
    engine: Engine, settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    """An org of 300 users is analysed while the new org is empty; 400 users are then
    pushed into the new org (test_scim_statements' mapping in force). The reads of the
    next writes (lookup, create, add to Staff, deactivate) each read no more rows than
    they return."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite chooses indexes without statistics of this kind")
    seeding = _app(settings)
    old = Scim(seeding.test_client(), make_org(session_factory, "old"))
    for i in range(300):
        assert old.post("/Users", user(f"old{i:04d}@old.example")).status_code == 201
    seeding.extensions["rolebridge"].engine.dispose()
    with engine.connect() as connection:
        connection.execute(text("ANALYZE"))  # statistics of a database without the new org
        connection.commit()

    token = make_org(session_factory, "new")
    with session_factory.begin() as session:
        org = find_org(session, "new")
        save_mapping(session, org.id, MAPPING, created_by="test")
        create_workspace(session, org.id, "w1")
    app = _app(settings)
    served = app.extensions["rolebridge"].engine
    try:
        new = Scim(app.test_client(), token)
        staff = new.post("/Groups", group("Staff")).get_json()["id"]
        for i in range(PUSHED):
            assert new.post("/Users", user(f"u{i:04d}@new.example")).status_code == 201
            if i == PUSHED - 51:
                # however fast the writes went, the last 50 come after the keeper's
                # interval and after each connection reported its counts (at most once a
                # second), so the keeper's check meets them
                time.sleep(2.5)

        name = "last@new.example"
        with counted(served) as said:
            looked = new.get(f'/Users?filter=userName eq "{name}"').get_json()
            assert looked["totalResults"] == 0
            made = new.post("/Users", user(name))
            assert made.status_code == 201
            uid = made.get_json()["id"]
            add = {"op": "add", "path": "members", "value": [{"value": uid}]}
            assert new.patch(
                f"/Groups/{staff}", {"schemas": [PATCH], "Operations": [add]}
            ).status_code in (200, 204)
            off = {"op": "replace", "value": {"active": False}}
            assert (
                new.patch(f"/Users/{uid}", {"schemas": [PATCH], "Operations": [off]}).status_code
                == 200
            )
    finally:
        served.dispose()

    reads = [
        (s, p)
        for s, p in said
        if s.lstrip().upper().startswith(("SELECT", "WITH")) and "pg_" not in s
    ]
    assert len(reads) > 20, "the writes were recorded"
    worst: list[tuple[int, str, str]] = []
    with engine.connect() as connection:
        for statement, parameters in reads:
            explained = connection.exec_driver_sql(
                "EXPLAIN (ANALYZE, FORMAT JSON) " + statement, parameters
            ).scalar_one()
            plan = (json.loads(explained) if isinstance(explained, str) else explained)[0]["Plan"]
            for node, removed in _filtered(plan):
                worst.append((removed, node, statement.split("WHERE")[-1][:160]))
        connection.rollback()
    worst.sort(reverse=True)
    assert worst[0][0] <= FILTERED_AT_MOST, worst[:5]
