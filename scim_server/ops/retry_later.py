"""Answers a client should retry later, with ``Retry-After``, in its surface's own format
(a SCIM Error under ``/scim/v2``, a problem document under ``/api/v1``, the error page
under ``/admin``, a small JSON document elsewhere):

- 503 while the database is down, hung or saturated (``sync.db.database_unavailable``:
  refused or dropped connections, a statement past its timeout, no pooled connection in
  time), wherever a view or hook meets it. Never a 500, never a hang.
- 429 when the client's address failed authentication too often (``throttle``).
"""

from __future__ import annotations

from http import HTTPStatus

from flask import Response, jsonify, make_response, render_template, request

from scim_server.api.problems import problem_response
from scim_server.ops.throttle import TooManyFailures
from scim_server.scim.errors import retry_error
from sync import logs

__all__ = ["RETRY_AFTER_SECONDS", "too_many_failures", "unavailable"]

RETRY_AFTER_SECONDS = 5
DETAIL = "the database is unavailable; retry later"

_log = logs.get_logger(__name__)


def unavailable(error: BaseException) -> Response:
    """A 503 with ``Retry-After`` in the format of the request's surface."""
    _log.warning("database unavailable", error=type(error).__name__, path=request.path)
    return _answer(HTTPStatus.SERVICE_UNAVAILABLE, DETAIL, RETRY_AFTER_SECONDS)


def too_many_failures(error: TooManyFailures) -> Response:
    """A 429 with ``Retry-After`` in the format of the request's surface."""
    return _answer(HTTPStatus.TOO_MANY_REQUESTS, str(error), error.retry_after)


def _answer(status: HTTPStatus, detail: str, retry_after: int) -> Response:
    if request.path.startswith("/scim/v2"):
        response = retry_error(status, detail)
    elif request.path.startswith("/api/"):
        response = problem_response(status, status.phrase.lower(), detail)
    elif request.path.startswith("/admin"):
        page = render_template("admin/error.html", message=detail, status=status.value)
        response = make_response(page, status)
    else:
        response = jsonify(status="unavailable", reason=detail)
        response.status_code = status
    response.headers["Retry-After"] = str(retry_after)
    return response
