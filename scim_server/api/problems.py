"""Admin API errors as RFC 9457 problem documents (``application/problem+json``).

    ApiProblem             an HTTP status, a title, a detail and the field it is about
     +-- raised by views   (403 refused by role, 404 not found, 409 conflict, 422 invalid)
    InputError/MappingError from the core -> 422 naming ``where``
    sync.errors: NotFound 404, Conflict 409, LimitError 422, StalePlan/PlanError 409,
    Refused by its reason (``refused_status``), the reason code in ``reason``
                 StaleVersion 412 (a mapping save from an older version)
    pydantic ValidationError                 -> 422 naming the first field
    werkzeug HTTPException                   -> its status, as a problem
    anything else                            -> 500 "internal error", details logged only

Handlers are registered once on the API blueprint; views never catch to hide.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, jsonify
from pydantic import ValidationError
from werkzeug.exceptions import HTTPException

from mappings.errors import InputError
from sync.errors import (
    Conflict,
    Forbidden,
    LimitError,
    NotFound,
    PlanError,
    Refused,
    StalePlan,
    StaleVersion,
)

__all__ = ["ApiProblem", "problem_response", "refused_status", "register_error_handlers"]

log = logging.getLogger(__name__)


class ApiProblem(Exception):
    """An error the API reports to its caller as a problem document."""

    def __init__(self, status: int, title: str, detail: str = "", field: str | None = None) -> None:
        super().__init__(detail or title)
        self.status = status
        self.title = title
        self.detail = detail
        self.field = field


def problem_response(
    status: int, title: str, detail: str = "", field: str | None = None, reason: str | None = None
) -> Response:
    """A ``application/problem+json`` response; ``reason``: the rule's code, when a rule
    of the role model refused the request."""
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if field is not None:
        body["field"] = field
    if reason is not None:
        body["reason"] = reason
    response = jsonify(body)
    response.status_code = status
    response.mimetype = "application/problem+json"
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="rolebridge"'
    return response


_REFUSED: dict[str, tuple[int, str]] = {
    "not_permitted": (403, "forbidden"),
    "last_owner": (409, "conflict"),
    "protected_role": (409, "conflict"),
    "idp_managed": (409, "conflict"),
}


def refused_status(reason: str) -> tuple[int, str]:
    """The status and title of a change a rule refused: 403 beyond the caller's role, 409
    against the org's state, 422 against the plan, credits or the role model's shape."""
    return _REFUSED.get(reason, (422, "refused by the role model"))


def _pydantic_field(error: ValidationError) -> str:
    first = error.errors()[0]
    return ".".join(str(p) for p in first["loc"]) or "$"


def register_error_handlers(bp: Blueprint) -> None:
    """Translate every error raised under ``bp`` into a problem document."""

    @bp.errorhandler(ApiProblem)
    def _problem(e: ApiProblem) -> Response:
        return problem_response(e.status, e.title, e.detail, e.field)

    @bp.errorhandler(InputError)
    def _input(e: InputError) -> Response:
        return problem_response(422, "invalid input", e.message, e.where or "$")

    @bp.errorhandler(NotFound)
    def _not_found(e: NotFound) -> Response:
        return problem_response(404, "not found", str(e), e.field)

    @bp.errorhandler(Forbidden)
    def _forbidden(e: Forbidden) -> Response:
        return problem_response(403, "forbidden", str(e), e.field)

    @bp.errorhandler(Refused)
    def _refused(e: Refused) -> Response:
        status, title = refused_status(e.reason)
        return problem_response(status, title, str(e), e.field, e.reason)

    @bp.errorhandler(Conflict)
    def _conflict(e: Conflict) -> Response:
        return problem_response(409, "conflict", str(e), e.field)

    @bp.errorhandler(LimitError)
    def _limit(e: LimitError) -> Response:
        return problem_response(422, "limit reached", str(e), getattr(e, "field", None))

    @bp.errorhandler(StaleVersion)
    def _stale_version(e: StaleVersion) -> Response:
        response = problem_response(412, "precondition failed", str(e), "If-Match")
        response.headers["ETag"] = f'"v{e.current}"'
        return response

    @bp.errorhandler(StalePlan)
    def _stale(e: StalePlan) -> Response:
        return problem_response(409, "stale plan", str(e), "fingerprint")

    @bp.errorhandler(PlanError)
    def _plan(e: PlanError) -> Response:
        return problem_response(409, "plan cannot be applied", str(e))

    @bp.errorhandler(ValidationError)
    def _validation(e: ValidationError) -> Response:
        first = e.errors()[0]
        return problem_response(422, "invalid input", str(first["msg"]), _pydantic_field(e))

    @bp.errorhandler(HTTPException)
    def _http(e: HTTPException) -> Response:
        return problem_response(e.code or 500, e.name, e.description or "")

    @bp.errorhandler(Exception)
    def _internal(e: Exception) -> Response:
        log.exception("admin API internal error")
        return problem_response(500, "internal error")
