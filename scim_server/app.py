"""The Flask application factory."""

from __future__ import annotations

from flask import Flask

__all__ = ["create_app"]


def create_app(settings: object | None = None) -> Flask:
    """Build the rolebridge web application."""
    app = Flask("rolebridge", instance_relative_config=True)
    return app
