"""Webhook delivery, as the Standard Webhooks specification has it: a POST of the event's
JSON with ``webhook-id`` (the event id), ``webhook-timestamp`` and ``webhook-signature``
(``v1,`` + base64 HMAC-SHA256 of ``id.timestamp.body``).

Each endpoint has a cursor (``webhooks.cursor_seq``): its events are sent one at a time in
sequence order, the next only once the previous one was answered with a 2xx (at least
once: a crash between the answer and the record sends it again, with the same id). A
worker *leases* an endpoint before sending (a short transaction: ``FOR UPDATE SKIP
LOCKED`` on PostgreSQL, the write lock on SQLite, then ``lease_until``), so one delivery
per endpoint is in flight whichever worker runs, and records each answer only while the
lease is still its own. Endpoints are served by a pool of threads, each request bounded
by ``ROLEBRIDGE_WEBHOOK_TIMEOUT``, so a slow or dead endpoint holds one thread and never
the others' deliveries.

A timeout, a connection error, 429 or 5xx is retried with exponential backoff and
jitter (``Retry-After`` honoured) for up to ``RETRY_WINDOW``; then the event is recorded
as failed (``webhook_failures``, replayable) and the endpoint goes on with the next. Any
other answer that is not a 2xx fails the event at once. 410 Gone disables the endpoint.
"""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import requests
from sqlalchemy import or_, select
from sqlalchemy.orm import Session, sessionmaker

from mappings.errors import RolebridgeError
from sync import logs
from sync.db import write_session
from sync.models import Event, EventCounter, Organisation, Webhook, WebhookFailure, utcnow
from sync.settings import Settings
from sync.store.events import event_json
from sync.webhooks import check_endpoint, sign, signing_secret

__all__ = [
    "RETRY_WINDOW",
    "WebhookPump",
    "WebhookReport",
    "backoff",
    "deliver_webhooks",
    "send_test",
]

RETRY_WINDOW = timedelta(days=3)
MAX_BACKOFF = timedelta(hours=6)
BATCH = 100  # events one lease sends at most before the endpoint is put back
_PAGE = 20
_log = logs.get_logger("rolebridge.webhooks")

Clock = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class WebhookReport:
    """What a delivery pass did: events delivered, answers to retry, events given up on,
    endpoints disabled (410)."""

    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    disabled: int = 0

    def __add__(self, other: WebhookReport) -> WebhookReport:
        return WebhookReport(
            self.delivered + other.delivered,
            self.retrying + other.retrying,
            self.failed + other.failed,
            self.disabled + other.disabled,
        )


def backoff(attempts: int, rng: random.Random | None = None) -> timedelta:
    """The wait after the ``attempts``-th failed try: 5 s times 4 to the power of the
    failures so far, at most ``MAX_BACKOFF``, with jitter (a half to the whole of it)."""
    base = min(5.0 * 4 ** max(attempts - 1, 0), MAX_BACKOFF.total_seconds())
    return timedelta(seconds=base * (0.5 + 0.5 * (rng or random).random()))


def _retry_after(value: str | None, now: datetime) -> timedelta | None:
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = (parsedate_to_datetime(value) - now).total_seconds()
        except (TypeError, ValueError):
            return None
    return timedelta(seconds=max(0.0, min(seconds, RETRY_WINDOW.total_seconds())))


@dataclass(frozen=True, slots=True)
class _Lease:
    webhook_id: int
    token: str


@dataclass(frozen=True, slots=True)
class _Answer:
    status: int | None  # None: no answer (timeout, connection error, refused URL)
    error: str | None
    retry_after: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def retryable(self) -> bool:
        return self.status is None or self.status == 429 or self.status >= 500


def _lease_length(settings: Settings) -> timedelta:
    return timedelta(seconds=2 * settings.webhook_timeout + 30)


def _claim(
    factory: sessionmaker[Session], settings: Settings, now: datetime, limit: int
) -> list[_Lease]:
    """Lease up to ``limit`` endpoints that are due and have events to send."""
    if limit <= 0:
        return []
    with write_session(factory) as session:
        rows = session.scalars(
            select(Webhook)
            .join(EventCounter, EventCounter.org_id == Webhook.org_id)
            .where(
                Webhook.status == "active",
                Webhook.next_attempt_at <= now,
                or_(Webhook.lease_until.is_(None), Webhook.lease_until < now),
                EventCounter.last_seq > Webhook.cursor_seq,
            )
            .order_by(Webhook.next_attempt_at, Webhook.id)
            .limit(limit)
            .with_for_update(skip_locked=True, of=Webhook)
        ).all()
        leases = []
        for row in rows:
            row.lease_token = uuid.uuid4().hex
            row.lease_until = now + _lease_length(settings)
            leases.append(_Lease(row.id, row.lease_token))
        return leases


