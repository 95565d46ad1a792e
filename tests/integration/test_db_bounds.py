"""PostgreSQL connections carry the configured bounds; migrations run without them."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, exc, text

from sync.db import make_engine_for
from sync.settings import Settings


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
