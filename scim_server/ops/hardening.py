"""Abuse resistance at the edge: rate limits, body size, content types, security headers.

- **Rate limits** (flask-limiter): per credential on ``/scim/v2`` (``ROLEBRIDGE_RATE_LIMIT_SCIM``)
  and ``/api/v1`` (``ROLEBRIDGE_RATE_LIMIT_API``). The key is the SHA-256 of the bearer
  credential (never the credential itself), or the client address when there is none.
  Counters live in memory (per process, ``SweptMemoryStorage``) unless
  ``ROLEBRIDGE_REDIS_URL`` names a Redis that every web process shares. Over the limit:
  429 with ``Retry-After``, as a SCIM Error on ``/scim/v2`` and a problem document on
  ``/api/v1``. If Redis is unreachable the limiter falls back to memory rather than
  failing requests.
- **Body size**: ``ROLEBRIDGE_MAX_BODY_BYTES`` (Flask's ``MAX_CONTENT_LENGTH``); a larger
  body is a 413 (a SCIM Error on ``/scim/v2``).
- **Content types**: a body sent to ``/scim/v2`` or ``/api/v1`` must say it is JSON
  (``application/scim+json`` or ``application/json``); anything else is a 415.
- **No NUL characters**: PostgreSQL cannot store them in text, so a NUL in a path (404),
  a query string or a JSON string of the body (400) is refused at the edge, on every
  database alike, before it can reach a query; on every path, the admin pages included.
  A query parameter of the admin pages holding any other control character (CR, LF...)
  is refused too: such values end up in redirects and headers.
- **Nesting**: a JSON body nested deeper than ``limits.JSON_DEPTH_MAX`` is a 400 before
  it is parsed (Python's parsers would recurse until the stack gives out).
- **Headers**: every response says ``nosniff``; the admin pages also send a strict
  Content-Security-Policy with ``frame-ancestors 'none'``, ``X-Frame-Options: DENY``,
  ``Referrer-Policy`` and ``Cache-Control: no-store``, and so does the invite page (with
  ``no-referrer``: its URL holds the token); HSTS when served over HTTPS.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from http import HTTPStatus

from flask import Flask, Response, request
from flask_limiter import Limiter, RateLimitExceeded
from flask_limiter.util import get_remote_address
from limits.storage import MemoryStorage
from scim2_models import Error
from scim2_server.responses import SCIM_MEDIA_TYPE

from scim_server.api.problems import problem_response
from scim_server.ops.limits import JSON_DEPTH_MAX
from sync.nesting import json_too_deep
from sync.settings import Settings

__all__ = ["ADMIN_CSP", "init_app", "is_json_type", "rate_key"]

ADMIN_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "object-src 'none'"
)
_SCIM, _API, _ADMIN, _INVITE = "/scim/v2", "/api/v1", "/admin", "/invite/"
_PAGES = (_ADMIN, _INVITE)  # the HTML pages
_WRITES = frozenset({"POST", "PUT", "PATCH"})
# a JSON \u0000 escape (not an escaped backslash followed by "u0000"), or a raw NUL byte
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000|\x00")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # every C0 control but TAB, and DEL


def rate_key() -> str:
    """Who a request counts against: a hash of its bearer credential, else its address."""
    scheme, _, credential = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credential.strip():
        return "cred:" + hashlib.sha256(credential.strip().encode()).hexdigest()[:32]
    return "addr:" + (get_remote_address() or "unknown")


def is_json_type(content_type: str | None) -> bool:
    """``application/json`` or any ``application/*+json`` (parameters ignored)."""
    media = (content_type or "").partition(";")[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def scim_error(
    status: int,
    detail: str,
    headers: dict[str, str] | None = None,
    scim_type: str | None = None,
) -> Response:
    """A SCIM Error response (RFC 7644 §3.12)."""
    body = Error(status=status, detail=detail, scim_type=scim_type).model_dump()
    return Response(json.dumps(body), status, headers, content_type=SCIM_MEDIA_TYPE)


class SweptMemoryStorage(MemoryStorage):
    """limits' in-memory counters, with expired entries swept inline once a second.

    ``MemoryStorage`` starts a timer thread 10 ms after each hit to sweep them, so on a
    request every 10 ms or more each request starts a thread and waits until it runs
    (milliseconds on a busy machine). A counter's expiry is checked whenever it is read
    anyway; the sweep only frees memory, so it is done here, in the request, at most
    once a second. A ``limits`` without the hook keeps its own timer.
    """

    STORAGE_SCHEME = ["rolebridge-memory"]  # noqa: RUF012 (limits' own attribute)
    SWEEP_EVERY = 1.0  # seconds

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: str):
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self._next_sweep = 0.0
        self._sweep_lock = threading.Lock()

    def _MemoryStorage__schedule_expiry(self) -> None:
        """Sweep expired counters, at most once every ``SWEEP_EVERY`` seconds."""
        now = time.monotonic()
        if now < self._next_sweep or not self._sweep_lock.acquire(blocking=False):
            return
        try:
            self._next_sweep = now + self.SWEEP_EVERY
            self._MemoryStorage__expire_events()  # type: ignore[attr-defined]
        finally:
            self._sweep_lock.release()


def init_app(app: Flask, settings: Settings) -> Limiter:
    """Install the limiter, the content-type check and the response headers."""
    limiter = Limiter(
        rate_key,
        app=app,
        storage_uri=settings.redis_url or f"{SweptMemoryStorage.STORAGE_SCHEME[0]}://",
        headers_enabled=True,
        swallow_errors=True,
        in_memory_fallback_enabled=settings.redis_url is not None,
        key_prefix="rolebridge",
    )
    for name, limit in (("scim", settings.rate_limit_scim), ("api", settings.rate_limit_api)):
        if name in app.blueprints:
            limiter.limit(limit)(app.blueprints[name])  # type: ignore[call-overload]
    app.register_error_handler(RateLimitExceeded, _too_many)
    app.before_request(_refuse_nul)
    app.before_request(_require_json_bodies)
    app.before_request(_refuse_deep_json)
    https = settings.base_url.startswith("https://")
    app.after_request(lambda response: _headers(response, https))
    return limiter


def _too_many(error: RateLimitExceeded) -> Response:
    detail = f"too many requests: the limit is {error.description}; retry later"
    if request.path.startswith(_SCIM):
        return scim_error(HTTPStatus.TOO_MANY_REQUESTS, detail)
    return problem_response(HTTPStatus.TOO_MANY_REQUESTS, "too many requests", detail)


def _refuse_nul() -> Response | None:
    if "\x00" in request.path:
        return _refusal(HTTPStatus.NOT_FOUND, "no such resource (the path holds a NUL character)")
    pages = request.path.startswith(_PAGES)
    for name, value in request.args.items(multi=True):
        if "\x00" in name + value or (pages and _CONTROL.search(name + value)):
            field = name if "\x00" not in name else repr(name)
            return _refusal(HTTPStatus.BAD_REQUEST, f"{field}: control characters are not allowed")
    if b"\x00" in request.query_string or b"%00" in request.query_string:
        return _refusal(HTTPStatus.BAD_REQUEST, "NUL characters are not allowed in the query")
    if not request.path.startswith((_SCIM, _API)):
        return None
    if _has_body() and _JSON_NUL.search(request.get_data(cache=True)):
        return _refusal(HTTPStatus.BAD_REQUEST, "NUL characters are not allowed in values")
    return None


def _refuse_deep_json() -> Response | None:
    if not _has_body() or not is_json_type(request.content_type):
        return None
    if json_too_deep(request.get_data(cache=True), JSON_DEPTH_MAX):
        detail = f"the body is nested deeper than {JSON_DEPTH_MAX} levels"
        return _refusal(HTTPStatus.BAD_REQUEST, detail)
    return None


def _has_body() -> bool:
    return bool(request.content_length or request.headers.get("Transfer-Encoding"))


def _refusal(status: HTTPStatus, detail: str) -> Response:
    if request.path.startswith(_SCIM):
        return scim_error(status, detail, scim_type="invalidValue" if status == 400 else None)
    if request.path.startswith(_API):
        return problem_response(status, status.phrase.lower(), detail)
    return Response(detail, status, mimetype="text/plain")


def _require_json_bodies() -> Response | None:
    if request.method not in _WRITES or not _has_body():
        return None
    if is_json_type(request.content_type):
        return None
    detail = "the body must be JSON: send Content-Type application/scim+json or application/json"
    if request.path.startswith(_SCIM):
        return scim_error(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, detail)
    if request.path.startswith(_API):
        return problem_response(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "unsupported media type", detail)
    return None


def _headers(response: Response, https: bool) -> Response:
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    if https:
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    if request.path.startswith(_PAGES):
        response.headers["Content-Security-Policy"] = ADMIN_CSP
        response.headers["X-Frame-Options"] = "DENY"
        # an invite link carries its token in the path: it must never leave as a Referer
        invite = request.path.startswith(_INVITE)
        response.headers["Referrer-Policy"] = "no-referrer" if invite else "same-origin"
        response.headers.setdefault("Cache-Control", "no-store")
    return response