def _post(
    url: str,
    secret: str,
    event_id: str,
    body: bytes,
    timeout: float,
    http: requests.Session | None = None,
) -> _Answer:
    timestamp = int(time.time())
    headers = {
        "content-type": "application/json",
        "user-agent": "rolebridge-webhooks/1",
        "webhook-id": event_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, event_id, timestamp, body),
    }
    try:
        answer = (http or requests).post(
            url, data=body, headers=headers, timeout=timeout, allow_redirects=False
        )
    except requests.Timeout:
        return _Answer(None, f"no answer within {timeout:g} s")
    except requests.RequestException as exc:
        return _Answer(None, f"connection error ({type(exc).__name__})")
    error = None if 200 <= answer.status_code < 300 else f"HTTP {answer.status_code}"
    return _Answer(answer.status_code, error, answer.headers.get("retry-after"))


def _body(event: dict[str, Any]) -> bytes:
    return json.dumps(event, separators=(",", ":"), sort_keys=True).encode()


@dataclass(frozen=True, slots=True)
class _Target:
    """What a lease sends to: the endpoint's org, URL, types and secret."""

    org_id: int
    org_name: str
    url: str
    types: frozenset[str]
    secret: str
    refusal: str | None  # why the URL or the secret cannot be used now


def _serve(
    factory: sessionmaker[Session],
    settings: Settings,
    lease: _Lease,
    clock: Clock,
    stop: threading.Event | None = None,
) -> WebhookReport:
    """Send the leased endpoint's due events in order until one fails, none are left, a
    batch is done or ``stop`` is set; the lease is then given back."""
    with factory() as session:
        row = session.get(Webhook, lease.webhook_id)
        if row is None or row.lease_token != lease.token:
            return WebhookReport()
        org = session.get(Organisation, row.org_id)
        try:
            secret, refusal = signing_secret(row, settings), None
            check_endpoint(row.url, settings)
        except RolebridgeError as exc:
            secret, refusal = "", str(exc)
        target = _Target(
            row.org_id,
            org.name if org else "",
            row.url,
            frozenset(row.types or ()),
            secret,
            refusal,
        )
        cursor = row.cursor_seq
    with requests.Session() as http:  # one connection, kept alive, for the lease's events
        return _send_events(factory, settings, lease, clock, http, target, cursor, stop)


def _send_events(
    factory: sessionmaker[Session],
    settings: Settings,
    lease: _Lease,
    clock: Clock,
    http: requests.Session,
    target: _Target,
    cursor: int,
    stop: threading.Event | None,
) -> WebhookReport:
    report = WebhookReport()
    sent = 0
    while sent < BATCH and not (stop is not None and stop.is_set()):
        with factory() as session:
            events = session.scalars(
                select(Event)
                .where(Event.org_id == target.org_id, Event.seq > cursor)
                .order_by(Event.seq)
                .limit(_PAGE)
            ).all()
            bodies = [(e.id, e.seq, e.type, _body(event_json(e, target.org_name))) for e in events]
        if not bodies:
            break
        for event_id, seq, kind, body in bodies:
            if stop is not None and stop.is_set():
                break
            skipped = bool(target.types) and kind not in target.types
            if skipped:
                answer = _Answer(200, None)  # not wanted: the cursor just moves past it
            elif target.refusal:
                answer = _Answer(None, f"refused: {target.refusal}")
            else:
                timeout = settings.webhook_timeout
                answer = _post(target.url, target.secret, event_id, body, timeout, http)
            sent += not skipped
            going_on, step = _record(factory, lease, cursor, event_id, seq, answer, clock())
            report = report if skipped else report + step
            if not going_on:
                return report
            cursor = seq
    _release(factory, lease)
    return report


