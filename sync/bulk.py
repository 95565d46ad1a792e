"""Inserting many rows at once: ``COPY ... FROM STDIN`` on PostgreSQL (one multi-row
``INSERT`` for a few rows), executemany elsewhere.

A first sync writes hundreds of thousands of rows (mirror users and memberships, members,
audit entries, outbox messages). The ORM's bulk insert spends several microseconds per
row in Python before the driver sees it; a Core executemany skips that. On PostgreSQL
with psycopg 3, an executemany is still one (pipelined) statement per row, while COPY
streams every row in one command: about half the wall time for 300,000 memberships.

On SQLite the rows go to the driver's ``executemany`` directly: SQLAlchemy's Core
executemany still builds a parameter dict per row (about a third of the time of a 10,000-row
audit write), and the rows here already have one shape.

Neither path applies SQLAlchemy's Python-side column defaults, so ``insert_rows`` fills them
in itself; values pass through the columns' own bind processing (JSON, UTC datetimes)
either way, so every path stores the same thing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import (
    JSON,
    Boolean,
    Connection,
    Dialect,
    Table,
    TypeDecorator,
    any_,
    bindparam,
    func,
    insert,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase, Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal

__all__ = ["OneOf", "chunks", "insert_one", "insert_rows"]

_CHUNK = 2000  # values per IN (...) list; well under SQLite's and psycopg's parameter limits
# rows up to which one multi-row INSERT beats COPY on PostgreSQL: COPY is two round trips
# (the command, then the data and its end), an INSERT one
_FEW = 20


def chunks(values: Sequence[Any]) -> Iterable[Sequence[Any]]:
    """``values`` in slices small enough for one IN (...) list or one executemany."""
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


def _array_text(values: Iterable[Any]) -> str:
    """PostgreSQL's text form of an array of strings or integers: each element quoted, its
    backslashes and double quotes escaped (the string ``NULL`` stays a string), None as
    NULL."""
    return "{" + ",".join("NULL" if v is None else _quoted(v) for v in values) + "}"


def _quoted(value: Any) -> str:
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


class _ArrayAsText(TypeDecorator[Any]):
    """A list bound as PostgreSQL's text form of an array, cast by the statement
    (``::VARCHAR(255)[]``): psycopg dumps a list element by element in Python, 0.19 ms of
    CPU for a lookup of 100 ids against 0.10 with the text made by one join, and a
    100-member group PATCH binds some 14 lists."""

    impl = ARRAY
    cache_ok = True

    def bind_processor(self, dialect: Dialect) -> Any:
        return _array_text


class OneOf(ColumnElement[bool]):
    """``column IN (...)`` of the list bound to ``name`` at each call, for a statement built
    once, the list one parameter whatever its length: ``column = ANY(:name)`` on PostgreSQL
    (an array), ``column IN (SELECT value FROM json_each(:name))`` on SQLite (the list as
    JSON text; SQLite has no arrays, and still looks ``column`` up in its index once per
    value), an expanding ``IN`` elsewhere. An expanding ``IN`` is rendered again for each
    call (its ``?`` per value), and each of its values is bound, sent and parsed as a
    parameter of its own: on PostgreSQL, for the 100 values of a 100-member group PATCH's
    lookups, 1.0 ms of CPU and 1.8 ms of wall time against 0.2-0.3 and 0.5-0.6 with the
    array (this machine, a 5,000-row table); on SQLite the rendering was about 7% of that
    PATCH's CPU (benchmarks/README.md)."""

    inherit_cache = True
    type = Boolean()
    _traverse_internals = [  # noqa: RUF012 (SQLAlchemy's own declaration)
        ("listed", InternalTraversal.dp_clauseelement),
        ("array", InternalTraversal.dp_clauseelement),
        ("json", InternalTraversal.dp_clauseelement),
    ]

    def __init__(self, column: Any, name: str) -> None:
        self.listed = column.in_(bindparam(name, expanding=True))
        self.array = column == any_(bindparam(name, type_=_ArrayAsText(column.type)))
        values = func.json_each(bindparam(name, type_=JSON())).table_valued("value")
        self.json = column.in_(select(values.c.value))

    @property
    def _from_objects(self) -> Any:
        return self.listed._from_objects

    def self_group(self, against: Any = None) -> Any:
        # a comparison already: no ``= 1`` around it where booleans are integers (SQLite)
        return self


@compiles(OneOf)
def _one_of_listed(element: OneOf, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.listed, **kw)


@compiles(OneOf, "sqlite")
def _one_of_json(element: OneOf, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.json, **kw)


@compiles(OneOf, "postgresql")
def _one_of_array(element: OneOf, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.array, **kw)


