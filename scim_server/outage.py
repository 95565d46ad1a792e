"""Answers while the database is down, hung or saturated: 503 with ``Retry-After``.

Whatever view or hook meets such a failure (``sync.db.database_unavailable``: refused
or dropped connections, a statement past its timeout, no pooled connection in time),
the caller gets a 503 it can retry, in its surface's own error format: a SCIM Error
under ``/scim/v2``, a problem document under ``/api/v1``, the error page under
``/admin``, a small JSON document elsewhere. Never a 500, never a hang.
"""

from __future__ import annotations

from http import HTTPStatus

from flask import Response, jsonify, make_response, render_template, request

from scim_server.api.problems import problem_response
from scim_server.errors import unavailable_error
from sync import logs

__all__ = ["RETRY_AFTER_SECONDS", "unavailable"]

RETRY_AFTER_SECONDS = 5
DETAIL = "the database is unavailable; retry later"

_log = logs.get_logger(__name__)


def unavailable(error: BaseException) -> Response:
    """A 503 with ``Retry-After`` in the format of the request's surface."""
    _log.warning("database unavailable", error=type(error).__name__, path=request.path)
    status = HTTPStatus.SERVICE_UNAVAILABLE
    if request.path.startswith("/scim/v2"):
        response = unavailable_error(DETAIL)
    elif request.path.startswith("/api/"):
        response = problem_response(status, "service unavailable", DETAIL)
    elif request.path.startswith("/admin"):
        page = render_template("admin/error.html", message=DETAIL, status=status.value)
        response = make_response(page, status)
    else:
        response = jsonify(status="unavailable", reason="database unreachable")
        response.status_code = status
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response
