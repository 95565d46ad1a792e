"""Admin API: a draft mapping is tenant input; its regexes and templates cannot hurt the service."""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from mappings.directory import Directory
from tests.e2e.admin.conftest import Seeded, directory_of

PEOPLE = {"ann@acme.com": ["proj-alpha-manager"], "bob@acme.com": ["proj-beta-user"]}
HANG_GUARD = 20  # seconds; far above the answer's real time, only there so a hang fails


@pytest.fixture
def aihub(seed: Callable[..., Seeded], put_directory: Callable[[int, Directory], None]) -> Seeded:
    """An aihub org with workspaces alpha and beta and a directory of proj-* groups."""
    org = seed("acme", "aihub", ["user", "admin"], workspaces={"alpha": 0, "beta": 0})
    put_directory(org.id, directory_of(PEOPLE))
    return org


@contextmanager
def hang_guard(seconds: int) -> Iterator[None]:
    """Fail instead of hanging: a backtracking regex holds the GIL, so no thread could
    time it out, but ``re`` checks for signals while it matches."""

    def _expired(*_: Any) -> None:
        raise TimeoutError(f"no answer within {seconds} s")

    previous = signal.signal(signal.SIGALRM, _expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _preview(client: FlaskClient, org: Seeded, document: str) -> TestResponse:
    with hang_guard(HANG_GUARD):
        return client.post(
            "/api/v1/orgs/acme/preview", headers=org.auth("user"), json={"document": document}
        )


def _ops(r: TestResponse) -> set[tuple[str, str, str | None]]:
    return {(o["op"], o["user"], o.get("workspace")) for o in r.json["plan"]["operations"]}


def test_a_catastrophic_backtracking_pattern_answers_at_once_with_the_right_plan(
    client: FlaskClient, aihub: Seeded
) -> None:
    """``^(((.+)+)+)+!$`` against proj-alpha-manager: no match, the other rule still applies."""
    draft = """\
role_model: aihub
rules:
  - match: '^(((.+)+)+)+!$'
    org_role: admin
  - match: '^proj-(?P<w>[a-z]+)-(?P<r>user|manager)$'
    workspace: "{w}"
    workspace_role: "{r}"
"""
    r = _preview(client, aihub, draft)
    assert r.status_code == 200, r.json
    assert _ops(r) == {
        ("invite", "ann@acme.com", None),
        ("invite", "bob@acme.com", None),
        ("add_to_workspace", "ann@acme.com", "alpha"),
        ("add_to_workspace", "bob@acme.com", "beta"),
    }
    roles = {(o["user"], o.get("org_role")) for o in r.json["plan"]["operations"]}
    assert ("ann@acme.com", "user") in roles  # the backtracking rule granted no admin


@pytest.mark.parametrize(
    ("pattern", "words"),
    [
        ("^(?=proj)(?P<w>.+)$", "lookahead (?=...) is not supported"),
        ("^(?P<w>[a-z]+)-\\1$", "backreferences (\\1 ... \\9) are not supported"),
        ("x" * 1001, "longer than 1000 characters"),
    ],
)
def test_a_pattern_re2_refuses_is_a_422_naming_the_rule(
    client: FlaskClient, aihub: Seeded, pattern: str, words: str
) -> None:
    """Lookaround, backreferences and over-long patterns: 422 at rules[0].match, in words."""
    draft = f"role_model: aihub\nrules:\n  - match: '{pattern}'\n    org_role: admin\n"
    r = _preview(client, aihub, draft)
    assert (r.status_code, r.json["field"]) == (422, "rules[0].match")
    assert words in r.json["detail"]
    v = client.post(
        "/api/v1/orgs/acme/mapping/validate", headers=aihub.auth("user"), json={"document": draft}
    )
    assert (v.json["valid"], v.json["errors"][0]["field"]) == (False, "rules[0].match")


@pytest.mark.parametrize("field", ["{w:>99999999}", "{w!r}", "{w[0]}", "{w.x}", "{}", "{0}"])
def test_a_template_with_more_than_a_capture_name_is_refused(
    client: FlaskClient, aihub: Seeded, field: str
) -> None:
    """Format specs, conversions, indexes, attributes and positional fields: 422 at the field."""
    draft = (
        "role_model: aihub\nrules:\n  - match: '^proj-(?P<w>[a-z]+)-manager$'\n"
        f"    workspace: '{field}'\n"
    )
    r = _preview(client, aihub, draft)
    assert (r.status_code, r.json["field"]) == (422, "rules[0].workspace")
    assert "use {name} with a capture name only" in r.json["detail"]


def test_a_filled_name_longer_than_a_workspace_name_is_dropped_with_a_warning(
    client: FlaskClient, aihub: Seeded
) -> None:
    """``{w}`` 66 times fills 1,188 characters: no workspace op for it, and a warning says why."""
    template = "{w}" * 66
    draft = (
        "role_model: aihub\nrules:\n  - match: '^(?P<w>proj-[a-z]+-manager)$'\n"
        f"    workspace: '{template}'\n"
    )
    r = _preview(client, aihub, draft)
    assert r.status_code == 200, r.json
    assert _ops(r) == set()  # the rule's only grant was dropped, so bob and ann are unmapped
    assert r.json["plan"]["warnings"] == [
        "rules[0]: group 'proj-alpha-manager' fills a name of 1188 characters (limit 200)"
    ]
    assert len(r.get_data()) < 10_000


IMG = "<img src=x onerror=alert(1)>"


def test_a_markdown_plan_shows_idp_html_as_text(
    client: FlaskClient,
    seed: Callable[..., Seeded],
    put_directory: Callable[[int, Directory], None],
    save_version: Callable[[int, str], int],
) -> None:
    """A group and an email carrying HTML reach the Markdown plan escaped, never as tags."""
    org = seed("acme", "soterai", ["owner"], [("root@acme.com", "owner", "joined", "idp", {})])
    put_directory(org.id, directory_of({"root@acme.com": [], f"{IMG}@acme.com": [IMG]}))
    save_version(org.id, f"role_model: soterai\nrules:\n  - group: '{IMG}'\n    org_role: member\n")
    made = client.post("/api/v1/orgs/acme/plans", headers=org.auth("owner"), json={})
    assert made.status_code == 201, made.json
    md = client.get(
        f"/api/v1/orgs/acme/plans/{made.json['id']}?format=markdown", headers=org.auth("owner")
    )
    text = md.get_data(as_text=True)
    assert "<img" not in text
    escaped = "&lt;img src=x onerror=alert(1)&gt;"
    assert f"| rule 0: {escaped} |" in text
    assert f"| {escaped}@acme.com |" in text
