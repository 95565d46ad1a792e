"""SIGTERM stops `rolebridge sync` and `rolebridge scheduler` within seconds, closes the run
as abandoned and frees the org's lock; two syncs of one org queue or fail in one line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from sync.models import Source, SyncRun
from sync.store.mappings import save_mapping
from sync.store.orgs import create_org
from tests.fakes.okta import FakeOkta
from tests.fakes.tcpproxy import TcpProxy
from tests.integration.pullsetup import MAPPINGS, roles

ROOT = Path(__file__).resolve().parents[2]
BOUND = 15.0  # seconds from SIGTERM to exit: the grace (5 s) and a slow machine's margin


@pytest.fixture
def idp(okta: FakeOkta) -> Iterator[TcpProxy]:
    """The fake Okta behind a proxy that can hang (accept and never answer)."""
    parts = urlsplit(okta.url)
    proxy = TcpProxy(str(parts.hostname), int(parts.port or 80))
    proxy.up()
    yield proxy
    proxy.down()


def _org(factory: sessionmaker[Session], url: str, schedule: str | None = None) -> int:
    with factory.begin() as session:
        org = create_org(session, "Acme", "shareofmodel")
        save_mapping(session, org.id, MAPPINGS["shareofmodel"])
        session.add(
            Source(
                org_id=org.id,
                name="okta",
                kind="okta",
                config={"org_url": url, "auth": "token", "page_size": 2},
                secret="env:RB_TEST_OKTA_TOKEN",
                schedule=schedule,
            )
        )
        return org.id


def _env(engine: Engine, okta: FakeOkta) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "RB_TEST_OKTA_TOKEN": okta.state.api_token,
        "ROLEBRIDGE_LOG_LEVEL": "WARNING",
    }


def _start(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    code = "from rolebridge.cli import main; main()"
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _runs(factory: sessionmaker[Session]) -> list[SyncRun]:
    with factory() as session:
        return list(session.scalars(select(SyncRun).order_by(SyncRun.id)))


def _wait_for_running(factory: sessionmaker[Session], proc: subprocess.Popen[str]) -> None:
    """Until a pull run is recorded as running (and its first request is on its way)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        if any(r.outcome == "running" and r.source_id for r in _runs(factory)):
            time.sleep(1.0)
            return
        time.sleep(0.1)
    pytest.fail(f"no run started: {proc.poll()} {proc.communicate()}")


def _terminate(proc: subprocess.Popen[str]) -> tuple[int, float, str, str]:
    """SIGTERM; (exit status, seconds until exit, stdout, stderr)."""
    sent = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        out, err = proc.communicate(timeout=BOUND + 15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return proc.returncode, time.monotonic() - sent, out, err


def _sync(env: dict[str, str], *extra: str) -> subprocess.CompletedProcess[str]:
    code = "from rolebridge.cli import main; main()"
    return subprocess.run(
        [sys.executable, "-c", code, "sync", "--org", "Acme", *extra],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_sigterm_stops_a_sync_hanging_on_the_idp_and_frees_the_org(
    engine: Engine,
    session_factory: sessionmaker[Session],
    okta: FakeOkta,
    idp: TcpProxy,
) -> None:
    """An IdP that never answers: the sync exits 1 within seconds, its run reads abandoned
    with the reason, and the next sync takes the lock at once and applies."""
    org_id = _org(session_factory, f"http://127.0.0.1:{idp.port}")
    idp.blackhole = True
    env = _env(engine, okta)
    proc = _start(env, "sync", "--org", "Acme")
    _wait_for_running(session_factory, proc)
    code, took, _, err = _terminate(proc)
    assert code == 1 and took < BOUND, (code, took, err)
    assert "Traceback" not in err
    (run,) = _runs(session_factory)
    assert run.outcome == "abandoned" and run.finished_at is not None
    assert run.error is not None and "SIGTERM" in run.error
    assert roles(session_factory, org_id) == {}
    idp.blackhole = False
    again = _sync(env, "--wait", "0")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "okta: applied" in again.stdout
    assert len(roles(session_factory, org_id)) == 5


def test_sigterm_ends_a_sync_at_its_next_request_while_it_waits_out_a_rate_limit(
    engine: Engine, session_factory: sessionmaker[Session], okta: FakeOkta
) -> None:
    """A 429 asking for 30 s: the pause ends on SIGTERM and no further request is made."""
    _org(session_factory, okta.url)
    okta.add_fault("/api/v1/users", status=429, headers={"Retry-After": "30"}, times=100)
    proc = _start(_env(engine, okta), "sync", "--org", "Acme")
    _wait_for_running(session_factory, proc)
    code, took, out, err = _terminate(proc)
    assert code == 1 and took < BOUND, (code, took, err)
    (run,) = _runs(session_factory)
    assert run.outcome == "abandoned"
    assert run.error is not None and "SIGTERM" in run.error and "stopped before GET" in run.error
    assert "okta: abandoned" in out


def test_sigterm_stops_the_scheduler_during_a_hanging_pull_and_frees_the_org(
    engine: Engine,
    session_factory: sessionmaker[Session],
    okta: FakeOkta,
    idp: TcpProxy,
) -> None:
    """The scheduler exits 0 within seconds; its run reads abandoned; a sync can proceed."""
    org_id = _org(session_factory, f"http://127.0.0.1:{idp.port}", schedule="1s")
    idp.blackhole = True
    env = _env(engine, okta)
    proc = _start(env, "scheduler", "--refresh", "0.5")
    _wait_for_running(session_factory, proc)
    code, took, _, err = _terminate(proc)
    assert code == 0 and took < BOUND, (code, took, err)
    runs = _runs(session_factory)
    assert runs and {r.outcome for r in runs} == {"abandoned"}
    assert all(r.error and "SIGTERM" in r.error for r in runs)
    idp.blackhole = False
    again = _sync(env, "--wait", "0")
    assert again.returncode == 0, again.stdout + again.stderr
    assert len(roles(session_factory, org_id)) == 5


def test_a_second_sync_of_the_org_fails_in_one_line_or_queues_behind_the_first(
    engine: Engine,
    session_factory: sessionmaker[Session],
    okta: FakeOkta,
    idp: TcpProxy,
) -> None:
    """While one sync runs, another gives up after --wait with one line and status 1 (no
    run row, no traceback); one that waits long enough runs once the first has ended."""
    org_id = _org(session_factory, f"http://127.0.0.1:{idp.port}")
    idp.blackhole = True
    env = _env(engine, okta)
    first = _start(env, "sync", "--org", "Acme")
    _wait_for_running(session_factory, first)
    second = _sync(env, "--wait", "1")
    assert second.returncode == 1, second.stdout + second.stderr
    assert second.stderr.strip().count("\n") == 0 and "Traceback" not in second.stderr
    assert "another pull of 'Acme' is running" in second.stderr
    assert len(_runs(session_factory)) == 1
    queued = _start(env, "sync", "--org", "Acme", "--wait", "40")
    time.sleep(1.0)
    idp.blackhole = False  # new connections (the queued sync's) are answered
    code, _, _, _ = _terminate(first)
    assert code == 1
    out, err = queued.communicate(timeout=60)
    assert queued.returncode == 0, out + err
    assert [r.outcome for r in _runs(session_factory)] == ["abandoned", "applied"]
    assert len(roles(session_factory, org_id)) == 5
