"""The invitation page: opening the link shows it, the button accepts it, once."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from sync.models import Member, utcnow
from sync.store.invites import mint_token
from sync.store.orgs import create_org


def _invite(session_factory: sessionmaker[Session], days_ago: int = 0) -> str:
    token, digest = mint_token()
    with session_factory.begin() as s:
        org = create_org(s, "Acme", "shareofmodel")
        s.add(
            Member(org_id=org.id, email="ann@acme.com", org_role="viewer", status="invited",
                   origin="idp", invited_at=utcnow() - timedelta(days=days_ago),
                   invite_token_hash=digest)
        )  # fmt: skip
    return token


def _status(session_factory: sessionmaker[Session]) -> str | None:
    with session_factory() as s:
        return s.scalar(select(Member.status).where(Member.email == "ann@acme.com"))


def test_opening_the_link_shows_the_invitation_without_accepting_it(
    app: Flask, session_factory: sessionmaker[Session]
) -> None:
    """GET names the org and the email and offers a button; the member stays invited."""
    token = _invite(session_factory)
    page = app.test_client().get(f"/invite/{token}")
    assert page.status_code == 200
    assert b"Join Acme" in page.data and b"ann@acme.com" in page.data
    assert b'<form method="post">' in page.data
    assert _status(session_factory) == "invited"


def test_the_button_accepts_the_invitation_once(
    app: Flask, session_factory: sessionmaker[Session]
) -> None:
    """POST joins the member; the same link then says it is no longer valid."""
    token = _invite(session_factory)
    client = app.test_client()
    accepted = client.post(f"/invite/{token}")
    assert accepted.status_code == 200 and b"ann@acme.com has joined" in accepted.data
    assert _status(session_factory) == "joined"
    again = client.post(f"/invite/{token}")
    assert again.status_code == 404 and b"not valid" in again.data
    assert client.get(f"/invite/{token}").status_code == 404


def test_an_expired_invitation_says_so(app: Flask, session_factory: sessionmaker[Session]) -> None:
    """An invite older than the role model's expiry is refused with 410 and stays invited."""
    token = _invite(session_factory, days_ago=31)
    refused = app.test_client().post(f"/invite/{token}")
    assert refused.status_code == 410 and b"expired" in refused.data
    assert _status(session_factory) == "invited"


def test_a_made_up_token_finds_nothing(app: Flask) -> None:
    """A guessed token gets the same 404 page, without details."""
    page = app.test_client().post("/invite/not-a-real-token")
    assert page.status_code == 404 and b"Traceback" not in page.data
