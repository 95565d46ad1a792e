"""The invite lifecycle end to end: invite, email, accept, resend, expire and revoke."""

from __future__ import annotations

import logging
import re
import socket
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from sync.errors import NotFound
from sync.models import Member, OutboxMessage
from sync.reconcile import reconcile
from sync.settings import Settings
from sync.store.invites import InviteExpired, accept_invite
from sync.store.outbox import deliver, file_transport
from tests.integration.orgsetup import sample_org, set_directory

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
TOKEN = re.compile(r"/invite/([A-Za-z0-9_-]+)")


def _settings(tmp_path: Path, smtp_url: str | None = None) -> Settings:
    return Settings(database_url="unused", instance_path=tmp_path, smtp_url=smtp_url)


def _mail(tmp_path: Path) -> dict[str, list[str]]:
    """Recipient -> tokens in the delivered emails, oldest first."""
    out: dict[str, list[str]] = {}
    for path in sorted((tmp_path / "outbox").glob("*.eml"), key=lambda p: int(p.stem)):
        msg = message_from_bytes(path.read_bytes())
        body = msg.get_payload(decode=True)
        assert isinstance(body, bytes)
        out.setdefault(str(msg["To"]), []).extend(TOKEN.findall(body.decode()))
    return out


def _status(session_factory: sessionmaker[Session], email: str) -> str | None:
    with session_factory() as s:
        return s.scalar(select(Member.status).where(Member.email == email))


