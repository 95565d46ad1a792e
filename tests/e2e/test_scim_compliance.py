"""scim2-tester's checker run in-process against the rolebridge app."""

from __future__ import annotations

from flask import Flask
from scim2_client.engines.wsgi import WSGISCIMClient
from scim2_tester import Status, check_server

from tests.e2e.conftest import Scim


def test_scim2_tester_finds_no_error(app: Flask, scim: Scim) -> None:
    """Every check of scim2-tester passes or is skipped for a feature we do not announce."""
    client = WSGISCIMClient(
        app,
        base_url="http://localhost/scim/v2",
        headers={"Authorization": f"Bearer {scim.token}"},
    )
    results = check_server(client)
    bad = [
        f"{r.title}: {r.reason}"
        for r in results
        if r.status not in (Status.SUCCESS, Status.SKIPPED)
    ]
    passed = [r for r in results if r.status == Status.SUCCESS]
    assert bad == []
    assert len(passed) > 100
