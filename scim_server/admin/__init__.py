"""The admin pages at ``/admin``: server-rendered (Flask + Jinja), signed in with an API key
or through the org's own OpenID Connect provider (``oidc.py``).

The session cookie keeps only a server-side session's id (signed, HttpOnly, SameSite=Lax,
Secure when the app is served over HTTPS); each request re-checks the session and its
key, so sign-out, expiry and a revoked key end it. Every form and every fetch carries a CSRF token.
"""

from __future__ import annotations

from flask import Blueprint, Flask

from sync.settings import Settings

__all__ = ["bp", "init_app"]

bp = Blueprint(
    "admin",
    __name__,
    url_prefix="/admin",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)

from scim_server.admin import (  # noqa: E402, F401
    credential_pages,
    editor,
    errors,
    oidc,
    pages,
    plan_pages,
    session,
    source_pages,
    webhook_pages,
)


def init_app(app: Flask, settings: Settings) -> None:
    """Mount the pages and harden the session cookie."""
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.base_url.startswith("https://"),
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the signed-in session
    )
    app.register_blueprint(bp)
