"""The page an invitation email links to: ``/invite/<token>``.

GET only shows the invitation and a button (mail scanners follow links, so opening the
link never accepts it); POST accepts it: the member goes from ``invited`` to ``joined``.
The token is the secret, so the page needs no sign-in.
"""

from __future__ import annotations

from flask import Blueprint, Flask, current_app, render_template_string

from sync.db import SessionFactory
from sync.errors import NotFound
from sync.services.replan import accept_and_replan
from sync.store.invites import InviteExpired, find_invite

__all__ = ["bp", "init_app"]

bp = Blueprint("invite", __name__)

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ title }}</title></head>
<body><main>
<h1>{{ title }}</h1>
<p>{{ message }}</p>
{% if form %}<form method="post"><button type="submit">Accept the invitation</button></form>
{% endif %}</main></body></html>
"""


def _page(title: str, message: str, status: int = 200, form: bool = False) -> tuple[str, int]:
    return render_template_string(_PAGE, title=title, message=message, form=form), status


def _session_factory() -> SessionFactory:
    factory: SessionFactory = current_app.extensions["rolebridge.session_factory"]
    return factory


@bp.get("/invite/<token>")
def show(token: str) -> tuple[str, int]:
    """The invitation, with a button to accept it."""
    with _session_factory()() as session:
        found = find_invite(session, token)
    if found is None:
        return _page("Invitation not found", _GONE, 404)
    email, org = found
    return _page(f"Join {org}", f"This invitation is for {email}.", form=True)


@bp.post("/invite/<token>")
def accept(token: str) -> tuple[str, int]:
    """Accept the invitation behind ``token``."""
    try:
        email = accept_and_replan(_session_factory(), token).email
    except InviteExpired as exc:
        return _page("Invitation expired", str(exc), 410)
    except NotFound:
        return _page("Invitation not found", _GONE, 404)
    return _page("Welcome", f"{email} has joined.")


_GONE = "This invitation is not valid: it was already used, withdrawn or replaced."


def init_app(app: Flask) -> None:
    """Mount the invitation page."""
    app.register_blueprint(bp)
