"""SCIM errors at the edge: every failure under ``/scim/v2`` leaves as a SCIM Error body.

scim2-flask already turns ``SCIMException`` (with its ``status`` and ``scimType``)
and werkzeug's HTTP errors (405, 413 for a body over ``max_body_bytes``) into
SCIM Errors. A database outage (503) and too many failed authentications (429) are
errors the client may retry (``retry_error``, answered by ``scim_server.ops.retry_later``).
What is left is the unexpected: it is logged with its traceback and answered with a
bare 500 that carries no internals.
"""

from __future__ import annotations

import json
import logging
from http import HTTPStatus

from flask import Response
from scim2_models import Error
from scim2_server.responses import SCIM_MEDIA_TYPE

__all__ = ["internal_error", "retry_error"]

_log = logging.getLogger("rolebridge.scim")


def internal_error(exception: Exception) -> Response:
    """Log an unexpected exception and answer a SCIM 500 without details."""
    _log.exception("internal error while serving a SCIM request", exc_info=exception)
    body = Error(status=HTTPStatus.INTERNAL_SERVER_ERROR, detail="internal error").model_dump()
    return Response(
        json.dumps(body), status=HTTPStatus.INTERNAL_SERVER_ERROR, content_type=SCIM_MEDIA_TYPE
    )


def retry_error(status: HTTPStatus, detail: str) -> Response:
    """A SCIM Error (RFC 7644 §3.12) the client may retry later: 429 or 503."""
    body = Error(status=status, detail=detail).model_dump()
    return Response(json.dumps(body), status=status, content_type=SCIM_MEDIA_TYPE)
