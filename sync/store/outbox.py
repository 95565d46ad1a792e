"""The email outbox: invites (and alerts to admins, ``sync.alerts``) written in the same
transaction as the change, delivered afterwards through SMTP (``ROLEBRIDGE_SMTP_URL``) or,
in development, as ``.eml`` files under ``<instance>/outbox``.

Delivery claims a batch in one transaction (``FOR UPDATE SKIP LOCKED`` on PostgreSQL,
the write lock on SQLite), so two workers never take the same message; the invite
token is minted at that moment, so it exists only in the email. A failed send is retried
with exponential backoff; each message carries a ``Message-ID`` made from its id so a
receiving server can drop the copy a crash between send and commit would cause.
"""

from __future__ import annotations

import os
import smtplib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from sync.db import write_session
from sync.models import Member, OutboxMessage, utcnow
from sync.settings import Settings

__all__ = [
    "MAX_ATTEMPTS",
    "DeliveryReport",
    "Transport",
    "deliver",
    "file_transport",
    "invite_message",
    "smtp_transport",
    "transport_for",
]

MAX_ATTEMPTS = 8
LEASE = timedelta(minutes=10)  # a claimed message is retried after this if its worker died
_URL = "{accept_url}"

Transport = Callable[[EmailMessage], None]


def invite_message(
    org_id: int, org_name: str, email: str, kind: str, now: datetime
) -> dict[str, Any]:
    """An outbox row for a welcome (``welcome``) or reminder (``invite_resend``) email."""
    if kind == "welcome":
        subject = f"You are invited to {org_name}"
        intro = f"You have been given access to {org_name}."
    else:
        subject = f"Reminder: your invitation to {org_name}"
        intro = f"Your invitation to {org_name} is still waiting for you."
    body = f"Hello,\n\n{intro}\nAccept it here: {_URL}\n\n-- rolebridge\n"
    return {
        "org_id": org_id,
        "kind": kind,
        "recipient": email,
        "subject": subject,
        "body": body,
        "created_at": now,
        "attempts": 0,
        "next_attempt_at": now,
    }


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """What one delivery pass did."""

    sent: int = 0
    failed: int = 0
    dropped: int = 0  # the invite was accepted or revoked before its email went out


def smtp_transport(url: str) -> Transport:
    """Send through ``smtp://[user:pass@]host[:port][?starttls=1]`` or ``smtps://``."""
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ValueError("ROLEBRIDGE_SMTP_URL must look like smtp://user:pass@host:port")
    starttls = parse_qs(parts.query).get("starttls", ["0"])[0] in ("1", "true")

    def send(message: EmailMessage) -> None:
        cls = smtplib.SMTP_SSL if parts.scheme == "smtps" else smtplib.SMTP
        with cls(parts.hostname or "", parts.port or 0, timeout=30) as smtp:
            if starttls:
                smtp.starttls()
            if parts.username:
                smtp.login(unquote(parts.username), unquote(parts.password or ""))
            smtp.send_message(message)

    return send


def file_transport(folder: Path) -> Transport:
    """Write each message to ``folder/<id>.eml`` (an existing file is never rewritten)."""

    def send(message: EmailMessage) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        name = str(message["X-Rolebridge-Outbox-Id"])
        target = folder / f"{name}.eml"
        if target.exists():
            return
        tmp = folder / f".{name}.tmp"
        tmp.write_bytes(bytes(message))
        os.replace(tmp, target)

    return send


def transport_for(settings: Settings) -> Transport:
    """SMTP when configured, else files under the instance folder."""
    if settings.smtp_url:
        return smtp_transport(settings.smtp_url)
    return file_transport(settings.instance_path / "outbox")


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 3600))


def deliver(
    session_factory: sessionmaker[Session],
    settings: Settings,
    *,
    transport: Transport | None = None,
    now: datetime | None = None,
    limit: int = 100,
) -> DeliveryReport:
    """Send every due message once, ``limit`` at a time; failures are rescheduled with
    backoff (and are not retried within this call)."""
    send = transport or transport_for(settings)
    now = now or utcnow()
    report = DeliveryReport()
    while claimed := _claim(session_factory, settings, now, limit):
        report = DeliveryReport(
            report.sent, report.failed, report.dropped + sum(1 for _, m in claimed if m is None)
        )
        for message_id, message in claimed:
            if message is not None:
                ok = _send_one(session_factory, send, message_id, message, now)
                report = DeliveryReport(report.sent + ok, report.failed + (not ok), report.dropped)
    return report


def _claim(
    session_factory: sessionmaker[Session], settings: Settings, now: datetime, limit: int
) -> list[tuple[int, EmailMessage | None]]:
    """Take up to ``limit`` due messages (no other worker gets them until the lease ends)
    and mint their invite tokens; ``None`` for a message whose invite is gone."""
    from sync.store.invites import accept_url, mint_token

    claimed: list[tuple[int, EmailMessage | None]] = []
    with write_session(session_factory) as session:
        rows = session.scalars(
            select(OutboxMessage)
            .where(
                OutboxMessage.sent_at.is_(None),
                OutboxMessage.next_attempt_at <= now,
                OutboxMessage.attempts < MAX_ATTEMPTS,
            )
            .order_by(OutboxMessage.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        for row in rows:
            row.attempts += 1
            row.next_attempt_at = now + LEASE
            if row.kind.startswith("alert:"):  # an alert to an admin (sync.alerts): no invite
                claimed.append((row.id, _email(row, settings, "")))
                continue
            member = session.scalar(
                select(Member).where(Member.org_id == row.org_id, Member.email == row.recipient)
            )
            if member is None or member.status != "invited":
                row.sent_at = now
                row.last_error = "not sent: the invite was accepted or revoked first"
                claimed.append((row.id, None))
                continue
            token, member.invite_token_hash = mint_token()
            claimed.append((row.id, _email(row, settings, accept_url(settings.base_url, token))))
    return claimed


def _send_one(
    session_factory: sessionmaker[Session],
    send: Transport,
    message_id: int,
    message: EmailMessage,
    now: datetime,
) -> bool:
    error = _try(send, message)
    with write_session(session_factory) as session:
        done = session.get(OutboxMessage, message_id)
        assert done is not None
        if error is None:
            done.sent_at, done.last_error = utcnow(), None
        else:
            done.last_error = error
            done.next_attempt_at = now + _backoff(done.attempts)
    return error is None


def _try(send: Transport, message: EmailMessage) -> str | None:
    try:
        send(message)
    except (OSError, smtplib.SMTPException) as exc:
        return f"{type(exc).__name__}: {exc}"[:500]
    return None


def _email(row: OutboxMessage, settings: Settings, url: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = row.recipient
    message["Subject"] = row.subject
    message["Message-ID"] = f"<outbox-{row.id}-{row.org_id}@rolebridge>"
    message["X-Rolebridge-Outbox-Id"] = str(row.id)
    text = row.body.replace(_URL, url)
    # no quoted-printable: the link stays one line that can be copied from the file
    message.set_content(text, cte="7bit" if text.isascii() else "8bit")
    return message
