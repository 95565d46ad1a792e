"""The pull scheduler: schedules, tick claims, live schedule changes, two processes on one DB."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session, sessionmaker

from mappings.errors import InputError
from sync.models import Source, SyncRun
from sync.scheduler import PullScheduler, claim_tick, min_gap, parse_schedule
from sync.store.mappings import save_mapping
from sync.store.orgs import create_org
from tests.fakes.okta import FakeOkta
from tests.integration.pullsetup import MAPPINGS
from tests.secretscan import SCAN

ROOT = Path(__file__).resolve().parents[2]


def _add_source(
    factory: sessionmaker[Session], org: str, url: str, schedule: str | None = "2s"
) -> int:
    with factory.begin() as session:
        row = create_org(session, org, "shareofmodel")
        save_mapping(session, row.id, MAPPINGS["shareofmodel"])
        source = Source(
            org_id=row.id,
            name="okta",
            kind="okta",
            config={"org_url": url, "auth": "token", "page_size": 2},
            secret="env:RB_TEST_OKTA_TOKEN",
            schedule=schedule,
        )
        session.add(source)
        session.flush()
        return source.id


def test_schedules_are_intervals_or_cron_lines_and_anything_else_is_refused() -> None:
    """'15m' is fifteen minutes, a cron line fires on its minutes, junk names the field."""
    assert min_gap(parse_schedule("15m")) == timedelta(minutes=15)
    now = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
    assert min_gap(parse_schedule("*/20 * * * *"), now) == timedelta(minutes=20)
    for bad in ("soon", "0m", "61 * * * *"):
        with pytest.raises(InputError, match="schedule"):
            parse_schedule(bad)


def test_a_tick_is_claimed_once_and_the_next_tick_again(
    session_factory: sessionmaker[Session], okta: FakeOkta
) -> None:
    """Within half an interval a second claim fails; a full interval later it succeeds."""
    source_id = _add_source(session_factory, "Acme", okta.url)
    gap, t0 = timedelta(minutes=10), datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
    assert claim_tick(session_factory, source_id, gap, t0)
    assert not claim_tick(session_factory, source_id, gap, t0 + timedelta(seconds=3))
    assert claim_tick(session_factory, source_id, gap, t0 + gap)


def test_schedule_changes_are_picked_up_without_a_restart(
    session_factory: sessionmaker[Session], okta: FakeOkta
) -> None:
    """Changing, disabling and adding sources changes the stored jobs on the next refresh."""
    _drop_job_table(session_factory)
    first = _add_source(session_factory, "Acme", okta.url, schedule="1h")
    scheduler = PullScheduler(session_factory, refresh_seconds=3600)
    scheduler.start()
    try:
        assert scheduler.jobs() == {f"pull-{first}": "interval[1:00:00]"}
        with session_factory.begin() as session:
            row = session.get(Source, first)
            assert row is not None
            row.schedule = "30 2 * * *"
        second = _add_source(session_factory, "Globex", okta.url, schedule="15m")
        scheduler.refresh()
        jobs = scheduler.jobs()
        assert jobs[f"pull-{first}"].startswith("cron[") and "hour='2'" in jobs[f"pull-{first}"]
        assert jobs[f"pull-{second}"] == "interval[0:15:00]"
        with session_factory.begin() as session:
            row = session.get(Source, first)
            assert row is not None
            row.enabled = False
        scheduler.refresh()
        assert set(scheduler.jobs()) == {f"pull-{second}"}
    finally:
        scheduler.shutdown()


@pytest.mark.parametrize("engine", ["postgresql"], indirect=True)
@pytest.mark.postgres
@pytest.mark.slow
def test_two_scheduler_processes_sync_each_org_once_per_tick(
    engine: Engine, session_factory: sessionmaker[Session], okta: FakeOkta, tmp_path: Path
) -> None:
    """Two processes for eight seconds, two orgs every two seconds: no tick runs twice."""
    _drop_job_table(session_factory)
    sources = [_add_source(session_factory, name, okta.url) for name in ("Acme", "Globex")]
    env = {
        **os.environ,
        "DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "RB_TEST_OKTA_TOKEN": okta.state.api_token,
        "ROLEBRIDGE_LOG_LEVEL": "WARNING",
    }
    code = "from rolebridge.cli import main; main()"
    args = [sys.executable, "-c", code, "scheduler", "--refresh", "0.5", "--max-runtime", "8"]
    logs = [tmp_path / f"scheduler-{i}.log" for i in range(2)]
    procs = []
    for log in logs:
        with log.open("w") as err:  # the child keeps its own copy of the descriptor
            procs.append(
                subprocess.Popen(args, cwd=ROOT, env=env, stderr=err, stdout=subprocess.DEVNULL)
            )
    try:
        assert [proc.wait(timeout=30) for proc in procs] == [0, 0]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        for log in logs:
            SCAN.add_text(log.read_text())
    with session_factory() as session:
        runs = session.scalars(select(SyncRun).order_by(SyncRun.started_at)).all()
    for source_id in sources:
        mine = [r for r in runs if r.source_id == source_id]
        assert 2 <= len(mine) <= 4, [r.started_at for r in mine]
        starts = [r.started_at for r in mine]
        assert all(b - a >= timedelta(seconds=1) for a, b in itertools.pairwise(starts))
        for a, b in itertools.pairwise(mine):
            assert a.finished_at is not None and a.finished_at <= b.started_at
    assert {r.outcome for r in runs} <= {"applied", "empty"}, [(r.outcome, r.error) for r in runs]
    assert sum(r.outcome == "applied" for r in runs) == 2, "each org's first run invited everyone"
    runners = {r.counts["runner"] for r in runs}
    assert 1 <= len(runners) <= 2


def _drop_job_table(factory: sessionmaker[Session]) -> None:
    with factory.begin() as session:
        session.execute(text("DROP TABLE IF EXISTS apscheduler_jobs"))


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_the_scheduler_process_stops_cleanly_on_sigterm(
    engine: Engine, session_factory: sessionmaker[Session], okta: FakeOkta
) -> None:
    """A service manager's SIGTERM ends the process with status 0 and no run left 'running'."""
    _add_source(session_factory, "Acme", okta.url, schedule="1s")
    env = {
        **os.environ,
        "DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "RB_TEST_OKTA_TOKEN": okta.state.api_token,
        "ROLEBRIDGE_LOG_LEVEL": "WARNING",
    }
    code = "from rolebridge.cli import main; main()"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "scheduler", "--refresh", "0.5"], cwd=ROOT, env=env
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not _finished_runs(session_factory):
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    with session_factory() as session:
        outcomes = {r.outcome for r in session.scalars(select(SyncRun))}
    assert outcomes and "running" not in outcomes


def _finished_runs(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return len(session.scalars(select(SyncRun).where(SyncRun.outcome != "running")).all())
