"""rolebridge served on a loopback port (werkzeug, one thread per request), with one org's
SCIM token, for tests whose clients must really run at the same time."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from threading import local
from typing import Any

import requests
from sqlalchemy.orm import Session, sessionmaker

from scim_server import create_app
from sync.credentials.tokens import create_token
from sync.models import Organisation
from sync.settings import Settings
from sync.store.mappings import save_mapping
from tests.fakes.server import LoopbackServer

__all__ = ["Served", "served_app"]

SCIM = "application/scim+json"


@dataclass
class Served:
    """A SCIM client of the served app; each thread keeps its own HTTP connection."""

    url: str
    token: str
    _local: local = field(default_factory=local)

    def request(self, method: str, path: str, body: Any = None, **query: str) -> requests.Response:
        """Send one SCIM request; ``body`` as JSON, keyword arguments as the query."""
        http = getattr(self._local, "http", None)
        if http is None:
            http = self._local.http = requests.Session()
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": SCIM}
        data = None if body is None else requests.models.complexjson.dumps(body)
        return http.request(
            method, self.url + path, data=data, params=query, headers=headers, timeout=60
        )

    def get(self, path: str, **query: str) -> requests.Response:
        """GET."""
        return self.request("GET", path, **query)

    def post(self, path: str, body: Any) -> requests.Response:
        """POST."""
        return self.request("POST", path, body)

    def patch(self, path: str, body: Any) -> requests.Response:
        """PATCH."""
        return self.request("PATCH", path, body)

    def put(self, path: str, body: Any) -> requests.Response:
        """PUT."""
        return self.request("PUT", path, body)

    def delete(self, path: str) -> requests.Response:
        """DELETE."""
        return self.request("DELETE", path)


@contextmanager
def served_app(
    session_factory: sessionmaker[Session], tmp_path: Path, mapping: str | None = None
) -> Iterator[Served]:
    """The app on the test database, served on 127.0.0.1, with the org ``acme``'s token
    (and its ``mapping``, so that every write reconciles)."""
    with session_factory.begin() as s:
        org = Organisation(name="acme", role_model="aihub")
        s.add(org)
        s.flush()
        if mapping is not None:
            save_mapping(s, org.id, mapping, created_by="test")
    with session_factory.begin() as s:
        _, token = create_token(s, "acme")
    url = session_factory.kw["bind"].url.render_as_string(hide_password=False)
    settings = Settings(
        database_url=url,
        instance_path=tmp_path,
        rate_limit_scim="1000000/minute",
        rate_limit_api="1000000/minute",
        # writers of one org wait in turn for its lock, each holding a pooled connection:
        # the concurrency tests check what 16 writers get, not how long the last one waits
        # on a busy machine (past the pool wait the answer is 503, tests/e2e/test_outage.py)
        db_pool_timeout=120.0,
    )
    app = create_app(settings)
    server = LoopbackServer(app)
    try:
        yield Served(server.url + "/scim/v2", token)
    finally:
        server.close()
        app.extensions["rolebridge"].engine.dispose()
