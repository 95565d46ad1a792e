"""Stopping a pulling process (``rolebridge sync``, ``rolebridge scheduler``) on SIGTERM.

One ``StopSignal`` is shared by the runs of a process. SIGTERM (or SIGINT) sets it: each
pull checks it before its next request to the IdP and ends as ``abandoned``, releasing its
locks on the way out. A run that cannot reach a request boundary within ``grace`` seconds
(a request hanging on an IdP that never answers) is closed as ``abandoned`` by the process
itself, which then exits at once: the locks it held (a PostgreSQL session's advisory lock,
a lock file) are released with its connections and files. A second signal skips the grace.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from sqlalchemy import text, update
from sqlalchemy.orm import Session, sessionmaker

from sync.models import SyncRun, utcnow

__all__ = ["DEFAULT_GRACE_SECONDS", "StopSignal"]

log = logging.getLogger(__name__)

DEFAULT_GRACE_SECONDS = 5.0
_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class StopSignal:
    """Set when the process is asked to stop; knows the runs it has to close."""

    def __init__(self, grace: float = DEFAULT_GRACE_SECONDS) -> None:
        self.event = threading.Event()
        self.grace = grace
        self.reason = ""
        self._runs: set[int] = set()
        self._lock = threading.RLock()  # the signal handler may run inside ``tracking``

    @property
    def is_set(self) -> bool:
        """True once a stop was asked for."""
        return self.event.is_set()

    def set(self, reason: str) -> None:
        """Ask every run of this process to stop, giving the reason their rows will carry."""
        with self._lock:
            if not self.reason:
                self.reason = reason
        self.event.set()

    def nap(self, seconds: float) -> None:
        """Sleep, but wake as soon as a stop is asked for."""
        self.event.wait(seconds)

    @contextmanager
    def tracking(self, run_id: int) -> Iterator[None]:
        """Mark ``run_id`` as running in this process until the block ends."""
        with self._lock:
            self._runs.add(run_id)
        try:
            yield
        finally:
            with self._lock:
                self._runs.discard(run_id)

    def close_runs(self, session_factory: sessionmaker[Session]) -> int:
        """Close this process's runs that are still ``running`` as ``abandoned``."""
        with self._lock:
            ids = sorted(self._runs)
        if not ids:
            return 0
        with session_factory() as session, session.begin():
            _short_waits(session)
            result = session.execute(
                update(SyncRun)
                .where(SyncRun.id.in_(ids), SyncRun.outcome == "running")
                .values(outcome="abandoned", finished_at=utcnow(), error=self.reason[:2000])
            )
            return int(getattr(result, "rowcount", 0))

    @contextmanager
    def on_signals(self, session_factory: sessionmaker[Session], exit_code: int) -> Iterator[None]:
        """While the block runs, SIGTERM/SIGINT set this signal and arm the forced exit
        (with ``exit_code``) after the grace; outside the main thread nothing is installed."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        timers: list[threading.Timer] = []

        def handle(signum: int, _frame: FrameType | None) -> None:
            name = signal.Signals(signum).name
            if self.is_set:  # a second signal: no more grace
                self._force(session_factory, exit_code)
            self.set(f"stopped by {name} before the run finished")
            log.warning("%s received: stopping (at most %.0f s)", name, self.grace)
            timer = threading.Timer(self.grace, self._force, (session_factory, exit_code))
            timer.daemon = True
            timers.append(timer)
            timer.start()

        previous = {s: signal.signal(s, handle) for s in _SIGNALS}
        try:
            yield
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
            for timer in timers:  # every run ended in time: the process ends normally
                timer.cancel()

    def _force(self, session_factory: sessionmaker[Session], exit_code: int) -> None:
        """Close what is still running and leave now (the OS releases files and sockets)."""
        try:
            closed = self.close_runs(session_factory)
            log.warning("stopped with %d run(s) still running, closed as abandoned", closed)
        except Exception:  # the exit must happen whatever the database does
            log.exception("could not close the running runs; the next run closes them")
        finally:
            logging.shutdown()
            os._exit(exit_code)


def _short_waits(session: Session) -> None:
    """Do not wait long for a lock held by a run that is being left behind."""
    if session.connection().dialect.name == "postgresql":
        session.execute(text("SET LOCAL lock_timeout = '2s'"))
        session.execute(text("SET LOCAL statement_timeout = '5s'"))
    else:
        session.execute(text("PRAGMA busy_timeout = 2000"))
