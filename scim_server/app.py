"""The Flask application factory."""

from __future__ import annotations

import secrets
from pathlib import Path

from flask import Flask

from sync.db import make_engine, make_session_factory
from sync.settings import Settings

__all__ = ["create_app"]


def create_app(settings: Settings | None = None) -> Flask:
    """Build the rolebridge web application."""
    settings = settings or Settings.from_env()
    app = Flask("rolebridge", instance_relative_config=True)
    app.config.update(
        SECRET_KEY=settings.secret_key or _instance_secret(settings.instance_path),
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
    )
    app.extensions["rolebridge.settings"] = settings
    app.extensions["rolebridge.session_factory"] = make_session_factory(
        make_engine(settings.database_url)
    )
    from scim_server import admin, api

    api.init_app(app)
    admin.init_app(app, settings)
    return app


def _instance_secret(instance: Path) -> str:
    """A session-signing secret kept in the instance folder, made once."""
    path = instance / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()
