"""The webhooks page: an org's endpoints, how far delivery got, and the add, test, replay
and remove actions, through the same services as the API and the CLI. A new endpoint's
secret is shown once, in the answer to the form (never in a flash message, which the
session cookie would carry)."""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from mappings.authority import Caller
from scim_server.admin import bp
from scim_server.api.context import caller, session_factory
from sync.services.webhooks import add_webhook, delete_webhook, replay, test_webhook, webhooks_of
from sync.settings import Settings
from sync.store.events import EVENT_TYPES

__all__ = ["webhooks_page"]


def _caller() -> Caller:
    who = caller()
    return Caller(actor=who.actor, role=who.role)


def _settings() -> Settings:
    found: Settings = current_app.extensions["rolebridge.settings"]
    return found


def _render(secret: str | None = None, added: int | None = None) -> str:
    return render_template(
        "admin/webhooks.html",
        webhooks=webhooks_of(session_factory(), caller().org_id),
        types=EVENT_TYPES,
        secret=secret,
        added=added,
    )


@bp.get("/webhooks")
def webhooks_page() -> str:
    """The org's webhook endpoints."""
    return _render()


@bp.post("/webhooks")
def webhook_add() -> str:
    """Add an endpoint and show its secret once."""
    types = request.form.getlist("types") or None
    made = add_webhook(
        session_factory(),
        caller().org_id,
        _caller(),
        request.form.get("url", ""),
        _settings(),
        types,
    )
    return _render(made.secret, int(made.webhook["id"]))


@bp.post("/webhooks/<id:webhook_id>/test")
def webhook_test(webhook_id: int) -> BaseResponse:
    """Send a signed test message now."""
    result = test_webhook(session_factory(), caller().org_id, _caller(), webhook_id, _settings())
    flash(f"Webhook {webhook_id}: {result}", "ok")
    return redirect(url_for("admin.webhooks_page"), 303)


@bp.post("/webhooks/<id:webhook_id>/replay")
def webhook_replay(webhook_id: int) -> BaseResponse:
    """Send the endpoint's events again from its oldest failed one (or re-enable it)."""
    start = replay(session_factory(), caller().org_id, _caller(), webhook_id)
    flash(f"Webhook {webhook_id} sends again from event #{start}.", "ok")
    return redirect(url_for("admin.webhooks_page"), 303)


@bp.post("/webhooks/<id:webhook_id>/remove")
def webhook_remove(webhook_id: int) -> BaseResponse:
    """Remove an endpoint."""
    delete_webhook(session_factory(), caller().org_id, _caller(), webhook_id)
    flash(f"Webhook {webhook_id} removed.", "ok")
    return redirect(url_for("admin.webhooks_page"), 303)
