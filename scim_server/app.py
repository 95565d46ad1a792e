"""The Flask application factory: settings in, an app with its blueprints out.

Nothing happens at import time. ``create_app`` reads ``Settings`` (or takes them),
makes the engine and session factory, and registers every blueprint in
``_register_blueprints``, the one place where the HTTP surface is assembled.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from sync.db import make_engine, make_session_factory
from sync.settings import Settings

__all__ = ["Runtime", "create_app", "runtime"]


@dataclass(frozen=True, slots=True)
class Runtime:
    """What the app's views share: settings, engine, unit-of-work factory."""

    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]


def create_app(settings: Settings | None = None) -> Flask:
    """Build the rolebridge web application."""
    settings = settings if settings is not None else Settings.from_env()
    app = Flask("rolebridge", instance_path=str(settings.instance_path.resolve()))
    app.config.update(
        SECRET_KEY=settings.secret_key or None,
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
        JSON_SORT_KEYS=False,
    )
    engine = make_engine(settings.database_url)
    app.extensions["rolebridge"] = Runtime(settings, engine, make_session_factory(engine))
    _register_blueprints(app, app.extensions["rolebridge"])
    return app


def runtime(app: Flask) -> Runtime:
    """The runtime ``create_app`` attached to ``app``."""
    found: Runtime = app.extensions["rolebridge"]
    return found


def _register_blueprints(app: Flask, rt: Runtime) -> None:
    """Every blueprint of the app, in one place."""
    from scim_server.scim import init_scim

    init_scim(app, rt.session_factory)
