"""Health endpoints for load balancers and orchestrators.

- ``GET /healthz``: the process is up and serving (never touches the database).
- ``GET /readyz``: the database answers and its schema is at the revision this
  rolebridge needs; otherwise 503 with the reason and ``Retry-After``, so a load
  balancer stops sending traffic until the database is back or ``rolebridge db upgrade``
  has run.

Both answer small JSON documents and need no credentials; they reveal no internals
(the reason is one of a few fixed phrases).
"""

from __future__ import annotations

from flask import Flask, Response, jsonify
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from scim_server.ops.retry_later import RETRY_AFTER_SECONDS
from sync import logs
from sync.db import SchemaError, check_schema

__all__ = ["init_app", "readiness"]

_log = logs.get_logger(__name__)


def readiness(engine: Engine) -> str | None:
    """None when the database is reachable and migrated, else why not (a fixed phrase)."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        check_schema(engine)
    except SchemaError:
        return "database schema is not current"
    except (SQLAlchemyError, OSError) as exc:
        _log.warning("readiness check failed", error=type(exc).__name__)
        return "database unreachable"
    return None


def init_app(app: Flask, engine: Engine) -> None:
    """Register ``/healthz`` and ``/readyz``."""

    def healthz() -> Response:
        return jsonify(status="ok")

    def readyz() -> tuple[Response, int] | tuple[Response, int, dict[str, str]]:
        reason = readiness(engine)
        if reason is None:
            return jsonify(status="ready"), 200
        retry = {"Retry-After": str(RETRY_AFTER_SECONDS)}
        return jsonify(status="unready", reason=reason), 503, retry

    app.add_url_rule("/healthz", "healthz", healthz, methods=["GET"])
    app.add_url_rule("/readyz", "readyz", readyz, methods=["GET"])
