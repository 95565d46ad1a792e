"""``rolebridge scheduler``: scheduled pulls, one APScheduler 3 process (never a web worker).

Jobs live in the database (``SQLAlchemyJobStore``), one per pulled source, built from the
``sources`` table (``schedule``: ``30s``/``15m``/``6h``/``1d`` or a five-field cron line) and
refreshed every few seconds, so schedule changes apply without a restart. Jobs run with
``max_instances=1``, ``coalesce=True`` and a misfire grace time.

Several scheduler processes may share one PostgreSQL database. Each tick of a source is
*claimed* with one conditional UPDATE of ``sources.last_pull_at`` (the first process wins,
the others skip), and the whole run holds the org's pull lock, so one org is never
pulled by two processes at once.

Beside the pulls, a housekeeping job reconciles every org on an interval (SCIM-only orgs
included; ``sync.housekeeping``), so invite reminders and expiries happen on time without
any write. ``housekeeping``: an interval or cron line like a source's schedule, or None.

SIGTERM (or SIGINT) stops the process within seconds: no new run starts, a running pull
ends at its next request as ``abandoned`` (see ``sync.stop``) and its locks are released.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial

from apscheduler.jobstores.base import ConflictingIdError
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import or_, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from mappings.errors import InputError
from sync import logs
from sync.gcpause import cyclic_gc_paused
from sync.housekeeping import housekeep
from sync.models import Source, utcnow
from sync.pull import LOCK_WAIT_SECONDS, org_pull_lock, run_pull
from sync.sources.registry import PULL_KINDS
from sync.stop import DEFAULT_GRACE_SECONDS, StopSignal

__all__ = [
    "PullScheduler",
    "claim_tick",
    "min_gap",
    "parse_schedule",
    "run_housekeeping",
    "run_scheduled_pull",
]

log = logging.getLogger(__name__)

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_INTERVAL = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
MISFIRE_GRACE_SECONDS = 300
_SCHEMA_LOCK = 0x52420003  # "RB" + 3: creating the job table


def parse_schedule(text: str) -> BaseTrigger:
    """``15m`` (s, m, h, d) as an interval, or a five-field cron line in UTC."""
    match = _INTERVAL.match(text)
    if match:
        seconds = int(match.group(1)) * _UNITS[match.group(2)]
        if seconds <= 0:
            raise InputError("an interval must be positive", "schedule")
        return IntervalTrigger(seconds=seconds, timezone=UTC)
    if len(text.split()) == 5:
        try:
            return CronTrigger.from_crontab(text, timezone=UTC)
        except ValueError as exc:
            raise InputError(f"bad cron line {text!r}: {exc}", "schedule") from None
    raise InputError(
        f"{text!r} is neither an interval like '15m' nor a five-field cron line", "schedule"
    )


def min_gap(trigger: BaseTrigger, now: datetime | None = None) -> timedelta:
    """The time between two fires of ``trigger`` (the next two, for cron)."""
    if isinstance(trigger, IntervalTrigger):
        interval: timedelta = trigger.interval
        return interval
    now = now or utcnow()
    first = trigger.get_next_fire_time(None, now)
    if first is None:
        return timedelta(days=1)
    second = trigger.get_next_fire_time(first, first + timedelta(seconds=1))
    return (second - first) if second is not None else timedelta(days=1)


def claim_tick(
    session_factory: sessionmaker[Session], source_id: int, gap: timedelta, now: datetime
) -> bool:
    """Claim this tick of a source; False when another process already ran it."""
    cutoff = now - gap / 2
    with session_factory.begin() as session:
        result = session.execute(
            update(Source)
            .where(
                Source.id == source_id,
                or_(Source.last_pull_at.is_(None), Source.last_pull_at <= cutoff),
            )
            .values(last_pull_at=now)
        )
        return bool(getattr(result, "rowcount", 0) == 1)


@dataclass(frozen=True, slots=True)
class _Context:
    session_factory: sessionmaker[Session]
    secret_key: str
    stop: StopSignal
    quarantine_after: int = 3


_context: dict[str, _Context] = {}  # filled by PullScheduler.start, read by the job function


def run_scheduled_pull(source_id: int) -> None:
    """The job: claim the tick, take the org's lock, run the pull (errors land in the run)."""
    logs.clear()
    try:
        with cyclic_gc_paused():  # counted: pulls overlapping on the pool threads share it
            _run_scheduled_pull(source_id)
    finally:
        logs.clear()  # the pool thread's next job starts without this org's context


