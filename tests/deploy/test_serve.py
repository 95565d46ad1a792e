"""``rolebridge serve``: gunicorn from the command line, metrics summed over its workers."""

from __future__ import annotations

import json
import signal
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.deploy.conftest import Processes, free_port, wait_ready

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return str(response.read().decode())


def test_serve_answers_counts_over_all_workers_and_stops_cleanly(
    processes: Processes, tmp_path: Path
) -> None:
    """Two workers: every discovery request shows in the scrape, whichever worker served it."""
    processes.run("rolebridge", "db", "upgrade")
    port = free_port()
    processes.env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    server = processes.start(
        "serve", "rolebridge", "serve", "--port", str(port), "--workers", "2", "--threads", "1"
    )
    base = f"http://127.0.0.1:{port}"
    wait_ready(base)
    for _ in range(20):
        json.loads(_get(f"{base}/scim/v2/ServiceProviderConfig"))
    counted = 0.0
    for family in text_string_to_metric_families(_get(f"{base}/metrics")):
        for sample in family.samples:
            if sample.name == "rolebridge_scim_requests_total" and sample.labels == {
                "resource": "ServiceProviderConfig",
                "method": "GET",
                "status": "200",
            }:
                counted += sample.value
    assert counted == 20
    server.send_signal(signal.SIGTERM)
    assert server.wait(timeout=30) == 0
