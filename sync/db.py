"""Engine, session factory and migrations. ``with session_factory.begin() as s:`` is the unit
of work; ``upgrade(engine)`` brings a database to the newest schema and ``check_schema``
refuses to run on one that is not there yet.

On PostgreSQL every round trip is bounded (``DatabaseBounds``): the server cancels a
statement after ``statement_timeout``; the client gives up on a connection that has not
answered a little after that (a hung server or a silent network never cancels anything)
and drops it; TCP keepalives and ``tcp_user_timeout`` notice a dead peer; a pooled
connection idle for more than ``PING_AFTER`` is pinged before use (one in use moments
ago is not: a round trip saved on most checkouts under load, as HikariCP's
``aliveBypassWindowMs``; a connection that died within that window fails its statement,
which invalidates the pool as a failed ping would); a request waits at most
``pool_timeout`` for one.
``database_unavailable`` tells these failures apart from the rest, for the 503s at the
edge."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias

import orjson
import psycopg
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, exc, make_url
from sqlalchemy.orm import Session, sessionmaker

from mappings.errors import RolebridgeError

if TYPE_CHECKING:
    from sync.settings import Settings

__all__ = [
    "FOREIGN_TABLES",
    "PING_AFTER",
    "DatabaseBounds",
    "SchemaError",
    "Session",
    "SessionFactory",
    "alembic_config",
    "check_ready",
    "check_schema",
    "create_schema_for_tests",
    "database_unavailable",
    "make_engine",
    "make_engine_for",
    "make_session_factory",
    "upgrade",
    "write_session",
]

SessionFactory: TypeAlias = sessionmaker[Session]
"""The unit-of-work factory the edge and the commands hand to ``sync`` (they hold it,
never query through it)."""

UPGRADE_HINT = "run `rolebridge db upgrade`"
FOREIGN_TABLES = ("apscheduler_jobs",)  # APScheduler's job store shares our database
PING_AFTER = 0.5  # s: a pooled PostgreSQL connection idle longer is pinged before use


class SchemaError(RolebridgeError):
    """The database is not migrated, or not to the schema this rolebridge expects."""


@dataclass(frozen=True, slots=True)
class DatabaseBounds:
    """How long anything may wait on PostgreSQL, in seconds."""

    statement_timeout: float = 15.0  # server side: the statement is cancelled
    connect_timeout: int = 10  # libpq's connect_timeout (it counts 1 as 2)
    pool_timeout: float = 10.0  # waiting for a free pooled connection

    @property
    def answer_timeout(self) -> float | None:
        """How long the client waits for any answer before it drops the connection: a
        little past the server's own cancel, which then arrives first when it can. None
        when statements are unbounded (a ``statement_timeout`` of 0)."""
        return self.statement_timeout + 2.0 if self.statement_timeout > 0 else None

    def connect_args(self) -> dict[str, Any]:
        """libpq parameters: statement timeout, keepalives, TCP user timeout."""
        args: dict[str, Any] = {
            "connect_timeout": self.connect_timeout,
            "keepalives": 1,
            "keepalives_idle": 30,
            "keepalives_interval": 10,
            "keepalives_count": 3,
        }
        if self.answer_timeout is not None:  # 0: e.g. a PgBouncer that refuses "options"
            args["options"] = f"-c statement_timeout={round(self.statement_timeout * 1000)}"
            args["tcp_user_timeout"] = round(self.answer_timeout * 1000)
        return args


def json_column_text(value: Any) -> str:
    """A JSON column's text: orjson (a write of 100 grants writes some 400 JSON values: its
    audit entries, events and plan), or the standard library's for what orjson refuses
    and ``json`` takes (an integer past 64 bits, a lone surrogate, nesting past 254).
    Read back by ``json_column_value``."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        return json.dumps(value)


# 19 digits in a row: maybe an integer past 64 bits, which orjson would read as a float
_LONG_NUMBER = re.compile(rb"[0-9]{19}")
_LONG_NUMBER_TEXT = re.compile(r"[0-9]{19}")


