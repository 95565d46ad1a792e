"""The migration that makes SCIM userNames and displayNames unique copes with the duplicates
that concurrent creates left behind, and leaves pulled directories alone."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from sync.db import alembic_config, upgrade

REVISION = "0003"
T0 = datetime(2026, 1, 1, tzinfo=UTC)

_users = sa.table(
    "directory_users",
    *(sa.column(name) for name in ("id", "org_id", "source_id", "ext_id", "user_name")),
    *(sa.column(name) for name in ("user_name_key", "active", "version")),
    sa.column("emails", sa.JSON),
    sa.column("roles", sa.JSON),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("updated_at", sa.DateTime(timezone=True)),
    sa.column("scim_key"),
)
_groups = sa.table(
    "directory_groups",
    *(sa.column(name) for name in ("id", "org_id", "source_id", "ext_id", "display_name")),
    *(sa.column(name) for name in ("display_name_key", "version")),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("updated_at", sa.DateTime(timezone=True)),
    sa.column("scim_key"),
)


def _downgrade(engine: Engine) -> None:
    """Back to the revision before the unique keys, wherever it sits in the chain."""
    cfg = alembic_config(engine)
    before = ScriptDirectory.from_config(cfg).get_revision(REVISION).down_revision
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, str(before))


def _seed(conn: sa.Connection) -> None:
    """Org 1: a scim source with duplicate keys, a graph source with duplicates of its own."""
    conn.execute(
        sa.text(
            "INSERT INTO organisations (id, name, role_model, plan, created_at) "
            "VALUES (1, 'acme', 'aihub', 'enterprise', :t)"
        ),
        {"t": T0},
    )
    conn.execute(
        sa.text(
            "INSERT INTO sources (id, org_id, name, kind, config, enabled, force_next, "
            "created_at) VALUES (:id, 1, :name, :kind, '{}', true, false, :t)"
        ),
        [
            {"id": 1, "name": "scim", "kind": "scim", "t": T0},
            {"id": 2, "name": "entra", "kind": "graph", "t": T0},
        ],
    )
    users = [
        (1, 1, "u-young", "Ann@acme.com", T0 + timedelta(seconds=5)),
        (2, 1, "u-old", "ann@acme.com", T0),
        (3, 1, "u-bob", "bob@acme.com", T0),
        (4, 2, "g-ann1", "ann@acme.com", T0),
        (5, 2, "g-ann2", "ANN@acme.com", T0),
        (6, 1, "u-sz", "Straße@acme.com", T0 + timedelta(seconds=9)),  # lower(): straße
        (7, 1, "u-ss", "strasse@acme.com", T0),
    ]
    conn.execute(
        sa.insert(_users),
        [
            {
                "id": i,
                "org_id": 1,
                "source_id": s,
                "ext_id": e,
                "user_name": n,
                "user_name_key": n.lower(),
                "emails": [],
                "roles": [],
                "active": True,
                "version": 1,
                "created_at": at,
                "updated_at": at,
            }
            for i, s, e, n, at in users
        ],
    )
    groups = [
        (1, 1, "s-eng1", "Eng"),
        (2, 1, "s-eng2", "ENG"),
        (3, 2, "e-1", "Eng"),
        (4, 2, "e-2", "Eng"),
    ]
    conn.execute(
        sa.insert(_groups),
        [
            {
                "id": i,
                "org_id": 1,
                "source_id": s,
                "ext_id": e,
                "display_name": n,
                "display_name_key": n.lower(),
                "version": 1,
                "created_at": T0,
                "updated_at": T0,
            }
            for i, s, e, n in groups
        ],
    )


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_the_oldest_scim_row_keeps_its_key_and_the_duplicates_are_reported(engine: Engine) -> None:
    """SCIM duplicates: the oldest is keyed, the rest logged; pulled rows stay unkeyed."""
    _downgrade(engine)
    try:
        with engine.begin() as conn:
            _seed(conn)
        records = _Records()
        logger = logging.getLogger("alembic.runtime.migration")
        logger.addHandler(records)
        try:
            upgrade(engine)
        finally:
            logger.removeHandler(records)
        with engine.connect() as conn:
            users = dict(conn.execute(sa.select(_users.c.ext_id, _users.c.scim_key)).all())
            groups = dict(conn.execute(sa.select(_groups.c.ext_id, _groups.c.scim_key)).all())
        assert users == {
            "u-old": "ann@acme.com",
            "u-young": None,
            "u-bob": "bob@acme.com",
            "g-ann1": None,
            "g-ann2": None,
            "u-ss": "strasse@acme.com",
            "u-sz": None,  # re-keyed to the identity key first, then a duplicate of u-ss
        }
        assert groups == {"s-eng1": "eng", "s-eng2": None, "e-1": None, "e-2": None}
        reported = [m for m in records.messages if "keeps no scim_key" in m]
        assert [next(e for e in ("u-young", "u-sz", "s-eng2") if e in m) for m in reported] == [
            "u-young",
            "u-sz",
            "s-eng2",
        ]
        with engine.connect() as conn:
            key = conn.scalar(sa.select(_users.c.user_name_key).where(_users.c.ext_id == "u-sz"))
        assert key == "strasse@acme.com"
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(
                sa.update(_users)
                .where(_users.c.ext_id == "u-young")
                .values(scim_key="ann@acme.com")
            )
    finally:
        upgrade(engine)
