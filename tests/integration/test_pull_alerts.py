"""Failing pulls are events and alerts: every failed run a ``pull.failed``, the
``quarantine_after``-th in a row ``source.quarantined``, a suspicious snapshot
``snapshot.suspicious``; the org's joined owners get one email per kind an hour. An
accepted invite is ``member.joined``."""

from __future__ import annotations

import re
from email import message_from_bytes
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from sync.models import OutboxMessage
from sync.pull import PullResult, run_pull
from sync.settings import Settings
from sync.sources.base import RetryPolicy
from sync.store.events import list_events
from sync.store.invites import accept_invite
from sync.store.outbox import deliver
from tests.fakes.okta import FakeOkta
from tests.integration.pullsetup import SECRET_KEY, pull_org

FAST = RetryPolicy(attempts=2, base_delay=0.01, max_delay=1.0)
TOKEN = re.compile(r"/invite/([A-Za-z0-9_-]+)")


def _pull(factory: sessionmaker[Session], source_id: int) -> PullResult:
    return run_pull(factory, source_id, secret_key=SECRET_KEY, retry=FAST, quarantine_after=3)


def _types(factory: sessionmaker[Session], org_id: int) -> list[str]:
    with factory() as s:
        return [e["type"] for e in list_events(s, org_id, limit=1000).events]


def _mail(folder: Path) -> list[tuple[str, str, str]]:
    """(to, subject, body) of every delivered email, oldest first."""
    out = []
    for path in sorted((folder / "outbox").glob("*.eml"), key=lambda p: int(p.stem)):
        msg = message_from_bytes(path.read_bytes())
        body = msg.get_payload(decode=True)
        assert isinstance(body, bytes)
        out.append((str(msg["To"]), str(msg["Subject"]), body.decode()))
    return out


def test_failing_pulls_raise_events_a_quarantine_and_one_alert_email_an_hour(
    session_factory: sessionmaker[Session], okta: FakeOkta, tmp_path: Path
) -> None:
    """ann (owner) accepts her invite: member.joined. Then Okta refuses the token four
    times: four pull.failed, one source.quarantined at the third, and ann gets one
    email for each kind, not four."""
    config = {"org_url": okta.url, "auth": "token", "page_size": 2, "max_user_drop": "25%"}
    org_id, source_id = pull_org(
        session_factory, "shareofmodel", "okta", config, okta.state.api_token
    )
    assert _pull(session_factory, source_id).outcome == "applied"
    settings = Settings(database_url="unused", instance_path=tmp_path)
    deliver(session_factory, settings)
    invite = next(body for to, _, body in _mail(tmp_path) if to == "ann@acme.com")
    with session_factory.begin() as s:
        accept_invite(s, TOKEN.findall(invite)[0])
    assert _types(session_factory, org_id)[-1] == "member.joined"
    okta.state.api_token = "rotated-elsewhere"
    outcomes = [_pull(session_factory, source_id).outcome for _ in range(4)]
    assert outcomes == ["failed"] * 4
    after_join = _types(session_factory, org_id)
    tail = after_join[after_join.index("member.joined") + 1 :]
    assert tail == ["pull.failed"] * 3 + ["source.quarantined", "pull.failed"]
    with session_factory() as s:
        kinds = s.scalars(
            select(OutboxMessage.kind)
            .where(OutboxMessage.kind.like("alert:%"))
            .order_by(OutboxMessage.id)
        ).all()
    assert kinds == ["alert:pull.failed", "alert:source.quarantined"]
    deliver(session_factory, settings)
    alerts = [(to, subject) for to, subject, _ in _mail(tmp_path) if subject.startswith("[")]
    assert alerts == [
        ("ann@acme.com", "[shareofmodel okta] a pull failed"),
        ("ann@acme.com", "[shareofmodel okta] a source keeps failing"),
    ]


def test_a_suspicious_snapshot_is_an_event(
    session_factory: sessionmaker[Session], okta: FakeOkta
) -> None:
    """A group that empties between two pulls: the run is suspicious and the feed says so."""
    config = {"org_url": okta.url, "auth": "token", "page_size": 2, "max_user_drop": "25%"}
    org_id, source_id = pull_org(
        session_factory, "shareofmodel", "okta", config, okta.state.api_token
    )
    assert _pull(session_factory, source_id).outcome == "applied"
    for group in okta.state.members:
        okta.state.members[group] = []
    assert _pull(session_factory, source_id).outcome == "suspicious"
    assert _types(session_factory, org_id)[-1] == "snapshot.suspicious"
