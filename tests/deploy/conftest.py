"""Fixtures for tests that run rolebridge as an operator would: separate processes on a
fresh PostgreSQL database, each process's log kept for the suite-wide secret scan."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.secretscan import SCAN

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def fresh_database() -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database on TEST_DATABASE_URL's server."""
    base = os.environ.get("TEST_DATABASE_URL")
    if not base:
        pytest.skip("TEST_DATABASE_URL is not set")
    url = make_url(base)
    name = f"rb_deploy_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _bin_dir(tmp_path: Path) -> Path:
    """Where ``rolebridge`` and ``gunicorn`` are: beside this Python, or a shim for it."""
    here = Path(sys.executable).parent
    if (here / "rolebridge").exists():
        return here
    shim = tmp_path / "bin"
    shim.mkdir(exist_ok=True)
    script = shim / "rolebridge"
    script.write_text(
        f'#!/bin/sh\nexec {sys.executable} -c "from rolebridge.cli import main; main()" "$@"\n'
    )
    script.chmod(0o755)
    for tool in ("gunicorn",):
        found = here / tool
        if found.exists() and not (shim / tool).exists():
            (shim / tool).symlink_to(found)
    return shim


@dataclass
class Processes:
    """rolebridge processes started for one test; stopped (and their logs scanned) after."""

    env: dict[str, str]
    logs: Path
    started: list[tuple[subprocess.Popen[bytes], Path]] = field(default_factory=list)

    def start(self, name: str, *argv: str) -> subprocess.Popen[bytes]:
        """Start ``argv`` with the test's environment, its output in ``logs/name.log``."""
        log = self.logs / f"{name}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(argv, env=self.env, stdout=out, stderr=subprocess.STDOUT)
        self.started.append((process, log))
        return process

    def run(self, *argv: str) -> str:
        """Run a command to completion; its standard output."""
        done = subprocess.run(argv, env=self.env, capture_output=True, timeout=120, check=False)
        assert done.returncode == 0, done.stderr.decode()[-2000:]
        return done.stdout.decode()

    def stop(self) -> None:
        """Stop every process (SIGTERM, then SIGKILL) and hand their logs to the secret scan."""
        for process, _ in self.started:
            if process.poll() is None:
                process.terminate()
        for process, log in self.started:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
            SCAN.add_text(log.read_text(errors="replace"))

    def dump(self) -> str:
        """The tail of every log, for a failure message."""
        return "\n".join(
            f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}" for _, log in self.started
        )


@pytest.fixture
def processes(fresh_database: str, tmp_path: Path) -> Iterator[Processes]:
    """A process starter whose environment points rolebridge at the fresh database."""
    bin_dir = _bin_dir(tmp_path)
    env = {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
        "PYTHONPATH": str(ROOT),
        "HOME": str(tmp_path),
        "DATABASE_URL": fresh_database,
        "ROLEBRIDGE_INSTANCE": str(tmp_path / "instance"),
        "ROLEBRIDGE_SECRET_KEY": "deploy-test-" + uuid.uuid4().hex,
        "ROLEBRIDGE_LOG_LEVEL": "INFO",
    }
    logs = tmp_path / "logs"
    logs.mkdir()
    found = Processes(env, logs)
    try:
        yield found
    finally:
        found.stop()
        shutil.rmtree(tmp_path / "instance", ignore_errors=True)


def wait_ready(base: str, timeout: float = 60.0) -> None:
    """Wait until ``base``/readyz answers 200."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base}/readyz", timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.3)
    raise AssertionError(f"{base}/readyz did not become ready in {timeout}s")