def json_column_value(data: str | bytes | bytearray | memoryview) -> Any:
    """A JSON column's value: orjson (a 100-member PATCH reads some 600 JSON values, its
    users' emails and roles), or the standard library's for what orjson reads otherwise
    or refuses: text with 19 digits in a row (an integer past 64 bits, which orjson reads
    as a float), a lone surrogate, a number past a double's range, nesting past 1,024."""
    if isinstance(data, memoryview):
        data = bytes(data)
    pattern = _LONG_NUMBER_TEXT if isinstance(data, str) else _LONG_NUMBER
    if pattern.search(data) is None:  # type: ignore[arg-type]
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass
    return json.loads(data)


def make_engine(url: str, bounds: DatabaseBounds | None = None, **kwargs: Any) -> Engine:
    """An engine for ``url``; SQLite gets foreign keys, WAL and a busy timeout, PostgreSQL
    gets ``bounds`` (the defaults unless given) and pings a pooled connection before use
    when it has been idle for more than ``PING_AFTER``."""
    postgres = url.startswith("postgresql")
    bounds = bounds or DatabaseBounds()
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {"timeout": 30, "check_same_thread": False})
    elif postgres:
        in_url = make_url(url).query  # what the URL says itself wins
        args = {k: v for k, v in bounds.connect_args().items() if k not in in_url}
        kwargs.setdefault("connect_args", args)
        kwargs.setdefault("pool_timeout", bounds.pool_timeout)
    kwargs.setdefault("json_serializer", json_column_text)
    kwargs.setdefault("json_deserializer", json_column_value)
    engine = create_engine(url, **kwargs)
    if postgres and not kwargs.get("pool_pre_ping"):
        _ping_when_idle(engine)
    if postgres and engine.dialect.driver == "psycopg":
        event.listen(engine, "do_connect", _bounded_connect(bounds.answer_timeout))
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
    return engine


def make_engine_for(settings: Settings) -> Engine:
    """The engine of ``settings.database_url``, bounded by its ``db_*`` timeouts."""
    bounds = DatabaseBounds(
        settings.db_statement_timeout, settings.db_connect_timeout, settings.db_pool_timeout
    )
    return make_engine(settings.database_url, bounds)


class _BoundedConnection(psycopg.Connection[Any]):
    """A psycopg connection that waits at most ``answer_timeout`` for the server, then
    closes itself (its protocol state is unknown) so the pool discards it."""

    answer_timeout: float | None = None

    def wait(self, gen: Any, interval: float = 0.1, timeout: float | None = None) -> Any:
        """psycopg's wait for the server, with a deadline when the caller set none."""
        if timeout is not None or self.answer_timeout is None:
            return super().wait(gen, interval, timeout)
        try:
            return super().wait(gen, interval, self.answer_timeout)
        except psycopg.errors._WaitTimeout:
            self.pgconn.finish()
            raise psycopg.OperationalError(
                f"the database did not answer within {self.answer_timeout:g} s"
            ) from None


def _bounded_connect(answer_timeout: float | None) -> Any:
    def connect(_dialect: Any, _record: Any, cargs: Any, cparams: Any) -> _BoundedConnection:
        connection = _BoundedConnection.connect(*cargs, **cparams)
        connection.answer_timeout = answer_timeout
        return connection

    return connect


def database_unavailable(error: BaseException) -> bool:
    """Whether ``error`` means the database is down, hung or saturated (worth a retry),
    not that the request or the code is wrong."""
    if isinstance(error, exc.TimeoutError | exc.DisconnectionError | exc.OperationalError):
        return True
    return isinstance(error, exc.DBAPIError) and error.connection_invalidated


