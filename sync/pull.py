"""One pull run: fetch a source's directory, gate it, replace its mirror, reconcile the org.

Every run leaves a ``sync_runs`` row (started, finished, counts, outcome, error). Whatever
goes wrong before the mirror is replaced (a page that failed after retries, refused
credentials, a truncated or suspicious snapshot) ends the run with no change at all, so
with zero removals. Outcomes: ``failed`` and ``suspicious`` (nothing changed), ``planned``
(dry run), the reconcile's own ``applied``, ``empty``, ``held``, ``pending``, and
``abandoned`` for a run whose process was stopped (SIGTERM: closed by the process, with the
reason) or died (closed by the source's next run).
"""

from __future__ import annotations

import fcntl
import logging
import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import Engine, text, update
from sqlalchemy.orm import Session, sessionmaker

from mappings.completeness import DropLimit, GateVerdict, check_snapshot
from mappings.directory import Directory, GroupMember
from mappings.errors import RolebridgeError
from mappings.mapping import RoleMapping
from mappings.operations import Plan
from sync.credentials.secrets import resolve_secret
from sync.errors import NotFound
from sync.mirror import SnapshotChanges, replace_snapshot, source_directory
from sync.mirror.held import hold
from sync.models import Source, SyncRun, utcnow
from sync.planner_stats import StatisticsKeeper
from sync.reconcile import gather, plan_for, reconcile
from sync.sources.base import Cancelled, Progress, RetryPolicy, Snapshot, SourceError
from sync.sources.factory import build_source
from sync.stop import StopSignal
from sync.store.events import emit, run_events
from sync.store.mappings import current_mapping

__all__ = [
    "LOCK_WAIT_SECONDS",
    "PullResult",
    "org_pull_lock",
    "run_pull",
    "same_directory",
]

log = logging.getLogger(__name__)

_PULL_LOCK_CLASS = 0x52420002  # "RB" + 2: advisory locks of whole pull runs per org
DEFAULT_MAX_USER_DROP = "10%"
_ABANDONED = "the process running this pull stopped before it recorded an outcome"
LOCK_WAIT_SECONDS = 60.0  # how long a pull waits for another pull of the same org
_LOCK_POLL_SECONDS = 0.2


@dataclass(frozen=True, slots=True)
class PullResult:
    """What one run did; ``plan`` is present once the run got as far as planning."""

    run_id: int
    outcome: str
    error: str | None = None
    counts: dict[str, Any] = field(default_factory=dict)
    plan: Plan | None = None
    plan_id: int | None = None  # the saved plan (e.g. the one a held run waits on)


def run_pull(
    session_factory: sessionmaker[Session],
    source_id: int,
    *,
    secret_key: str = "",
    dry_run: bool = False,
    force: bool = False,
    trigger: str = "pull",
    progress: Progress | None = None,
    retry: RetryPolicy | None = None,
    now: datetime | None = None,
    stop: StopSignal | None = None,
    quarantine_after: int = 3,
) -> PullResult:
    """Run one pull of ``source_id`` end to end and record it.

    Callers hold the org's pull lock (``org_pull_lock``), so a run of this source still
    marked ``running`` belongs to a process that died: it is closed as ``abandoned``.
    When ``stop`` is set the run ends before its next request, as ``abandoned``.
    A failed or suspicious run writes its event (``pull.failed``, ``snapshot.suspicious``),
    and the ``quarantine_after``-th failure in a row ``source.quarantined``.
    """
    _finish = partial(_finish_run, quarantine_after=quarantine_after)
    with session_factory.begin() as session:
        source = _source(session, source_id)
        session.execute(
            update(SyncRun)
            .where(SyncRun.source_id == source_id, SyncRun.outcome == "running")
            .values(outcome="abandoned", finished_at=utcnow(), error=_ABANDONED)
        )
        run = SyncRun(org_id=source.org_id, source_id=source.id, trigger=trigger)
        run.counts = {"runner": f"{socket.gethostname()}:{os.getpid()}"}
        session.add(run)
        session.flush()
        run_id, org_id = run.id, source.org_id
        kind, config, stored = source.kind, dict(source.config), source.secret
        cursor, forced = source.delta_link, force or source.force_next
        previous = source_directory(session, source.org_id, source.id)
    retry = _stoppable(retry, stop)
    with stop.tracking(run_id) if stop is not None else nullcontext():
        counts: dict[str, Any] = {}
        try:
            secret = resolve_secret(stored, secret_key)
            pulled = build_source(kind, config, secret, retry).fetch(previous, cursor, progress)
            counts = _snapshot_counts(pulled)
            limit = DropLimit.parse(config.get("max_user_drop", DEFAULT_MAX_USER_DROP))
            mapping = _mapping(session_factory, org_id)
            verdict = check_snapshot(previous, pulled.directory, limit, mapping)
            if not verdict.ok and not forced:
                return _finish(session_factory, run_id, "suspicious", _held(verdict), counts)
            if dry_run:
                plan = _dry_plan(session_factory, org_id, source_id, pulled.directory, now)
                counts["plan"] = dict(plan.summary)
                return _finish(session_factory, run_id, "planned", None, counts, plan)
            return _replace_and_reconcile(
                session_factory, run_id, org_id, source_id, previous, pulled, counts, trigger, now
            )
        except Cancelled as exc:
            reason = stop.reason if stop is not None and stop.reason else "stopped"
            return _finish(session_factory, run_id, "abandoned", f"{reason} ({exc})", counts)
        except SourceError as exc:
            return _finish(session_factory, run_id, "failed", f"{exc.kind}: {exc}", counts)
        except RolebridgeError as exc:
            return _finish(session_factory, run_id, "failed", f"configuration: {exc}", counts)
        except Exception as exc:
            log.exception("pull run %s of source %s failed", run_id, source_id)
            detail = f"internal error ({type(exc).__name__}); see the scheduler log"
            return _finish(session_factory, run_id, "failed", detail, counts)