def _run_scheduled_pull(source_id: int) -> None:
    ctx = _context.get("current")
    if ctx is None:
        log.error("scheduled pull of source %s ran outside a scheduler", source_id)
        return
    factory, stop = ctx.session_factory, ctx.stop
    if stop.is_set:
        return
    with factory() as session:
        source = session.get(Source, source_id)
        if source is None or not source.enabled or not source.schedule:
            return
        org_id, name, schedule = source.org_id, source.name, source.schedule
    now = utcnow()
    try:
        gap = min_gap(parse_schedule(schedule), now)
    except InputError:
        return
    logs.bind(org_id=org_id, source=name)
    if not claim_tick(factory, source_id, gap, now):
        log.info("source %s: this tick was taken by another scheduler", name)
        return
    with org_pull_lock(factory, org_id, wait=LOCK_WAIT_SECONDS, stop=stop) as acquired:
        if not acquired:
            log.warning("source %s: this tick is skipped: another pull of the org runs", name)
            return
        trigger = f"schedule:{name}"
        run_pull(
            factory,
            source_id,
            secret_key=ctx.secret_key,
            trigger=trigger,
            stop=stop,
            quarantine_after=ctx.quarantine_after,
        )


def run_housekeeping() -> None:
    """The housekeeping job: reconcile every org that has something to do."""
    ctx = _context.get("current")
    if ctx is None or ctx.stop.is_set:
        return
    logs.clear()
    try:
        with cyclic_gc_paused():
            housekeep(ctx.session_factory, stop=ctx.stop)
    finally:
        logs.clear()


def claim_run_request(factory: sessionmaker[Session], source_id: int) -> str | None:
    """Take a source's waiting "run now" request; who asked, or None when another
    scheduler took it first (one UPDATE: exactly one claimant wins)."""
    with factory.begin() as session:
        by = session.scalar(select(Source.run_requested_by).where(Source.id == source_id))
        taken = session.execute(
            update(Source)
            .where(Source.id == source_id, Source.run_requested_at.is_not(None))
            .values(run_requested_at=None, run_requested_by=None)
        )
        return (by or "admin") if getattr(taken, "rowcount", 0) == 1 else None


def run_requested_pull(source_id: int, requested_by: str) -> None:
    """The job of a "run now" request: take the org's lock and run the pull."""
    logs.clear()
    try:
        ctx = _context.get("current")
        if ctx is None or ctx.stop.is_set:
            return
        factory = ctx.session_factory
        with factory() as session:
            source = session.get(Source, source_id)
            if source is None or not source.enabled:
                return
            org_id, name = source.org_id, source.name
        logs.bind(org_id=org_id, source=name)
        with org_pull_lock(factory, org_id, wait=LOCK_WAIT_SECONDS, stop=ctx.stop) as acquired:
            if not acquired:
                log.warning("source %s: the requested run waits: another pull runs", name)
                with factory.begin() as session:  # ask again at the next refresh
                    session.execute(
                        update(Source)
                        .where(Source.id == source_id)
                        .values(run_requested_at=utcnow(), run_requested_by=requested_by)
                    )
                return
            trigger = f"request:{requested_by}"
            run_pull(factory, source_id, secret_key=ctx.secret_key, trigger=trigger, stop=ctx.stop)
    finally:
        logs.clear()


