"""The fuzzers' shared pieces: a seeded org on the test database, and the printed case counts."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy.orm import Session, sessionmaker

from scim_server import create_app
from sync.credentials.apikeys import create_api_key
from sync.credentials.tokens import create_token
from sync.models import Organisation
from sync.settings import Settings
from sync.store.mappings import save_mapping
from tests.fuzz.tally import TALLY

MAPPING = Path(__file__).parents[2] / "examples" / "aihub" / "mapping.yaml"


@dataclass(frozen=True, slots=True)
class Target:
    """The app under fuzzing and the credentials of its one org, ``acme``."""

    app: Flask
    scim_token: str
    api_key: str


@pytest.fixture
def target(session_factory: sessionmaker[Session], tmp_path: Path) -> Iterator[Target]:
    """The rolebridge app with an org, a mapping, a SCIM token and an admin API key."""
    with session_factory.begin() as s:
        org = Organisation(name="acme", role_model="aihub")
        s.add(org)
        s.flush()
        save_mapping(s, org.id, MAPPING.read_text(), created_by="fuzz")
        _, key = create_api_key(s, org.id, "admin", ["user", "admin"], name="fuzz")
    with session_factory.begin() as s:
        _, token = create_token(s, "acme")
    url = session_factory.kw["bind"].url.render_as_string(hide_password=False)
    settings = Settings(
        database_url=url,
        instance_path=tmp_path,
        max_body_bytes=64 * 1024,
        rate_limit_scim="1000000/minute",
        rate_limit_api="1000000/minute",
    )
    app = create_app(settings)
    app.config["TESTING"] = True
    yield Target(app, token, key)
    app.extensions["rolebridge"].engine.dispose()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print how many cases each fuzzer ran and what it found."""
    if TALLY.cases:
        terminalreporter.section("fuzzing")
        for line in TALLY.lines():
            terminalreporter.write_line(line)
