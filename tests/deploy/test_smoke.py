"""The README's deployment steps, followed by deploy/smoke.sh on a fresh PostgreSQL database."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.deploy.conftest import ROOT, Processes
from tests.secretscan import SCAN

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def test_the_readme_deployment_steps_work_without_docker(
    processes: Processes, tmp_path: Path
) -> None:
    """deploy/smoke.sh migrates, creates an org and token, serves, schedules and answers SCIM."""
    work = tmp_path / "smoke"
    env = {**processes.env, "SMOKE_DIR": str(work)}
    done = subprocess.run(
        ["bash", str(ROOT / "deploy" / "smoke.sh")],
        env=env,
        capture_output=True,
        timeout=240,
        check=False,
    )
    output = done.stdout.decode() + done.stderr.decode()
    token = (work / "token").read_text() if (work / "token").exists() else ""
    if token:
        SCAN.add_secret(token)
    for log in work.glob("*.log"):
        SCAN.add_text(log.read_text(errors="replace"))
    assert done.returncode == 0, output[-4000:]
    assert "smoke: ok" in output
    assert token.startswith("rbscim_") and token not in output