def _ping_when_idle(engine: Engine) -> None:
    """Ping a connection at checkout when it was last given back (or opened) more than
    ``PING_AFTER`` ago; a failed ping invalidates the pool, as ``pool_pre_ping`` does."""
    dialect = engine.dialect

    def stamp(_dbapi_connection: Any, record: Any) -> None:
        record.info["rolebridge_idle_since"] = time.monotonic()

    def checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("rolebridge_idle_since")
        if since is not None and time.monotonic() - since <= PING_AFTER:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as error:
            # the pool drops this connection and every one opened before now, then
            # opens a new one for this checkout
            raise exc.InvalidatePoolError(str(error)) from error

    event.listen(engine, "connect", stamp)
    event.listen(engine, "checkin", stamp)
    event.listen(engine, "checkout", checkout)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # pysqlite's own BEGIN handling is off so that "begin" below decides (DEFERRED or
    # IMMEDIATE); see SQLAlchemy's "Serializable isolation / Savepoints" for pysqlite.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin(conn: Any) -> None:
    # ``execution_options(sqlite_begin="BEGIN IMMEDIATE")`` takes the write lock up front
    conn.exec_driver_sql(conn.get_execution_options().get("sqlite_begin", "BEGIN"))


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """The session factory; objects stay readable after commit."""
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def write_session(
    session_factory: sessionmaker[Session], bind: Connection | None = None
) -> Iterator[Session]:
    """A unit of work that takes SQLite's write lock up front (``BEGIN IMMEDIATE``), so
    that a read-then-write transaction waits for other writers instead of failing.

    ``bind``: a connection the caller checked out already (a SCIM request's, on
    PostgreSQL), used instead of another one from the pool; the unit of work commits or
    rolls back the transaction it has open, or begins one, and leaves the connection open.
    """
    own = {} if bind is None else {"bind": bind, "join_transaction_mode": "control_fully"}
    with session_factory(**own) as session, session.begin():
        session.connection(execution_options={"sqlite_begin": "BEGIN IMMEDIATE"})
        yield session


def alembic_config(engine: Engine | None = None) -> Config:
    """Alembic's configuration for the migrations shipped inside this package."""
    cfg = Config()
    cfg.set_main_option("script_location", "sync:migrations")
    if engine is not None:
        cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the database to ``revision`` (the newest by default)."""
    cfg = alembic_config(engine)
    with engine.begin() as conn, _unbounded(conn):
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


@contextmanager
def _unbounded(conn: Connection) -> Iterator[None]:
    """No statement or answer deadline inside this migration transaction: a migration
    may rightly run longer than any request (building an index on a large table)."""
    driver = conn.connection.driver_connection
    if not isinstance(driver, _BoundedConnection):
        yield
        return
    conn.exec_driver_sql("SET LOCAL statement_timeout = 0")
    kept, driver.answer_timeout = driver.answer_timeout, None
    try:
        yield
    finally:
        driver.answer_timeout = kept


def check_schema(engine: Engine) -> None:
    """Raise ``SchemaError`` unless the database is migrated to the newest revision."""
    heads = set(ScriptDirectory.from_config(alembic_config()).get_heads())
    with engine.connect() as conn:
        current = set(MigrationContext.configure(conn).get_current_heads())
        conn.invalidate()  # closed, not pooled: a check leaves no connection behind
    if not current:
        raise SchemaError(f"the database is not initialised: {UPGRADE_HINT}")
    if current != heads:
        raise SchemaError(
            f"the database schema is at {', '.join(sorted(current))}, this rolebridge needs "
            f"{', '.join(sorted(heads))}: {UPGRADE_HINT}"
        )


def check_ready(engine: Engine) -> None:
    """``check_schema``, with an unreachable database a ``SchemaError`` saying so."""
    try:
        check_schema(engine)
    except exc.SQLAlchemyError as error:
        raise SchemaError(f"the database is unreachable ({type(error).__name__})") from None


def create_schema_for_tests(engine: Engine) -> None:
    """Bring a test database to the newest schema through the migrations."""
    upgrade(engine)
