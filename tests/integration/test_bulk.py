"""Bulk inserts store exactly what an ordinary insert stores, on every database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine, event, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from sync.bulk import insert_rows
from sync.models import AuditEntry, Base, DirectoryUser, Organisation, Source

AT = datetime(2026, 11, 27, 9, 30, tzinfo=timezone(timedelta(hours=2)))


def _source(session_factory: sessionmaker[Session]) -> tuple[int, int]:
    with session_factory.begin() as s:
        org = Organisation(name="Acme", role_model="soterai")
        s.add(org)
        s.flush()
        source = Source(org_id=org.id, name="okta", kind="okta", config={})
        s.add(source)
        s.flush()
        return org.id, source.id


def _user_row(org_id: int, source_id: int, ext_id: str) -> dict[str, object]:
    return {
        "org_id": org_id,
        "source_id": source_id,
        "ext_id": ext_id,
        "user_name": f"{ext_id}@acme.com",
        "user_name_key": f"{ext_id}@acme.com",
        "emails": [f"{ext_id}@acme.com", 'O\'Brien "quoted"\t\\tab@acme.com'],
        "roles": [],
        "active": ext_id != "u02",
        "created_at": AT,
    }


@pytest.mark.parametrize("count", [2, 30])  # PostgreSQL: one multi-row INSERT, then COPY
def test_bulk_rows_read_back_like_rows_inserted_one_by_one(
    session_factory: sessionmaker[Session], count: int
) -> None:
    """JSON lists, booleans, UTC times and column defaults come back the same either way."""
    org_id, source_id = _source(session_factory)
    table = Base.metadata.tables["directory_users"]
    bulk = [f"u{n:02d}" for n in range(1, count + 1)]
    with session_factory.begin() as s:
        insert_rows(s, table, [_user_row(org_id, source_id, u) for u in bulk])
        s.execute(insert(table), [_user_row(org_id, source_id, "z1")])
    with session_factory() as s:
        rows = s.scalars(select(DirectoryUser).order_by(DirectoryUser.ext_id)).all()

    def seen(r: DirectoryUser) -> tuple[object, ...]:
        return (r.emails[1], r.roles, r.created_at, r.version, r.resource, r.display_name)

    assert [r.ext_id for r in rows if not r.active] == ["u02"]
    assert len(rows) == count + 1
    assert all(seen(r) == seen(rows[-1]) for r in rows)
    assert rows[0].created_at == AT and rows[0].created_at.tzinfo == UTC
    assert rows[0].emails[1] == 'O\'Brien "quoted"\t\\tab@acme.com'
    assert all(r.updated_at is not None for r in rows), "callable defaults are filled in"


def test_a_bulk_insert_that_breaks_a_constraint_raises_an_integrity_error(
    session_factory: sessionmaker[Session],
) -> None:
    """A duplicate key fails the whole insert with SQLAlchemy's usual exception."""
    org_id, source_id = _source(session_factory)
    table = Base.metadata.tables["directory_users"]
    rows = [_user_row(org_id, source_id, "u1"), _user_row(org_id, source_id, "u1")]
    with pytest.raises(IntegrityError), session_factory.begin() as s:
        insert_rows(s, table, rows)
    with session_factory() as s:
        assert s.scalars(select(DirectoryUser)).all() == []


def test_listeners_on_sql_see_a_bulk_insert(
    engine: Engine, session_factory: sessionmaker[Session]
) -> None:
    """Statement listeners (logging, metrics) are told about the bulk insert."""
    org_id, _ = _source(session_factory)
    seen: list[str] = []

    def note(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        seen.append(statement.split("(")[0].strip())

    event.listen(engine, "before_cursor_execute", note)
    try:
        with session_factory.begin() as s:
            row = {"org_id": org_id, "actor": "t", "op": "invite", "detail": {"op": "invite"}}
            insert_rows(s, Base.metadata.tables["audit_log"], [row, row])
    finally:
        event.remove(engine, "before_cursor_execute", note)
    assert any(s in ("INSERT INTO audit_log", "COPY audit_log") for s in seen)
    with session_factory() as s:
        entries = s.scalars(select(AuditEntry)).all()
    assert [(e.user, e.detail) for e in entries] == [("", {"op": "invite"})] * 2
