"""Webhooks: added on the command line (secret shown once), delivered by the outbox
worker to a loopback receiver that verifies Standard Webhooks signatures, in order and
each event once by id whatever faults the receiver throws."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from rolebridge.cli import main
from sync.delivery import RETRY_WINDOW, deliver_webhooks
from sync.models import Event, Webhook, utcnow
from sync.reconcile import reconcile
from sync.samples import SAMPLES, sample_directory
from sync.settings import Settings
from sync.worker import work
from tests.fakes.webhooks import Receiver, Trouble
from tests.integration.orgsetup import sample_org, set_directory

SECRET_KEY = "webhook-test-key"
TIMEOUT = 0.6


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """The loopback receiver."""
    fake = Receiver()
    yield fake
    fake.close()


@pytest.fixture
def cli(
    session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> CliRunner:
    """A CLI runner on the test database, private webhook addresses allowed."""
    url = session_factory.kw["bind"].url.render_as_string(hide_password=False)
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("ROLEBRIDGE_SECRET_KEY", SECRET_KEY)
    monkeypatch.setenv("ROLEBRIDGE_INSTANCE", str(tmp_path))
    monkeypatch.setenv("ROLEBRIDGE_WEBHOOK_ALLOW_PRIVATE", "1")
    monkeypatch.setenv("ROLEBRIDGE_WEBHOOK_TIMEOUT", str(TIMEOUT))
    return CliRunner()


def _settings(engine: Engine, tmp_path: Path, timeout: float = TIMEOUT) -> Settings:
    return Settings(
        database_url=engine.url.render_as_string(hide_password=False),
        instance_path=tmp_path,
        secret_key=SECRET_KEY,
        webhook_timeout=timeout,
        webhook_allow_private=True,
    )


def _add(cli: CliRunner, receiver: Receiver, org: str, *extra: str) -> int:
    """``webhook add``; the receiver learns the printed secret."""
    result = cli.invoke(main, ["webhook", "add", "--org", org, "--url", receiver.url, *extra])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[-1].startswith("whsec_")
    receiver.secret = lines[-1]
    return int(lines[0].split()[1])


def _changes(session_factory: sessionmaker[Session], users: int) -> int:
    """Directory changes for the aihub sample org, reconciled; returns the org id."""
    with session_factory() as s:
        from sync.models import Organisation

        org = s.scalar(select(Organisation).where(Organisation.name == "aihub org"))
    if org is None:
        org_id, _ = sample_org(session_factory, "aihub", users=users)
    else:
        org_id = org.id
        set_directory(session_factory, org_id, sample_directory(SAMPLES["aihub"], users))
    reconcile(session_factory, org_id, dry_run=False, trigger="test")
    return org_id


def _event_ids(session_factory: sessionmaker[Session], org_id: int) -> list[str]:
    with session_factory() as s:
        return list(
            s.scalars(select(Event.id).where(Event.org_id == org_id).order_by(Event.seq)).all()
        )


def test_a_webhook_receives_every_event_once_in_order_through_every_fault(
    engine: Engine,
    session_factory: sessionmaker[Session],
    cli: CliRunner,
    receiver: Receiver,
    tmp_path: Path,
) -> None:
    """500s, a 429 with Retry-After, a hang past the timeout, a slow answer and a refused
    connection: after each fault is retried, the receiver holds every event exactly once
    by id, in sequence order, every signature valid."""
    org_id = _changes(session_factory, 4)  # events before the webhook: not sent
    before = set(_event_ids(session_factory, org_id))
    _add(cli, receiver, "aihub org")
    _changes(session_factory, 10)
    settings = _settings(engine, tmp_path)
    receiver.trouble(
        Trouble(500),
        Trouble(503),
        Trouble(429, headers={"Retry-After": "120"}),
        Trouble(200, delay=TIMEOUT * 3),  # hangs: the sender gives up, the receiver keeps it
        Trouble(200, delay=TIMEOUT / 4),  # slow, but within the timeout
        Trouble(502),
    )
    now = utcnow()
    for _ in range(12):
        deliver_webhooks(session_factory, settings, now=now)
        now += timedelta(hours=7)  # past any backoff
    expected = [e for e in _event_ids(session_factory, org_id) if e not in before]
    assert expected and receiver.processed == expected
    assert receiver.bad_signatures == 0
    assert len(receiver.attempts) > len(expected)  # the faults were really retried
    bodies = [receiver.bodies[i] for i in expected]
    assert [b["seq"] for b in bodies] == sorted(b["seq"] for b in bodies)
    assert {b["org"] for b in bodies} == {"aihub org"}
    listed = cli.invoke(main, ["webhook", "list", "--org", "aihub org", "--format", "json"])
    assert '"status": "active"' in listed.output and "whsec_" not in listed.output


def test_a_retry_waits_for_its_backoff_and_honours_retry_after(
    engine: Engine,
    session_factory: sessionmaker[Session],
    cli: CliRunner,
    receiver: Receiver,
    tmp_path: Path,
) -> None:
    """After a 429 with Retry-After: 3600 nothing is sent again before the hour."""
    org_id = _changes(session_factory, 2)
    _add(cli, receiver, "aihub org")
    _changes(session_factory, 4)
    settings = _settings(engine, tmp_path)
    receiver.trouble(Trouble(429, headers={"Retry-After": "3600"}))
    now = utcnow()
    deliver_webhooks(session_factory, settings, now=now)
    deliver_webhooks(session_factory, settings, now=now + timedelta(minutes=59))
    assert len(receiver.attempts) == 1 and receiver.processed == []
    deliver_webhooks(session_factory, settings, now=now + timedelta(minutes=61))
    assert receiver.processed == _event_ids(session_factory, org_id)[-len(receiver.processed) :]
    assert receiver.processed


def test_410_gone_disables_the_endpoint_and_replay_resumes_it(
    engine: Engine,
    session_factory: sessionmaker[Session],
    cli: CliRunner,
    receiver: Receiver,
    tmp_path: Path,
) -> None:
    """A 410 stops deliveries to the endpoint; `webhook replay` enables it and the
    receiver ends with every event once, in order."""
    org_id = _changes(session_factory, 2)
    first = len(_event_ids(session_factory, org_id))
    hook = _add(cli, receiver, "aihub org")
    _changes(session_factory, 6)
    settings = _settings(engine, tmp_path)
    receiver.trouble(Trouble(200), Trouble(410))
    report = deliver_webhooks(session_factory, settings)
    assert report.disabled == 1 and len(receiver.processed) == 1
    assert deliver_webhooks(session_factory, settings).delivered == 0  # disabled: nothing
    listed = cli.invoke(main, ["webhook", "list", "--org", "aihub org"])
    assert "disabled (the endpoint answered 410 Gone)" in listed.output
    replayed = cli.invoke(main, ["webhook", "replay", "--org", "aihub org", str(hook)])
    assert replayed.exit_code == 0, replayed.output
    deliver_webhooks(session_factory, settings)
    assert receiver.processed == _event_ids(session_factory, org_id)[first:]


def test_an_event_refused_for_three_days_is_marked_failed_and_replayed(
    engine: Engine,
    session_factory: sessionmaker[Session],
    cli: CliRunner,
    receiver: Receiver,
    tmp_path: Path,
) -> None:
    """An endpoint answering 500 for longer than the retry window: the event is marked
    failed, the next ones go on, and a replay sends the failed one and the rest again."""
    org_id = _changes(session_factory, 2)
    first = len(_event_ids(session_factory, org_id))
    hook = _add(cli, receiver, "aihub org")
    _changes(session_factory, 4)
    settings = _settings(engine, tmp_path)
    receiver.trouble(*[Trouble(500)] * 40)
    now = utcnow()
    deliver_webhooks(session_factory, settings, now=now)
    deliver_webhooks(session_factory, settings, now=now + RETRY_WINDOW + timedelta(minutes=1))
    failed = cli.invoke(main, ["webhook", "failures", "--org", "aihub org", str(hook)])
    assert failed.exit_code == 0 and "HTTP 500" in failed.output
    receiver.troubles.clear()
    later = now + 2 * RETRY_WINDOW
    for step in range(3):
        deliver_webhooks(session_factory, settings, now=later + timedelta(days=step))
    wanted = _event_ids(session_factory, org_id)[first:]
    assert wanted[0] not in receiver.processed and receiver.processed == wanted[1:]
    sent = len(receiver.attempts)
    assert cli.invoke(main, ["webhook", "replay", "--org", "aihub org", str(hook)]).exit_code == 0
    deliver_webhooks(session_factory, settings)
    assert receiver.processed == [*wanted[1:], wanted[0]]  # each once by id
    assert receiver.attempts[sent:] == wanted  # the replay sent them again, in order


def test_a_dead_endpoint_does_not_delay_another_orgs_deliveries(
    engine: Engine,
    session_factory: sessionmaker[Session],
    cli: CliRunner,
    tmp_path: Path,
) -> None:
    """One org's endpoint hangs on every request; the other org's endpoint gets all its
    events within the same worker round."""
    slow, fast = Receiver(), Receiver()
    try:
        org_a, _ = sample_org(session_factory, "aihub", users=2)
        org_b, _ = sample_org(session_factory, "soterai", users=2)
        _add(cli, slow, "aihub org")
        _add(cli, fast, "soterai org")
        set_directory(session_factory, org_a, sample_directory(SAMPLES["aihub"], 8))
        set_directory(session_factory, org_b, sample_directory(SAMPLES["soterai"], 8))
        reconcile(session_factory, org_a, dry_run=False, trigger="test")
        reconcile(session_factory, org_b, dry_run=False, trigger="test")
        slow.trouble(*[Trouble(200, delay=TIMEOUT * 2)] * 3)
        deliver_webhooks(session_factory, _settings(engine, tmp_path))
        assert fast.processed == _event_ids(session_factory, org_b)
        with session_factory() as s:
            hung = s.scalars(select(Webhook).where(Webhook.org_id == org_a)).one()
        assert hung.attempts == 1 and "no answer" in (hung.last_error or "")
    finally:
        slow.close()
        fast.close()


@pytest.mark.slow
def test_two_workers_never_deliver_one_event_twice_at_the_same_time(
    engine: Engine,
    session_factory: sessionmaker[Session],
    cli: CliRunner,
    receiver: Receiver,
    tmp_path: Path,
) -> None:
    """Two `outbox work` loops on one database and a slow receiver: one delivery in
    flight at a time, every event processed once, in order."""
    org_id = _changes(session_factory, 2)
    first = len(_event_ids(session_factory, org_id))
    _add(cli, receiver, "aihub org")
    _changes(session_factory, 12)
    receiver.trouble(*[Trouble(200, delay=0.05)] * 200)
    # A timeout here would be a retry (sent twice by design, and not due again before
    # the final pass): under a loaded machine's pauses 0.6 s is too short for this test,
    # which is about the leases.
    settings = _settings(engine, tmp_path, timeout=10.0)
    workers = [
        threading.Thread(target=work, args=(session_factory, settings, 0.02, 3.0)) for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    deliver_webhooks(session_factory, settings)  # what a loaded machine left for later
    assert receiver.processed == _event_ids(session_factory, org_id)[first:]
    assert receiver.most_in_flight == 1 and receiver.concurrent_same_id == 0
    assert len(receiver.attempts) == len(receiver.processed)  # nothing sent twice
    with session_factory() as s:
        hook = s.scalars(select(Webhook)).one()
        assert hook.lease_token is None


def test_webhook_urls_are_checked_and_the_secret_is_sealed(
    session_factory: sessionmaker[Session], cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Loopback and private addresses are refused unless allowed; https only when the base
    URL is https; the stored secret is not the printed one; `remove` deletes."""
    sample_org(session_factory, "aihub", users=1)
    monkeypatch.delenv("ROLEBRIDGE_WEBHOOK_ALLOW_PRIVATE")
    for url in ("http://127.0.0.1:9/x", "http://10.1.2.3/x", "http://[::1]/x", "ftp://x.org/"):
        refused = cli.invoke(main, ["webhook", "add", "--org", "aihub org", "--url", url])
        assert refused.exit_code == 1 and refused.output.startswith("error: "), url
        assert len(refused.output.strip().splitlines()) == 1
    monkeypatch.setenv("ROLEBRIDGE_WEBHOOK_ALLOW_PRIVATE", "1")
    monkeypatch.setenv("ROLEBRIDGE_BASE_URL", "https://rolebridge.example.com")
    http = cli.invoke(main, ["webhook", "add", "--org", "aihub org", "--url", "http://127.0.0.1/"])
    assert http.exit_code == 1 and "https" in http.output
    bad_type = cli.invoke(
        main,
        ["webhook", "add", "--org", "aihub org", "--url", "https://127.0.0.1/", "--types", "x.y"],
    )
    assert bad_type.exit_code == 1 and "x.y" in bad_type.output
    made = cli.invoke(main, ["webhook", "add", "--org", "aihub org", "--url", "https://127.0.0.1/"])
    assert made.exit_code == 0, made.output
    secret = made.output.strip().splitlines()[-1]
    with session_factory() as s:
        stored = s.scalars(select(Webhook)).one()
    assert secret not in stored.secret and stored.secret.startswith("fernet:")
    removed = cli.invoke(main, ["webhook", "remove", "--org", "aihub org", str(stored.id)])
    assert removed.exit_code == 0
    assert cli.invoke(main, ["webhook", "list", "--org", "aihub org"]).output == ""


def test_webhook_test_sends_a_signed_message(
    session_factory: sessionmaker[Session], cli: CliRunner, receiver: Receiver
) -> None:
    """`webhook test` posts a message the receiver verifies, and prints the answer."""
    sample_org(session_factory, "aihub", users=1)
    hook = _add(cli, receiver, "aihub org")
    result = cli.invoke(main, ["webhook", "test", "--org", "aihub org", str(hook)])
    assert result.exit_code == 0 and "answered 204" in result.output
    assert receiver.bad_signatures == 0 and len(receiver.processed) == 1
