"""PostgreSQL connections carry the configured bounds; migrations run without them."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, exc, text
from sqlalchemy.engine import make_url

from sync.db import database_unavailable, make_engine_for
from sync.settings import Settings
from tests.fakes.tcpproxy import TcpProxy


def _show(engine: Engine, setting: str) -> str:
    with engine.connect() as conn:
        return str(conn.execute(text(f"SHOW {setting}")).scalar_one())


@pytest.mark.postgres
@pytest.mark.parametrize(("configured", "shown"), [("7", "7s"), ("0.25", "250ms")])
def test_the_statement_timeout_setting_reaches_the_server(
    engine: Engine, tmp_path: Path, configured: str, shown: str
) -> None:
    """ROLEBRIDGE_DB_STATEMENT_TIMEOUT becomes the session's statement_timeout."""
    if engine.dialect.name != "postgresql":
        pytest.skip("statement_timeout is PostgreSQL's")
    url = engine.url.render_as_string(hide_password=False)
    env = {"DATABASE_URL": url, "ROLEBRIDGE_DB_STATEMENT_TIMEOUT": configured}
    bounded = make_engine_for(Settings.from_env(env))
    try:
        assert _show(bounded, "statement_timeout") == shown
        with bounded.connect() as conn:
            libpq = conn.connection.driver_connection.info.get_parameters()  # type: ignore[union-attr]
        assert libpq["keepalives"] == "1"
        assert int(libpq["tcp_user_timeout"]) > 0
    finally:
        bounded.dispose()


@pytest.mark.postgres
def test_a_statement_past_the_timeout_is_cancelled(engine: Engine) -> None:
    """A statement that runs too long fails instead of holding the connection."""
    if engine.dialect.name != "postgresql":
        pytest.skip("statement_timeout is PostgreSQL's")
    url = engine.url.render_as_string(hide_password=False)
    bounded = make_engine_for(Settings(database_url=url, db_statement_timeout=0.2))
    try:
        with (
            pytest.raises(exc.OperationalError, match="statement timeout"),
            bounded.connect() as conn,
        ):
            conn.execute(text("SELECT pg_sleep(5)"))
        assert _show(bounded, "statement_timeout") == "200ms"  # the pool recovers
    finally:
        bounded.dispose()


@pytest.mark.postgres
def test_a_statement_on_a_connection_gone_silent_fails_within_the_bound(engine: Engine) -> None:
    """Mid-session silence (nothing cancels it on the server): the client drops the
    connection after its answer deadline, and the error says the database is unavailable."""
    if engine.dialect.name != "postgresql":
        pytest.skip("the proxy stands in for a network database")
    url = make_url(engine.url.render_as_string(hide_password=False))
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    proxy.up()
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    bounded = make_engine_for(Settings(database_url=proxied, db_statement_timeout=0.5))
    try:
        with bounded.connect() as conn:
            assert conn.execute(text("SELECT 1")).scalar_one() == 1
            proxy.freeze()
            with pytest.raises(exc.OperationalError, match="did not answer") as caught:
                conn.execute(text("SELECT 2"))
        assert caught.value.connection_invalidated and database_unavailable(caught.value)
    finally:
        proxy.down()
        bounded.dispose()
