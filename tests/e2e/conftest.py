"""Fixtures for HTTP tests: the real app on the test database, an org and its token."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.test import TestResponse

from scim_server import create_app
from sync.credentials.tokens import create_token
from sync.models import Organisation
from sync.settings import Settings

SCIM = "application/scim+json"


@pytest.fixture
def settings(engine: Engine, tmp_path: Path) -> Settings:
    """Settings pointing at the test database."""
    return Settings(
        database_url=engine.url.render_as_string(hide_password=False),
        instance_path=tmp_path,
        max_body_bytes=256 * 1024,
    )


@pytest.fixture
def app(settings: Settings) -> Iterator[Flask]:
    """The rolebridge app."""
    application = create_app(settings)
    application.config["TESTING"] = True
    yield application
    application.extensions["rolebridge"].engine.dispose()


def make_org(session_factory: sessionmaker[Session], name: str, role_model: str = "aihub") -> str:
    """Create an organisation and return a new SCIM token for it."""
    with session_factory.begin() as session:
        session.add(Organisation(name=name, role_model=role_model))
    with session_factory.begin() as session:
        _, token = create_token(session, name)
    return token


@dataclass
class Scim:
    """A SCIM client on the Flask test client, with one org's token."""

    client: FlaskClient
    token: str
    prefix: str = "/scim/v2"

    def request(self, method: str, path: str, body: Any = None, **headers: str) -> TestResponse:
        """Send a SCIM request; ``body`` is sent as JSON."""
        sent = {"Authorization": f"Bearer {self.token}", **headers}
        kwargs: dict[str, Any] = {"headers": sent}
        if body is not None:
            kwargs["json"] = body
            sent.setdefault("Content-Type", SCIM)
        return self.client.open(self.prefix + path, method=method, **kwargs)

    def get(self, path: str, **headers: str) -> TestResponse:
        """GET."""
        return self.request("GET", path, **headers)

    def post(self, path: str, body: Any, **headers: str) -> TestResponse:
        """POST."""
        return self.request("POST", path, body, **headers)

    def put(self, path: str, body: Any, **headers: str) -> TestResponse:
        """PUT."""
        return self.request("PUT", path, body, **headers)

    def patch(self, path: str, body: Any, **headers: str) -> TestResponse:
        """PATCH."""
        return self.request("PATCH", path, body, **headers)

    def delete(self, path: str, **headers: str) -> TestResponse:
        """DELETE."""
        return self.request("DELETE", path, **headers)


@pytest.fixture
def scim(app: Flask, session_factory: sessionmaker[Session]) -> Scim:
    """A SCIM client for the org "acme"."""
    return Scim(app.test_client(), make_org(session_factory, "acme"))


def user(name: str, **extra: Any) -> dict[str, Any]:
    """A minimal SCIM User body."""
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": name,
        "emails": [{"value": name, "type": "work", "primary": True}],
        "active": True,
        **extra,
    }


def group(name: str, *member_ids: str) -> dict[str, Any]:
    """A minimal SCIM Group body."""
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": name,
        "members": [{"value": member} for member in member_ids],
    }
