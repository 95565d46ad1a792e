"""Failed authentication, limited per client address (``ROLEBRIDGE_RATE_LIMIT_AUTH_FAILURES``).

Every failed SCIM bearer token, admin API key and sign-in form counts against the
client's address in the rate limiter's storage: Redis when ``ROLEBRIDGE_REDIS_URL`` is
set (every web process shares the count), memory otherwise. Past the limit a failure is
answered 429 with ``Retry-After`` instead of 401, until the window moves on.

Valid credentials from that address are still served: the SCIM clients of many tenants
share an identity provider's egress addresses, and one tenant's wrong or hostile token
must not lock the others out. So only failures are limited; each refused attempt still
costs its one indexed lookup, and the per-credential limits of ``hardening`` cap the
rest. Another address is never affected. If the limiter's storage cannot be reached,
failures answer 401 as before rather than failing the request.
"""

from __future__ import annotations

import math
import time

from flask import Flask, current_app
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from limits import RateLimitItem, parse
from redis.exceptions import RedisError

from sync import logs

__all__ = ["TooManyFailures", "count_failure", "init_app"]

_EXTENSION = "rolebridge.auth_failures"
_SCOPE = "auth-failures"
_log = logs.get_logger(__name__)


class TooManyFailures(Exception):
    """The client's address failed authentication too often; retry after ``retry_after`` s."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed authentications; retry in {retry_after} s")
        self.retry_after = retry_after


class _FailureLimit:
    def __init__(self, limiter: Limiter, limit: RateLimitItem) -> None:
        self.limiter = limiter
        self.limit = limit


def init_app(app: Flask, limiter: Limiter, limit: str) -> None:
    """Limit failed authentication per address to ``limit`` (e.g. ``"30/minute"``)."""
    app.extensions[_EXTENSION] = _FailureLimit(limiter, parse(limit))


def count_failure() -> None:
    """Count a failed authentication of the request's address; raise ``TooManyFailures``
    once it is past the limit (the caller answers 401 otherwise)."""
    found: _FailureLimit = current_app.extensions[_EXTENSION]
    address = get_remote_address() or "unknown"
    try:
        strategy = found.limiter.limiter
        if strategy.hit(found.limit, _SCOPE, address):
            return
        reset_at, _ = strategy.get_window_stats(found.limit, _SCOPE, address)
    except (RedisError, OSError) as exc:
        _log.warning("failed authentication not counted", error=type(exc).__name__)
        return
    raise TooManyFailures(max(1, math.ceil(reset_at - time.time())))
