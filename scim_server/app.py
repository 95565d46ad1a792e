"""The Flask application factory.

``create_app`` reads the settings (from the environment unless given), makes the engine
and session factory, and registers every blueprint in one place. Nothing stateful
happens at import time.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.routing import IntegerConverter, Map

from sync.db import check_schema, database_unavailable, make_engine_for, make_session_factory
from sync.logs import configure_logging
from sync.settings import Settings

__all__ = ["RolebridgeFlask", "Runtime", "create_app", "runtime"]

_log = logging.getLogger(__name__)
ROW_ID_MAX = 2**31 - 1  # ids are INTEGER columns on PostgreSQL


class RolebridgeFlask(Flask):
    """Flask that answers "retry later" errors (``retry_later``) before any blueprint's
    catch-all error handler can turn them into a 500: blueprint handlers come first."""

    def handle_user_exception(self, e: Exception) -> Any:
        """503 for a database outage, 429 for too many failed authentications (both with
        ``Retry-After``); Flask's own handling otherwise."""
        from scim_server.ops import retry_later
        from scim_server.ops.throttle import TooManyFailures

        if database_unavailable(e):
            return retry_later.unavailable(e)
        if isinstance(e, TooManyFailures):
            return retry_later.too_many_failures(e)
        return super().handle_user_exception(e)


@dataclass(frozen=True, slots=True)
class Runtime:
    """What the app's views share: settings, engine, unit-of-work factory."""

    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]


def create_app(settings: Settings | None = None) -> Flask:
    """Build the rolebridge web application."""
    if settings is None:  # the process entry point (gunicorn): configure its logs too
        settings = Settings.from_env()
        configure_logging(settings.log_level, settings.log_format)
    app = RolebridgeFlask("rolebridge", instance_path=str(settings.instance_path.resolve()))
    app.config.update(
        SECRET_KEY=settings.secret_key or _instance_secret(settings.instance_path),
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
        JSON_SORT_KEYS=False,
    )
    engine = make_engine_for(settings)
    _refuse_unmigrated(engine)
    rt = Runtime(settings, engine, make_session_factory(engine))
    app.extensions["rolebridge"] = rt
    app.extensions["rolebridge.settings"] = settings
    app.extensions["rolebridge.session_factory"] = rt.session_factory
    _register_blueprints(app, rt)
    return app


def _refuse_unmigrated(engine: Engine) -> None:
    """Refuse an un-migrated database ("run `rolebridge db upgrade`"). A database that
    cannot be reached yet is not refused: the app starts and ``/readyz`` says unready
    until it answers."""
    try:
        check_schema(engine)
    except OperationalError:
        _log.warning("database unreachable at start; /readyz reports unready until it answers")


def runtime(app: Flask) -> Runtime:
    """The runtime ``create_app`` attached to ``app``."""
    found: Runtime = app.extensions["rolebridge"]
    return found


class _RowIdConverter(IntegerConverter):
    """``<id:name>``: a database row id (a 32-bit integer column); a number past that
    range is simply not found (404), never a database error."""

    def __init__(self, url_map: Map) -> None:
        super().__init__(url_map, min=1, max=ROW_ID_MAX)


def _register_blueprints(app: Flask, rt: Runtime) -> None:
    """Every blueprint of the app, in one place."""
    app.url_map.converters["id"] = _RowIdConverter
    from scim_server import admin, api, invite_page
    from scim_server.ops import hardening, health, metrics, throttle, tracing
    from scim_server.scim.endpoint import init_scim

    init_scim(app, rt.session_factory)
    api.init_app(app)
    admin.init_app(app, rt.settings)
    invite_page.init_app(app)
    # app-wide hooks after the blueprints, in this order: request id, metrics, limits
    tracing.init_app(app)
    health.init_app(app, rt.engine)
    metrics.init_app(app, rt.session_factory, rt.settings.metrics_token)
    limiter = hardening.init_app(app, rt.settings)
    throttle.init_app(app, limiter, rt.settings.rate_limit_auth_failures)


def _instance_secret(instance: Path) -> str:
    """A session-signing secret kept in the instance folder, made once."""
    path = instance / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()