def _record(
    factory: sessionmaker[Session],
    lease: _Lease,
    cursor: int,
    event_id: str,
    seq: int,
    answer: _Answer,
    now: datetime,
) -> tuple[bool, WebhookReport]:
    """Record one answer while the lease is ours; whether to go on with the next event."""
    with write_session(factory) as session:
        row = session.get(Webhook, lease.webhook_id, with_for_update=True)
        if row is None or row.lease_token != lease.token:
            return False, WebhookReport()  # removed, or the lease ran out and went on
        if row.cursor_seq != cursor:  # replayed meanwhile: the next lease starts there
            row.lease_token = row.lease_until = None
            return False, WebhookReport()
        row.last_status, row.last_error = answer.status, answer.error
        if answer.ok:
            row.cursor_seq, row.delivered_at = seq, now
            row.attempts, row.first_failure_at = 0, None
            return True, WebhookReport(delivered=1)
        if answer.status == 410:
            row.status, row.disabled_reason = "disabled", "the endpoint answered 410 Gone"
            row.lease_token = row.lease_until = None
            _log.warning("webhook disabled: 410 Gone", webhook=row.id)
            return False, WebhookReport(disabled=1)
        row.attempts += 1
        first = row.first_failure_at or now
        row.first_failure_at = first
        if answer.retryable and now - first < RETRY_WINDOW:
            wait = max(backoff(row.attempts), _retry_after(answer.retry_after, now) or timedelta())
            row.next_attempt_at = now + wait
            row.lease_token = row.lease_until = None
            return False, WebhookReport(retrying=1)
        session.add(
            WebhookFailure(
                webhook_id=row.id,
                event_id=event_id,
                seq=seq,
                attempts=row.attempts,
                error=answer.error or "failed",
                failed_at=now,
            )
        )
        row.cursor_seq = seq  # given up on: the endpoint goes on with the next event
        row.attempts, row.first_failure_at, row.next_attempt_at = 0, None, now
        return True, WebhookReport(failed=1)


def _release(factory: sessionmaker[Session], lease: _Lease) -> None:
    with write_session(factory) as session:
        row = session.get(Webhook, lease.webhook_id, with_for_update=True)
        if row is not None and row.lease_token == lease.token:
            row.lease_token = row.lease_until = None


def _clock(now: datetime | None) -> Clock:
    return (lambda: now) if now is not None else utcnow


def deliver_webhooks(
    factory: sessionmaker[Session],
    settings: Settings,
    *,
    now: datetime | None = None,
    threads: int = 8,
) -> WebhookReport:
    """One pass: serve every due endpoint until nothing is due (``rolebridge outbox
    deliver``). ``now`` fixes the clock (tests); a failed endpoint waits past it."""
    clock = _clock(now)
    report = WebhookReport()
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="webhook") as pool:
        while leases := _claim(factory, settings, clock(), threads):
            futures = [pool.submit(_serve, factory, settings, lease, clock) for lease in leases]
            for future in futures:
                report = report + future.result()
    return report


class WebhookPump:
    """The worker's side of delivery: each ``round`` leases as many due endpoints as it
    has free threads and serves them in the background, so the loop never waits on an
    endpoint (``rolebridge outbox work``)."""

    def __init__(self, factory: sessionmaker[Session], settings: Settings, threads: int = 8):
        self.factory, self.settings, self.threads = factory, settings, threads
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="webhook")
        self._stop = threading.Event()
        self._busy: set[Future[WebhookReport]] = set()
        self._lock = threading.Lock()
        self.report = WebhookReport()

    def round(self) -> int:
        """Lease and start what is due; returns the endpoints started."""
        with self._lock:
            free = self.threads - len(self._busy)
        leases = _claim(self.factory, self.settings, utcnow(), free)
        for lease in leases:
            future = self._pool.submit(
                _serve, self.factory, self.settings, lease, utcnow, self._stop
            )
            with self._lock:
                self._busy.add(future)
            future.add_done_callback(self._done)
        return len(leases)

    def _done(self, future: Future[WebhookReport]) -> None:
        with self._lock:
            self._busy.discard(future)
            try:
                self.report = self.report + future.result()
            except Exception:
                _log.exception("webhook delivery failed; the lease runs out and it is retried")

    def close(self) -> None:
        """Stop after the requests in flight (each bounded by the timeout); their
        endpoints' leases are given back."""
        self._stop.set()
        self._pool.shutdown(wait=True)


def send_test(session: Session, org_id: int, webhook_id: int, settings: Settings) -> str:
    """Send a signed ``webhook.test`` message to an endpoint now (not part of the feed);
    returns what it answered, in words."""
    from sync.webhooks import get_webhook

    row = get_webhook(session, org_id, webhook_id)
    url = check_endpoint(row.url, settings)
    secret = signing_secret(row, settings)
    message_id = f"msg_test_{uuid.uuid4().hex}"
    body = _body({"id": message_id, "type": "webhook.test", "time": utcnow().isoformat()})
    answer = _post(url, secret, message_id, body, settings.webhook_timeout)
    if answer.ok:
        return f"{url} answered {answer.status}"
    return f"{url}: {answer.error}"
