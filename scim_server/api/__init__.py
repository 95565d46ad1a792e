"""The admin JSON API at ``/api/v1``, authenticated by per-org API keys.

Every resource lives under ``/api/v1/orgs/<org>``; a key of another org gets 404 for
all of it. Errors are problem documents naming the field (``problems.py``).
"""

from __future__ import annotations

from flask import Blueprint, Flask, Response, request
from werkzeug.exceptions import HTTPException

from scim_server.api.auth import authenticate
from scim_server.api.problems import problem_response, register_error_handlers

__all__ = ["bp", "init_app"]

bp = Blueprint("api", __name__, url_prefix="/api/v1")
bp.before_request(authenticate)
register_error_handlers(bp)

# Views register their routes on ``bp`` when imported.
from scim_server.api import (  # noqa: E402, F401
    credential_views,
    directory_views,
    event_views,
    mapping_views,
    oidc_views,
    openapi,
    org_views,
    plan_views,
    schema_views,
    source_views,
)


def init_app(app: Flask) -> None:
    """Mount the API; unknown paths under it answer problem documents too."""
    app.register_blueprint(bp)

    def _not_routed(e: HTTPException) -> Response | HTTPException:
        if request.path.startswith(bp.url_prefix or "/api/v1"):
            return problem_response(e.code or 404, e.name, e.description or "")
        return e

    app.register_error_handler(404, _not_routed)
    app.register_error_handler(405, _not_routed)
