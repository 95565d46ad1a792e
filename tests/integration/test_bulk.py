"""Bulk inserts store exactly what an ordinary insert stores, on every database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine, event, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from sync.bulk import OneOf, insert_rows
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


def _nested(depth: int) -> object:
    value: object = "bottom"
    for _ in range(depth):
        value = {"in": [value]}
    return value


def test_json_columns_keep_what_orjson_refuses(session_factory: sessionmaker[Session]) -> None:
    """JSON columns are written and read with orjson, and what it refuses or would read
    otherwise (an integer past 64 bits, a lone surrogate, nesting past 254 levels) still
    goes in and reads back as written, one by one and in bulk; an integer key reads back as
    its string, as ``json`` wrote it; the edges of 64 bits and long floats read back equal."""
    org_id, _ = _source(session_factory)
    details: list[dict[str, object]] = [
        {"big": 2**70 + 1, "negative": -(2**65) - 1},
        {"text": "a\ud800b"},
        {"deep": _nested(300)},
        {"plain": [1, 2.5, "é", None, True], 7: "int key"},
        {"digits in text": "1234567890123456789012", "long float": 0.30000000000000004},
        {"u64": 2**64 - 1, "i64": -(2**63), "float": 1.0000000000000002e-300},
    ]
    plain = {"plain": [1, 2.5, "é", None, True], "7": "int key"}
    expected = [*details[:3], plain, *details[4:]]
    row = {"org_id": org_id, "at": AT, "actor": "t", "op": "invite", "user": "u"}
    with session_factory.begin() as s:
        for detail in details:
            s.add(AuditEntry(**row, detail=detail))
        s.flush()
        insert_rows(s, AuditEntry.__table__, [{**row, "detail": d} for d in details])
    with session_factory() as s:
        stored = list(s.scalars(select(AuditEntry.detail).order_by(AuditEntry.id)))
    assert stored == expected + expected


# ids a list lookup must find as written: PostgreSQL gets the list as its array's text
# form, where quotes, backslashes, commas, braces, spaces and the word NULL are syntax
AWKWARD = ["plain", 'say "hi"', "back\\slash", "NULL", "", " spaced ", "{a,b}", "O'Brien", "ü"]


def test_a_list_lookup_finds_each_value_as_written(
    session_factory: sessionmaker[Session],
) -> None:
    """``OneOf`` binds a whole list as one parameter; each value is found as written, and
    only the values listed, for strings and for integers."""
    org_id, source_id = _source(session_factory)
    with session_factory.begin() as s:
        insert_rows(s, DirectoryUser.__table__, [_user_row(org_id, source_id, e) for e in AWKWARD])
    c = DirectoryUser.__table__.c
    by_id = select(c.ext_id).where(c.org_id == org_id, OneOf(c.ext_id, "ids"))
    by_source = select(c.ext_id).where(c.org_id == org_id, OneOf(c.source_id, "ids"))
    with session_factory() as s:
        for listed in (AWKWARD, AWKWARD[1:4], [], ["absent", "null", 'say "hi'], [" spaced"]):
            found = s.scalars(by_id, {"ids": listed}).all()
            assert sorted(found) == sorted(set(listed) & set(AWKWARD)), listed
        assert s.scalars(by_id, {"ids": [None, "plain"]}).all() == ["plain"]  # None: nothing
        assert sorted(s.scalars(by_source, {"ids": [source_id, -1]})) == sorted(AWKWARD)
        assert s.scalars(by_source, {"ids": [source_id + 1000]}).all() == []