def test_the_invite_lifecycle_runs_end_to_end_through_the_outbox(
    session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    """Invites are mailed once, accepted once, reminded after a week, and expire."""
    org_id, directory = sample_org(session_factory, "shareofmodel", users=3)
    settings = _settings(tmp_path)
    reconcile(session_factory, org_id, dry_run=False, trigger="t", now=NOW)
    assert deliver(session_factory, settings, now=NOW).sent == 3
    assert deliver(session_factory, settings, now=NOW + timedelta(hours=1)).sent == 0
    mail = _mail(tmp_path)
    assert sorted(mail) == [f"person{i}@example.com" for i in range(3)]
    with session_factory.begin() as s:
        accept_invite(s, mail["person1@example.com"][0], now=NOW + timedelta(days=1))
    assert _status(session_factory, "person1@example.com") == "joined"
    with session_factory.begin() as s, pytest.raises(NotFound):
        accept_invite(s, mail["person1@example.com"][0], now=NOW + timedelta(days=1))
    later = NOW + timedelta(days=8)
    resent = reconcile(session_factory, org_id, dry_run=False, trigger="t", now=later)
    assert sorted(o.user for o in resent.plan.operations if o.op == "resend_invite") == [
        "person0@example.com",
        "person2@example.com",
    ]
    assert deliver(session_factory, settings, now=later).sent == 2
    old, new = _mail(tmp_path)["person2@example.com"]
    with session_factory.begin() as s, pytest.raises(NotFound):
        accept_invite(s, old, now=later)  # the reminder's link replaced the first one
    with session_factory.begin() as s, pytest.raises(InviteExpired, match="expired"):
        accept_invite(s, new, now=later + timedelta(days=31))
    with session_factory.begin() as s:
        accept_invite(s, new, now=later + timedelta(days=29))
    assert _status(session_factory, "person2@example.com") == "joined"
    assert reconcile(session_factory, org_id, dry_run=True, trigger="t", now=later).plan.is_empty
    del directory


def test_a_revoked_invite_is_never_mailed_and_cannot_be_accepted(
    session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    """A user who leaves the directory before the email goes out gets no email."""
    org_id, directory = sample_org(session_factory, "shareofmodel", users=3)
    settings = _settings(tmp_path)
    reconcile(session_factory, org_id, dry_run=False, trigger="t", now=NOW)
    set_directory(session_factory, org_id, replace(directory, users=directory.users[:2]))
    revoked = reconcile(session_factory, org_id, dry_run=False, trigger="t", now=NOW)
    assert [(o.op, o.user) for o in revoked.plan.operations] == [
        ("revoke_invite", "person2@example.com")
    ]
    report = deliver(session_factory, settings, now=NOW)
    assert (report.sent, report.dropped) == (2, 1)
    assert sorted(_mail(tmp_path)) == ["person0@example.com", "person1@example.com"]
    assert _status(session_factory, "person2@example.com") is None


def test_a_failed_send_is_retried_with_backoff_and_sent_once(
    session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    """The first attempt fails; nothing is resent before the backoff; then it goes once."""
    org_id, _ = sample_org(session_factory, "soterai", users=1)
    reconcile(session_factory, org_id, dry_run=False, trigger="t", now=NOW)
    sent: list[EmailMessage] = []

    def broken(message: EmailMessage) -> None:
        raise ConnectionRefusedError("mail server down")

    settings = _settings(tmp_path)
    assert deliver(session_factory, settings, transport=broken, now=NOW).failed == 1
    with session_factory() as s:
        row = s.scalars(select(OutboxMessage)).one()
        assert (row.attempts, row.sent_at) == (1, None)
        assert row.last_error is not None and "mail server down" in row.last_error
    assert deliver(session_factory, settings, transport=sent.append, now=NOW).sent == 0
    soon = NOW + timedelta(seconds=31)
    assert deliver(session_factory, settings, transport=sent.append, now=soon).sent == 1
    assert deliver(session_factory, settings, transport=sent.append, now=soon).sent == 0
    assert [m["To"] for m in sent] == ["person0@example.com"]


def test_two_delivery_workers_never_send_one_message_twice(
    session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    """Workers running at once each take different messages."""
    org_id, _ = sample_org(session_factory, "soterai", users=6)
    reconcile(session_factory, org_id, dry_run=False, trigger="t", now=NOW)
    sent: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(2)

    def transport(message: EmailMessage) -> None:
        with lock:
            sent.append(str(message["To"]))

    def work() -> None:
        barrier.wait()
        deliver(session_factory, _settings(tmp_path), transport=transport, now=NOW, limit=3)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(sent) == sorted(set(sent))
    assert len(sent) == 6


class _Inbox:
    """An aiosmtpd handler that keeps what it receives."""

    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope)
        return "250 OK"


@pytest.fixture
def smtp_server(caplog: pytest.LogCaptureFixture) -> Iterator[tuple[str, _Inbox]]:
    """A real SMTP server on a loopback port. Its own debug log (every DATA line it
    reads, invite links included) is off: it is the receiving server's, not ours."""
    caplog.set_level(logging.WARNING, logger="mail.log")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = _Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield f"smtp://127.0.0.1:{port}", inbox
    finally:
        controller.stop()


def test_invites_go_out_through_smtp_when_configured(
    session_factory: sessionmaker[Session], tmp_path: Path, smtp_server: tuple[str, _Inbox]
) -> None:
    """With ROLEBRIDGE_SMTP_URL set, the welcome email reaches the SMTP server."""
    url, inbox = smtp_server
    org_id, _ = sample_org(session_factory, "soterai", users=1)
    reconcile(session_factory, org_id, dry_run=False, trigger="t", now=NOW)
    assert deliver(session_factory, _settings(tmp_path, url), now=NOW).sent == 1
    [envelope] = inbox.messages
    assert envelope.rcpt_tos == ["person0@example.com"]
    assert b"You are invited to soterai org" in envelope.content
    assert TOKEN.search(envelope.content.decode())
    assert not (tmp_path / "outbox").exists()


def test_the_file_transport_never_rewrites_a_delivered_message(tmp_path: Path) -> None:
    """Writing the same outbox id twice leaves the first file as it was."""
    send = file_transport(tmp_path)
    first, second = EmailMessage(), EmailMessage()
    for msg, text in ((first, "one"), (second, "two")):
        msg["X-Rolebridge-Outbox-Id"] = "7"
        msg.set_content(text)
    send(first)
    send(second)
    assert [p.name for p in tmp_path.iterdir()] == ["7.eml"]
    assert b"one" in (tmp_path / "7.eml").read_bytes()


def test_one_delivery_pass_sends_every_due_message_in_batches(
    session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    """More messages than one batch still all go out in one call, each once."""
    org_id, _ = sample_org(session_factory, "soterai", users=7)
    reconcile(session_factory, org_id, dry_run=False, trigger="t", now=NOW)
    sent: list[EmailMessage] = []
    report = deliver(session_factory, _settings(tmp_path), transport=sent.append, now=NOW, limit=3)
    assert report.sent == 7
    assert sorted(str(m["To"]) for m in sent) == [f"person{i}@example.com" for i in range(7)]


def test_an_invite_renamed_before_its_email_goes_out_is_mailed_to_the_new_address(
    session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    """The IdP changes an invited person's email before delivery: the welcome follows."""
    org_id, directory = sample_org(session_factory, "soterai", users=2)
    reconcile(session_factory, org_id, dry_run=False, trigger="t", now=NOW)
    u = directory.users[1]
    moved = replace(u, user_name="new@example.com", emails=("new@example.com",))
    set_directory(session_factory, org_id, replace(directory, users=(directory.users[0], moved)))
    renamed = reconcile(session_factory, org_id, dry_run=False, trigger="t", now=NOW)
    assert [o.op for o in renamed.plan.operations] == ["rename_member"]
    assert deliver(session_factory, _settings(tmp_path), now=NOW).sent == 2
    assert sorted(_mail(tmp_path)) == ["new@example.com", "person0@example.com"]
