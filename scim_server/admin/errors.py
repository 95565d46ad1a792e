"""Errors on the admin pages: a refused or impossible action is a message on the page it
came from; nothing leaks a traceback."""

from __future__ import annotations

import logging

from flask import flash, redirect, render_template, request
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as BaseResponse

from mappings.errors import RolebridgeError
from scim_server.admin import bp
from scim_server.api.problems import ApiProblem
from sync.errors import Forbidden, NotFound

__all__ = ["not_routed"]

log = logging.getLogger(__name__)


def _back(message: str, status: int) -> tuple[str, int] | BaseResponse:
    if request.method == "POST":
        flash(message, "error")
        target = request.referrer or ""
        if not target.startswith(request.host_url + "admin/"):
            target = request.host_url + "admin/"
        return redirect(target, 303)
    return render_template("admin/error.html", message=message, status=status), status


@bp.errorhandler(ApiProblem)
def _problem(e: ApiProblem) -> tuple[str, int] | BaseResponse:
    return _back(e.detail or e.title, e.status)


@bp.errorhandler(NotFound)
def _not_found(e: NotFound) -> tuple[str, int] | BaseResponse:
    return _back(str(e), 404)


@bp.errorhandler(Forbidden)
def _forbidden(e: Forbidden) -> tuple[str, int] | BaseResponse:
    return _back(str(e), 403)


@bp.errorhandler(RolebridgeError)
def _refused(e: RolebridgeError) -> tuple[str, int] | BaseResponse:
    return _back(str(e), 409)


@bp.errorhandler(HTTPException)
def _http(e: HTTPException) -> tuple[str, int]:
    code = e.code or 500
    return render_template("admin/error.html", message=e.description, status=code), code


@bp.errorhandler(Exception)
def _internal(e: Exception) -> tuple[str, int]:
    log.exception("admin page internal error")
    return render_template("admin/error.html", message="internal error", status=500), 500


@bp.route("/<path:unknown>", methods=["GET", "POST"])
def not_routed(unknown: str) -> tuple[str, int]:
    """Any other URL under /admin: the styled 404 page, not the server's bare one."""
    return render_template("admin/error.html", message=f"no page /admin/{unknown}", status=404), 404