class PullScheduler:
    """A background APScheduler whose pull jobs follow the ``sources`` table."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        *,
        secret_key: str = "",
        refresh_seconds: float = 30.0,
        workers: int = 4,
        grace: float = DEFAULT_GRACE_SECONDS,
        housekeeping: str | None = None,
        quarantine_after: int = 3,
    ) -> None:
        self.session_factory = session_factory
        self.housekeeping = None if housekeeping is None else parse_schedule(housekeeping)
        self.quarantine_after = quarantine_after
        self.stop = StopSignal(grace)
        self.secret_key = secret_key
        self.refresh_seconds = refresh_seconds
        engine = session_factory.kw["bind"]
        self.scheduler = BackgroundScheduler(
            jobstores={
                "default": SQLAlchemyJobStore(engine=engine, tablename="apscheduler_jobs"),
                "local": MemoryJobStore(),
            },
            executors={"default": {"type": "threadpool", "max_workers": workers}},
            job_defaults={
                "coalesce": True,
                "max_instances": 1,
                "misfire_grace_time": MISFIRE_GRACE_SECONDS,
            },
            timezone=UTC,
        )
        self._refresh_lock = threading.Lock()
        self._stopping = False

    def start(self) -> None:
        """Start the scheduler and keep its jobs in step with the sources table."""
        _context["current"] = _Context(
            self.session_factory, self.secret_key, self.stop, self.quarantine_after
        )
        self._create_job_table()
        self.scheduler.start()
        self.refresh()
        self.scheduler.add_job(
            self.refresh,
            IntervalTrigger(seconds=self.refresh_seconds, timezone=UTC),
            id="refresh-sources",
            jobstore="local",
            replace_existing=True,
        )
        if self.housekeeping is not None:
            self.scheduler.add_job(
                run_housekeeping,
                self.housekeeping,
                id="housekeeping",
                name="housekeeping",
                jobstore="local",
                replace_existing=True,
            )

    def _create_job_table(self) -> None:
        """Create the job table once, even when several schedulers start together."""
        store = self.scheduler._jobstores["default"]
        engine = self.session_factory.kw["bind"]
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:c, 0)"), {"c": _SCHEMA_LOCK})
            store.jobs_t.create(conn, checkfirst=True)

    def shutdown(self, wait: bool = True) -> None:
        """Stop; running pulls finish first when ``wait``."""
        self._stopping = True
        with self._refresh_lock:  # a refresh in flight would deadlock APScheduler's shutdown
            pass
        self.scheduler.shutdown(wait=wait)
        _context.pop("current", None)

    def refresh(self) -> None:
        """Add, reschedule or remove pull jobs to match the enabled, scheduled sources."""
        with self._refresh_lock:
            if not self._stopping:
                self._refresh()

    def _refresh(self) -> None:
        with self.session_factory() as session:
            rows = session.execute(
                select(Source.id, Source.name, Source.schedule).where(
                    Source.kind.in_(PULL_KINDS),
                    Source.enabled.is_(True),
                    Source.schedule.is_not(None),
                )
            ).all()
        wanted: set[str] = set()
        for source_id, name, schedule in rows:
            try:
                trigger = parse_schedule(schedule or "")
            except InputError as exc:
                log.error("source %s: %s", name, exc)
                continue
            job_id = f"pull-{source_id}"
            wanted.add(job_id)
            self._ensure(job_id, source_id, name, trigger)
        stale = [j.id for j in self.scheduler.get_jobs(jobstore="default")]
        for job_id in stale:
            if job_id.startswith("pull-") and job_id not in wanted:
                self._quietly(partial(self.scheduler.remove_job, job_id, "default"))
        self._start_requested_runs()

    def _start_requested_runs(self) -> None:
        """Start a pull for each "run now" request this scheduler claims."""
        with self.session_factory() as session:
            waiting = session.scalars(
                select(Source.id).where(
                    Source.run_requested_at.is_not(None),
                    Source.enabled.is_(True),
                    Source.kind.in_(PULL_KINDS),
                )
            ).all()
        for source_id in waiting:
            by = claim_run_request(self.session_factory, source_id)
            if by is not None:
                self.scheduler.add_job(
                    run_requested_pull,
                    args=[source_id, by],
                    id=f"now-{source_id}",
                    jobstore="local",
                    replace_existing=True,
                )

    def _ensure(self, job_id: str, source_id: int, name: str, trigger: BaseTrigger) -> None:
        job = self.scheduler.get_job(job_id, jobstore="default")
        if job is None:
            self._quietly(
                lambda: self.scheduler.add_job(
                    run_scheduled_pull,
                    trigger,
                    args=[source_id],
                    id=job_id,
                    name=f"pull {name}",
                    jobstore="default",
                    replace_existing=True,
                )
            )
        elif str(job.trigger) != str(trigger):
            log.info("source %s: schedule is now %s", name, trigger)
            self._quietly(lambda: self.scheduler.reschedule_job(job_id, "default", trigger))

    @staticmethod
    def _quietly(action: Callable[[], object]) -> None:
        """Another scheduler process may have made the same change a moment earlier."""
        try:
            action()
        except (ConflictingIdError, IntegrityError, LookupError) as exc:
            log.info("job change raced with another scheduler: %s", exc)

    def jobs(self) -> dict[str, str]:
        """Job id -> trigger, as stored in the database."""
        return {j.id: str(j.trigger) for j in self.scheduler.get_jobs(jobstore="default")}

    def run(self, max_runtime: float | None = None) -> None:
        """Run until SIGTERM/SIGINT, which stops running pulls (see ``sync.stop``), or for
        ``max_runtime`` seconds, after which running pulls finish."""
        with self.stop.on_signals(self.session_factory, exit_code=0):
            self.start()
            deadline = None if max_runtime is None else time.monotonic() + max_runtime
            try:
                while not self.stop.is_set and (deadline is None or time.monotonic() < deadline):
                    self.stop.event.wait(0.2)
            finally:
                self.shutdown(wait=True)
