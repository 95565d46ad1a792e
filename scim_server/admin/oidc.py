"""Sign-in to the admin pages through the org's own OpenID Connect provider, and the page
where the org's top role sets it up (docs/architecture.md section 3.5).

``/admin/signin/oidc/<org>`` starts the authorization-code flow (PKCE S256, a random
state and nonce kept server-side and bound to this browser); the provider sends the
browser back to ``/admin/signin/oidc/callback``, which signs the member in as themselves,
with their own org role and managing workspace roles, read on every request
(``sync.services.oidc``, ``sync.credentials.signins``). Any failure is a page saying why, with
nothing signed in.
"""

from __future__ import annotations

import hmac
import logging
from datetime import timedelta

from flask import (
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.wrappers import Response as BaseResponse

from mappings.authority import Caller, refusal_for_sign_in_settings
from scim_server.admin import bp
from scim_server.api.context import OrgContext, caller, org_context, read_session, session_factory
from scim_server.ops.throttle import count_failure
from sync.credentials.oidc import CALLBACK_PATH, OidcRefused
from sync.services import oidc as service
from sync.settings import Settings

__all__ = ["PUBLIC_ENDPOINTS", "oidc_callback", "oidc_start", "sign_in_settings"]

PUBLIC_ENDPOINTS = ("admin.oidc_start", "admin.oidc_choose", "admin.oidc_callback")
_STATE = "oidc_state"  # the browser's half of the state: the flow must end where it began

log = logging.getLogger(__name__)


def _settings() -> Settings:
    settings: Settings = current_app.extensions["rolebridge.settings"]
    return settings


def redirect_uri() -> str:
    """The callback URL to register at the provider (``ROLEBRIDGE_BASE_URL`` + the path)."""
    return _settings().base_url.rstrip("/") + CALLBACK_PATH


def _refused(message: str, status: int) -> tuple[str, int]:
    count_failure()
    return render_template("admin/oidc_refused.html", message=message, status=status), status


def _target() -> str:
    target = request.args.get("next", "")
    if not target.startswith("/admin/") or target.startswith("//"):
        return ""
    return target


@bp.post("/signin/oidc")
def oidc_choose() -> BaseResponse | str:
    """The sign-in page's organisation field: on to that org's provider.

    A page that moves on by itself, not a redirect: the pages' Content-Security-Policy
    (``form-action 'self'``) stops a form's redirects at another origin, as the provider is.
    """
    org = request.form.get("org", "").strip()
    if not org or len(org) > 200:
        flash("Name your organisation to sign in with its identity provider.", "error")
        return redirect(url_for("admin.sign_in"), 303)
    start = url_for("admin.oidc_start", org=org, next=_target() or None)
    return render_template("admin/oidc_continue.html", start=start, org=org)


@bp.get("/signin/oidc/<org>")
def oidc_start(org: str) -> BaseResponse | tuple[str, int]:
    """Send the browser to the org's provider with a new state, nonce and PKCE challenge."""
    try:
        url, state = service.start_sign_in_url(session_factory(), org, redirect_uri(), _target())
    except OidcRefused as refused:
        return _refused(str(refused), 404 if refused.reason == "not_enabled" else 502)
    session[_STATE] = state
    return redirect(url, 302)


@bp.get("/signin/oidc/callback")
def oidc_callback() -> BaseResponse | tuple[str, int]:
    """The provider's answer: check it all, then start the member's admin session."""
    state = request.args.get("state", "")
    expected = session.pop(_STATE, None)
    if not isinstance(expected, str) or not hmac.compare_digest(expected.encode(), state.encode()):
        return _refused(
            "This sign-in did not start in this browser, or was already used; start again.", 400
        )
    try:
        done = service.complete_sign_in(
            session_factory(),
            state=state,
            code=request.args.get("code", ""),
            error=request.args.get("error_description") or request.args.get("error", ""),
            redirect_uri=redirect_uri(),
            secret_key=_settings().secret_key,
            lifetime=_lifetime(),
        )
    except OidcRefused as refused:
        log.info("oidc sign-in refused: %s", refused.reason)
        status = 403 if refused.reason in ("not_member", "not_joined") else 401
        return _refused(str(refused), status)
    session.clear()
    session["sid"] = done.session_id
    return redirect(done.target or url_for("admin.overview"))


def _lifetime() -> timedelta:
    return timedelta(seconds=_settings().session_lifetime)


# -- the settings page --------------------------------------------------------------


def _ctx() -> OrgContext:
    with read_session() as s:
        return org_context(s, caller().org_name)


def _caller(ctx: OrgContext) -> Caller:
    return Caller(actor=ctx.caller.actor, role=ctx.caller.role)


@bp.get("/sign-in-settings")
def sign_in_settings() -> str:
    """The org's identity provider for signing in here (the secret only as "set")."""
    ctx = _ctx()
    facts = service.show_oidc(session_factory(), ctx.id, _caller(ctx))
    may_change = refusal_for_sign_in_settings(ctx.role_model, ctx.caller.role) is None
    return render_template(
        "admin/sign_in_settings.html",
        facts=facts,
        may_change=may_change,
        redirect_uri=redirect_uri(),
        sign_in_link=_settings().base_url.rstrip("/") + url_for("admin.oidc_start", org=ctx.name),
        org=ctx.name,
    )


@bp.post("/sign-in-settings")
def sign_in_settings_save() -> BaseResponse:
    """Set the org's provider; an empty secret field keeps the stored secret."""
    ctx = _ctx()
    service.set_oidc(
        session_factory(),
        ctx.id,
        _caller(ctx),
        issuer=request.form.get("issuer", ""),
        client_id=request.form.get("client_id", ""),
        client_secret=request.form.get("client_secret") or None,
        enabled=request.form.get("enabled") == "on",
        secret_key=_settings().secret_key,
    )
    flash("Saved the identity provider sign-in.", "ok")
    return redirect(url_for("admin.sign_in_settings"), 303)


@bp.post("/sign-in-settings/clear")
def sign_in_settings_clear() -> BaseResponse:
    """Remove the org's provider."""
    ctx = _ctx()
    gone = service.clear_oidc(session_factory(), ctx.id, _caller(ctx))
    flash("Removed the identity provider sign-in." if gone else "There was none.", "ok")
    return redirect(url_for("admin.sign_in_settings"), 303)