def _stoppable(retry: RetryPolicy | None, stop: StopSignal | None) -> RetryPolicy | None:
    """The retry policy whose requests and pauses end as soon as ``stop`` is set."""
    if stop is None:
        return retry
    if retry is None:
        return RetryPolicy(sleep=stop.nap, cancel=stop.event)
    return replace(retry, cancel=stop.event)


def _mapping(session_factory: sessionmaker[Session], org_id: int) -> RoleMapping | None:
    """The org's current mapping, whose groups the gate watches (None before one is saved)."""
    with session_factory() as session:
        try:
            return current_mapping(session, org_id).mapping
        except NotFound:
            return None


def _held(verdict: GateVerdict) -> str:
    return f"held as suspicious, nothing changed until an admin forces it: {verdict.summary()}"


def _replace_and_reconcile(
    session_factory: sessionmaker[Session],
    run_id: int,
    org_id: int,
    source_id: int,
    previous: Directory | None,
    pulled: Snapshot,
    counts: dict[str, Any],
    trigger: str,
    now: datetime | None,
) -> PullResult:
    written: dict[str, int] = {}  # rows written per table, for the planner's statistics
    with session_factory.begin() as session:
        if previous is not None and same_directory(previous, pulled.directory):
            counts["mirror"] = {"unchanged": 1}  # nothing to write: the usual scheduled run
        else:
            changes = replace_snapshot(session, org_id, source_id, pulled.directory)
            counts["mirror"] = _changes_dict(changes)
            written = _rows_written(changes)
        source = _source(session, source_id)
        source.delta_link = pulled.cursor
        source.force_next = False
        held = hold(session, org_id, pulled.directory)
    result = reconcile(
        session_factory, org_id, dry_run=False, trigger=trigger, now=now, held=held, run_id=run_id
    )
    counts["plan"] = dict(result.plan.summary)
    if written and result.status == "applied":
        # each applied operation writes at most about a row of each (a member or a
        # grant, its audit entry): an upper bound, which at worst analyses a table early
        done = len(result.plan.operations)
        written |= {"members": done, "workspace_roles": done, "audit_log": done}
    # a first pull of an org writes it whole: the SCIM writes and pulls that follow plan
    # their lookups on statistics that know it (sync/planner_stats.py)
    StatisticsKeeper(session_factory.kw["bind"]).after_bulk(written)
    return _finish_run(
        session_factory, run_id, result.status, None, counts, result.plan, result.plan_id
    )


def _dry_plan(
    session_factory: sessionmaker[Session],
    org_id: int,
    source_id: int,
    directory: Directory,
    now: datetime | None,
) -> Plan:
    """The plan the snapshot would give, computed in a transaction that is rolled back."""
    with session_factory() as session:
        try:
            replace_snapshot(session, org_id, source_id, directory)
            inputs = gather(session, org_id, now=now)
        finally:
            session.rollback()
    return plan_for(inputs, now or utcnow())


def _finish_run(
    session_factory: sessionmaker[Session],
    run_id: int,
    outcome: str,
    error: str | None,
    counts: dict[str, Any],
    plan: Plan | None = None,
    plan_id: int | None = None,
    *,
    quarantine_after: int = 3,
) -> PullResult:
    with session_factory.begin() as session:
        run = session.get(SyncRun, run_id)
        assert run is not None
        run.outcome = outcome
        run.error = error
        run.finished_at = utcnow()
        run.counts = {**run.counts, **counts}
        run.plan_id = plan_id
        final = dict(run.counts)
        if outcome in ("failed", "suspicious"):
            session.flush()
            emit(session, run.org_id, run_events(session, run, quarantine_after))
    if error:
        log.warning("pull run %s: %s: %s", run_id, outcome, error)
    return PullResult(run_id, outcome, error, final, plan, plan_id)