def insert_rows(session: Session, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert ``rows`` (dicts with the same keys) into ``table`` in the session's transaction."""
    if not rows:
        return
    conn = session.connection()
    if conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg":
        if len(rows) <= _FEW:
            _values(conn, table, rows)
        else:
            _copy(conn, table, rows)
    elif conn.dialect.name == "sqlite":
        _executemany(conn, table, rows)
    else:
        conn.execute(insert(table), list(rows))


_T = TypeVar("_T", bound=DeclarativeBase)
_INSERT_ONE: dict[type[Any], Any] = {}  # mapped class -> its INSERT ... RETURNING id


def insert_one(session: Session, model: type[_T], columns: Mapping[str, Any]) -> _T:
    """Insert one row of ``model`` in one Core statement returning its id, not through the
    ORM's unit of work (0.31 ms of CPU against 0.55 on PostgreSQL); the row returned, with
    that id, is not tracked by the session (read it again to change it)."""
    statement = _INSERT_ONE.get(model)
    if statement is None:
        table: Any = model.__table__
        statement = _INSERT_ONE[model] = insert(table).returning(table.c.id)
    row_id = session.connection().execute(statement, dict(columns)).scalar_one()
    return model(id=row_id, **columns)


def _columns(
    conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]
) -> tuple[list[str], list[str], Any]:
    """The names the rows give, every column written (theirs, then the defaults'), and a
    function turning one row into its bound values in that order."""
    names = list(rows[0])
    defaults = _defaults(table, names)
    columns = [table.c[n] for n in names] + [table.c[n] for n in defaults]
    dialect = conn.dialect
    processors = [c.type.dialect_impl(dialect).bind_processor(dialect) for c in columns]
    fixed = [_bound(processors[len(names) + i], v) for i, v in enumerate(defaults.values())]
    live = list(zip(processors[: len(names)], names, strict=True))

    def values(row: Mapping[str, Any]) -> list[Any]:
        out = [row[n] if p is None else p(row[n]) for p, n in live]
        return out + fixed if fixed else out

    return names, [c.name for c in columns], values


def _raw(conn: Connection, statement: str, parameters: Any, run: Any) -> None:
    """Run ``run(cursor)`` on the driver's cursor, seen by SQL listeners (logging, fault
    injection) as one executemany, its driver errors raised as an INSERT's would be."""
    dialect = conn.dialect
    raw: Any = conn.connection.dbapi_connection
    events: Any = conn.dispatch
    cursor = raw.cursor()
    try:
        events.before_cursor_execute(conn, cursor, statement, parameters, None, True)
        try:
            run(cursor)
        except dialect.loaded_dbapi.Error as exc:
            raise DBAPIError.instance(statement, None, exc, dialect.loaded_dbapi.Error) from exc
        events.after_cursor_execute(conn, cursor, statement, parameters, None, True)
    finally:
        cursor.close()


def _copy(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    _, columns, values = _columns(conn, table, rows)
    statement = f"COPY {_target(conn, table, columns)} FROM STDIN"

    def run(cursor: Any) -> None:
        with cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(values(row))

    _raw(conn, statement, (), run)


def _values(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """A few rows in one ``INSERT ... VALUES (...), (...)``: one round trip."""
    _, columns, values = _columns(conn, table, rows)
    one = f"({', '.join('%s' for _ in columns)})"
    statement = f"INSERT INTO {_target(conn, table, columns)} VALUES {', '.join(one for _ in rows)}"
    bound = [value for row in rows for value in values(row)]
    _raw(conn, statement, bound, lambda cursor: cursor.execute(statement, bound))


def _executemany(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    _, columns, values = _columns(conn, table, rows)
    statement = (
        f"INSERT INTO {_target(conn, table, columns)} VALUES ({', '.join('?' for _ in columns)})"
    )
    bound = [values(row) for row in rows]
    _raw(conn, statement, bound, lambda cursor: cursor.executemany(statement, bound))


def _target(conn: Connection, table: Table, columns: Sequence[str]) -> str:
    """``table (column, ...)``, quoted for the connection's dialect."""
    quote = conn.dialect.identifier_preparer
    return f"{quote.format_table(table)} ({', '.join(quote.quote(c) for c in columns)})"


def _bound(processor: Any, value: Any) -> Any:
    return value if processor is None else processor(value)


def _defaults(table: Table, names: Sequence[str]) -> dict[str, Any]:
    """The Python-side defaults of the columns ``names`` leaves out, as one value each."""
    out: dict[str, Any] = {}
    for column in table.columns:
        default = column.default
        if column.name in names or default is None:
            continue
        if getattr(default, "is_scalar", False):
            out[column.name] = getattr(default, "arg", None)
        elif getattr(default, "is_callable", False):
            out[column.name] = default.arg(None)  # type: ignore[attr-defined]
    return out
