"""The long-running outbox worker delivers what is due and stops when told."""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from sync.models import Member, Organisation, OutboxMessage, utcnow
from sync.settings import Settings
from sync.worker import work


def _invite(session_factory: sessionmaker[Session], email: str) -> None:
    with session_factory.begin() as s:
        org = s.scalar(select(Organisation).where(Organisation.name == "acme"))
        if org is None:
            org = Organisation(name="acme", role_model="aihub")
            s.add(org)
            s.flush()
        s.add(
            Member(
                org_id=org.id,
                email=email,
                org_role="user",
                status="invited",
                origin="idp",
                invited_at=utcnow(),
            )
        )
        s.add(
            OutboxMessage(
                org_id=org.id,
                kind="welcome",
                recipient=email,
                subject="Welcome",
                body="Join at {accept_url}",
            )
        )


def test_two_workers_send_each_due_email_exactly_once(
    engine: Engine, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    """Two workers on one database deliver five invites: five files, none twice."""
    for n in range(5):
        _invite(session_factory, f"user{n}@acme.com")
    settings = Settings(
        database_url=engine.url.render_as_string(hide_password=False), instance_path=tmp_path
    )
    totals: list[int] = []
    workers = [
        threading.Thread(
            target=lambda: totals.append(work(session_factory, settings, 0.05, max_runtime=1.0))
        )
        for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=30)
    assert sum(totals) == 5
    sent = sorted(p.name for p in (tmp_path / "outbox").iterdir())
    assert len(sent) == 5
    with session_factory() as s:
        assert s.scalars(select(OutboxMessage.sent_at)).all().count(None) == 0
    bodies = "".join(p.read_text() for p in (tmp_path / "outbox").iterdir())
    assert "{accept_url}" not in bodies and bodies.count("/invite/") == 5