def _snapshot_counts(pulled: Snapshot) -> dict[str, Any]:
    d = pulled.directory
    return {
        "pages": pulled.pages,
        "users": len(d.users),
        "active_users": sum(1 for u in d.users if u.active),
        "groups": len(d.groups),
        "memberships": sum(len(g.members) for g in d.groups),
    }


def _rows_written(changes: SnapshotChanges) -> dict[str, int]:
    """The mirror's rows a snapshot's replacement wrote, per table."""
    return {
        "directory_users": changes.users_added + changes.users_updated + changes.users_removed,
        "directory_groups": (
            changes.groups_added + changes.groups_updated + changes.groups_removed
        ),
        "directory_memberships": changes.memberships_added + changes.memberships_removed,
    }


def _changes_dict(changes: SnapshotChanges) -> dict[str, int]:
    names = (
        "users_added",
        "users_updated",
        "users_removed",
        "groups_added",
        "groups_updated",
        "groups_removed",
        "memberships_added",
        "memberships_removed",
    )
    return {n: int(getattr(changes, n, 0)) for n in names}


def _source(session: Session, source_id: int) -> Source:
    source = session.get(Source, source_id)
    if source is None:
        raise RolebridgeError(f"no source with id {source_id}")
    return source


def same_directory(a: Directory, b: Directory) -> bool:
    """True when two snapshots hold the same users, groups and memberships in any order."""
    if len(a.users) != len(b.users) or len(a.groups) != len(b.groups):
        return False
    if set(a.users) != set(b.users):
        return False

    def groups(d: Directory) -> set[tuple[str, str, str | None, frozenset[GroupMember]]]:
        return {(g.id, g.display_name, g.external_id, frozenset(g.members)) for g in d.groups}

    return groups(a) == groups(b)


@contextmanager
def org_pull_lock(
    session_factory: sessionmaker[Session],
    org_id: int,
    *,
    wait: float = LOCK_WAIT_SECONDS,
    stop: StopSignal | None = None,
) -> Iterator[bool]:
    """Hold the org's pull lock for the whole run, so one org is pulled by one process at
    a time: a PostgreSQL session-level advisory lock, or on SQLite a lock file beside the
    database (both go with the process if it dies).

    Waits up to ``wait`` seconds (0: one try) and yields False when another process still
    holds it or ``stop`` was set meanwhile.
    """
    engine = session_factory.kw["bind"]
    if engine.dialect.name == "postgresql":
        with _advisory_lock(engine, org_id, wait, stop) as acquired:
            yield acquired
        return
    path = engine.url.database
    if not path or path == ":memory:":  # one process owns an in-memory database
        yield True
        return
    with _file_lock(f"{path}.pull-{org_id}.lock", wait, stop) as acquired:
        yield acquired


def _polled(attempt: Callable[[], bool], wait: float, stop: StopSignal | None) -> bool:
    """Call ``attempt`` until it succeeds, ``wait`` seconds pass or ``stop`` is set."""
    deadline = time.monotonic() + wait
    while not attempt():
        if stop is not None and stop.is_set:
            return False
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        (stop.nap if stop is not None else time.sleep)(min(_LOCK_POLL_SECONDS, left))
    return True


@contextmanager
def _advisory_lock(
    engine: Engine, org_id: int, wait: float, stop: StopSignal | None
) -> Iterator[bool]:
    key = {"c": _PULL_LOCK_CLASS, "o": org_id}
    with engine.connect() as conn:

        def attempt() -> bool:
            got = conn.execute(text("SELECT pg_try_advisory_lock(:c, :o)"), key).scalar()
            conn.commit()
            return bool(got)

        acquired = _polled(attempt, wait, stop)
        try:
            yield acquired
        finally:
            if acquired:
                conn.execute(text("SELECT pg_advisory_unlock(:c, :o)"), key)
                conn.commit()


@contextmanager
def _file_lock(path: str, wait: float, stop: StopSignal | None) -> Iterator[bool]:
    # flock, not lockf: two threads of one process (two sources of one org) exclude each other
    with open(path, "a+b") as handle:

        def attempt() -> bool:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            return True

        acquired = _polled(attempt, wait, stop)
        try:
            yield acquired
        finally:
            if acquired:
                fcntl.flock(handle, fcntl.LOCK_UN)
