"""Request ids and the access log: one JSON line per request, with its id and org.

A request keeps the ``X-Request-ID`` its caller sent (when it is a plain token of at
most 64 characters) or gets a fresh one; the id is bound to every log line of the
request (``sync.logs``) and returned in the response's ``X-Request-ID``. The
authentication hooks bind the org id once they know it. The access line names the
method, the path (invite links masked), the status and the time taken; never query
strings, headers or bodies.
"""

from __future__ import annotations

import re
import time
import uuid

from flask import Flask, Response, g, request

from sync import logs

__all__ = ["init_app", "request_id"]

_GIVEN_ID = re.compile(r"^[A-Za-z0-9._\-]{1,64}$")
_log = logs.get_logger("rolebridge.access")


def request_id() -> str:
    """The current request's id."""
    found: str = g.get("request_id", "")
    return found


def init_app(app: Flask) -> None:
    """Bind a request id per request and write the access line."""
    app.before_request(_begin)
    app.after_request(_end)
    app.teardown_request(lambda _exc: logs.clear())


def _begin() -> None:
    given = request.headers.get("X-Request-ID", "")
    g.request_id = given if _GIVEN_ID.match(given) else uuid.uuid4().hex
    g.request_started = time.perf_counter()
    logs.clear()
    logs.bind(request_id=g.request_id, org_id=None)


def _end(response: Response) -> Response:
    response.headers["X-Request-ID"] = request_id()
    started = g.get("request_started")
    elapsed = (time.perf_counter() - started) * 1000 if started is not None else None
    _log.info(
        "request",
        method=request.method,
        path=logs.redact(request.path),
        status=response.status_code,
        duration_ms=round(elapsed, 2) if elapsed is not None else None,
    )
    return response
