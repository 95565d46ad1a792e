"""Sign-in, sign-out, CSRF checks and the signed-in caller of the admin pages.

The session cookie carries only a random session id (``sync.credentials.signins``): the server
decides on every request whether it is still signed in, so sign-out, a revoked key and
the expiry (``ROLEBRIDGE_SESSION_LIFETIME``) end it everywhere, copies of the cookie too.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from flask import (
    Response,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_wtf.csrf import CSRFError, generate_csrf, validate_csrf
from werkzeug.wrappers import Response as BaseResponse
from wtforms.validators import ValidationError

from scim_server.admin import bp
from scim_server.admin.oidc import PUBLIC_ENDPOINTS as OIDC_PUBLIC
from scim_server.api.context import read_session, transaction
from scim_server.ops.throttle import count_failure
from sync import logs
from sync.credentials.apikeys import verify_api_key
from sync.credentials.signins import end_sign_in, signed_in, start_sign_in
from sync.settings import Settings
from sync.store.audit import record_audit

__all__ = ["SIGN_IN", "SIGN_OUT", "sign_in", "sign_out"]

SIGN_IN, SIGN_OUT = "sign_in", "sign_out"  # the audit log's operations

_PUBLIC = ("admin.sign_in", "admin.static", *OIDC_PUBLIC)


@bp.before_request
def _load_caller() -> BaseResponse | None:
    """Check CSRF on every write, and send anonymous visitors to the sign-in page."""
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        token = request.form.get("csrf_token") or request.headers.get("X-CSRFToken")
        try:
            validate_csrf(token)
        except (ValidationError, CSRFError):
            abort(400, "The form expired or did not come from this site; reload and retry.")
    if request.endpoint in _PUBLIC:
        return None
    session_id = session.get("sid")
    principal = None
    if isinstance(session_id, str):
        with read_session() as s:
            principal = signed_in(s, session_id)
    if principal is None:
        session.pop("sid", None)
        if request.headers.get("X-Requested-With") == "fetch":  # the editor's preview
            return Response(render_template("admin/_signed_out.html"), 401)
        return redirect(url_for("admin.sign_in", next=request.path))
    g.rolebridge_principal = principal
    logs.bind(org_id=principal.org_id)
    return None


@bp.app_context_processor
def _template_globals() -> dict[str, Callable[..., Any] | Any]:
    return {"csrf_token": generate_csrf, "caller": g.get("rolebridge_principal")}


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in() -> str | BaseResponse:
    """Sign in with an API key; the cookie keeps only a new session's id."""
    if request.method == "POST":
        key = request.form.get("api_key", "").strip()
        with transaction() as s:
            principal = verify_api_key(s, key)
            session_id = (
                None if principal is None else start_sign_in(s, principal.key_id, _lifetime())
            )
            if principal is not None:
                detail: dict[str, object] = {"key": principal.key_id, "role": principal.role}
                record_audit(s, principal.org_id, principal.actor, SIGN_IN, "", detail)
        if session_id is None:
            count_failure()
            flash("That API key is unknown or revoked.", "error")
            return render_template("admin/sign_in.html"), 401  # type: ignore[return-value]
        session.clear()
        session["sid"] = session_id
        target = request.args.get("next", "")
        if not target.startswith("/admin/") or target.startswith("//"):
            target = url_for("admin.overview")
        return redirect(target)
    return render_template("admin/sign_in.html")


@bp.post("/sign-out")
def sign_out() -> Response | BaseResponse:
    """End the session on the server, then forget it in the browser."""
    session_id = session.get("sid")
    if isinstance(session_id, str):
        with transaction() as s:
            principal = signed_in(s, session_id)
            end_sign_in(s, session_id)
            if principal is not None:
                detail: dict[str, object] = {"key": principal.key_id, "role": principal.role}
                record_audit(s, principal.org_id, principal.actor, SIGN_OUT, "", detail)
    session.clear()
    return redirect(url_for("admin.sign_in"))


def _lifetime() -> timedelta:
    settings: Settings = current_app.extensions["rolebridge.settings"]
    return timedelta(seconds=settings.session_lifetime)
