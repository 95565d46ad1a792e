"""The long-running outbox worker behind ``rolebridge outbox work`` (one or more per deployment).

It delivers due emails and webhook events (``sync.delivery.WebhookPump``: endpoints served
in background threads, so a slow one never holds the loop) every ``--interval`` seconds
until stopped (SIGTERM or Ctrl-C ends it between rounds). Several workers may share one
PostgreSQL database: each round claims its messages with ``FOR UPDATE SKIP LOCKED``
(``sync.store.outbox.deliver``) and leases its webhook endpoints, so no email goes out twice
and no endpoint has two deliveries in flight. Logs are JSON lines (``sync.logs``).
"""

from __future__ import annotations

import signal
import threading
import time
from types import FrameType

from sqlalchemy.orm import Session, sessionmaker

from sync import logs
from sync.delivery import WebhookPump
from sync.settings import Settings
from sync.store.outbox import deliver

__all__ = ["work"]

_log = logs.get_logger("rolebridge.outbox")


def work(
    factory: sessionmaker[Session],
    settings: Settings,
    interval: float,
    max_runtime: float | None = None,
) -> int:
    """Deliver due emails every ``interval`` seconds; returns the number sent."""
    stop = threading.Event()

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _stop)
    deadline = None if max_runtime is None else time.monotonic() + max_runtime
    sent = 0
    pump = WebhookPump(factory, settings)
    try:
        while not stop.is_set() and (deadline is None or time.monotonic() < deadline):
            try:
                pump.round()
                report = deliver(factory, settings)
            except Exception:  # a database hiccup must not end the worker
                _log.exception("outbox round failed; retrying next round")
            else:
                sent += report.sent
                if report.sent or report.failed or report.dropped:
                    _log.info(
                        "outbox round",
                        sent=report.sent,
                        failed=report.failed,
                        dropped=report.dropped,
                    )
            stop.wait(interval)
    except KeyboardInterrupt:
        pass
    finally:
        pump.close()
    return sent
