"""Deliver 10k events to a loopback webhook receiver; throughput and lag p50/p99.

    python benchmarks/events.py [--users 5000] [--pg postgresql+psycopg://...]

One org (annotation preset) has a webhook whose receiver (werkzeug, threaded, on
127.0.0.1) verifies each delivery's signature with the ``standardwebhooks`` library. A
first sync of N users is applied in one transaction: 1 create_workspace + N invites +
N add_to_workspace + plan.applied = 2N+2 events (10,002 for N=5000), written with the
change. Then one delivery pass (``sync.delivery.deliver_webhooks``, what ``rolebridge
outbox deliver`` runs) sends them all, in order, one in flight (one endpoint).

Figures: events per second over the pass, and the lag of each event (received minus
committed) at p50 and p99. With one endpoint and a backlog of 10k events made in one
transaction, the lag is queueing: event k waits for the k-1 before it.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flask import Flask, Response, request
from sqlalchemy import Engine, text
from standardwebhooks.webhooks import Webhook as Verifier
from werkzeug.serving import make_server

from mappings.authority import Caller
from mappings.directory import Directory, DirectoryGroup, DirectoryUser, GroupMember
from sync import mirror
from sync.db import make_engine, make_session_factory, upgrade
from sync.delivery import deliver_webhooks
from sync.gcpause import cyclic_gc_paused
from sync.models import Base
from sync.reconcile import reconcile
from sync.services.webhooks import add_webhook
from sync.settings import Settings
from sync.store.mappings import save_mapping
from sync.store.orgs import create_org

MAPPING = """\
role_model: annotation
rules:
  - group: Everyone
    org_role: member
    workspace: bench
    workspace_role: [member, developer]
    create_workspace: true
policy:
  max_removals: null
"""


def _serve_receiver(secret: str, log_path: str, ports: Any) -> None:
    """The receiver, in its own process (its own interpreter lock, as a real one has):
    verifies each signature and appends ``<id> <time received>`` to ``log_path``."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    verifier = Verifier(secret)
    lock = threading.Lock()
    log = open(log_path, "a", buffering=1)  # noqa: SIM115 - open for the process's life
    app = Flask("bench-receiver")

    @app.post("/hook")
    def hook() -> Response:
        try:
            verifier.verify(request.get_data(), dict(request.headers))
        except Exception:
            with lock:
                log.write("bad 0\n")
            return Response("", 400)
        with lock:
            log.write(f"{request.headers['webhook-id']} {time.time()}\n")
        return Response("", 204)

    server = make_server("127.0.0.1", 0, app, threaded=True)
    ports.put(server.server_port)
    server.serve_forever()


class _Receiver:
    def __init__(self, secret: str, log: Path) -> None:
        self.log = log
        ports: Any = multiprocessing.Queue()
        self._process = multiprocessing.Process(
            target=_serve_receiver, args=(secret, str(self.log), ports), daemon=True
        )
        self._process.start()
        self.url = f"http://127.0.0.1:{ports.get(timeout=30)}/hook"

    def received(self) -> tuple[dict[str, float], int]:
        """Event id -> first time received, and the count of bad signatures."""
        seen: dict[str, float] = {}
        bad = 0
        for line in self.log.read_text().splitlines():
            event_id, at = line.split()
            if event_id == "bad":
                bad += 1
            else:
                seen.setdefault(event_id, float(at))
        return seen, bad

    def close(self) -> None:
        self._process.terminate()
        self._process.join(5)


def _directory(users: int) -> Directory:
    people = tuple(
        DirectoryUser(f"u{i:06}", f"user{i}@bench.example", (f"user{i}@bench.example",))
        for i in range(users)
    )
    group = DirectoryGroup(
        "g", "Everyone", members=tuple(GroupMember(u.id, "User") for u in people)
    )
    return Directory(users=people, groups=(group,))


def _reset(engine: Engine) -> None:
    Base.metadata.drop_all(engine)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    upgrade(engine)


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def run(url: str, name: str, users: int, tmp: Path) -> None:
    """Write the events, deliver them, print the figures."""
    engine = make_engine(url)
    _reset(engine)
    factory = make_session_factory(engine)
    settings = Settings(
        database_url=url, instance_path=tmp, secret_key="bench", webhook_allow_private=True
    )
    with factory.begin() as s:
        org = create_org(s, "Bench", "annotation")
        save_mapping(s, org.id, MAPPING)
        source = mirror.ensure_source(s, org.id, "okta", "okta")
        mirror.replace_snapshot(s, org.id, source.id, _directory(users))
        org_id = org.id
    made = add_webhook(factory, org_id, Caller("bench", None), "http://127.0.0.1:9/", settings)
    receiver = _Receiver(made.secret, tmp / f"received-{engine.dialect.name}.log")
    try:
        with factory.begin() as s:
            s.execute(text("UPDATE webhooks SET url = :u"), {"u": receiver.url})
        t0 = time.perf_counter()
        reconcile(factory, org_id, dry_run=False, trigger="bench")
        written = time.perf_counter() - t0
        committed = time.time()
        with factory() as s:
            count = int(s.execute(text("SELECT count(*) FROM events")).scalar_one())
        t0 = time.perf_counter()
        report = deliver_webhooks(factory, settings)
        took = time.perf_counter() - t0
        seen, bad = receiver.received()
        lags = [at - committed for at in seen.values()]
        print(f"{name} ({engine.dialect.name}): {count} events")
        print(f"  written with the first sync in {written:.2f} s (plan, apply, events, outbox)")
        print(
            f"  delivered {report.delivered} ({len(seen)} received) in {took:.2f} s:"
            f" {report.delivered / took:,.0f}/s; lag p50 {statistics.median(lags):.2f} s,"
            f" p99 {_pct(lags, 99):.2f} s; bad signatures {bad}"
        )
    finally:
        receiver.close()
        engine.dispose()


def main() -> None:
    """Parse arguments and run on SQLite, then PostgreSQL when a URL is given."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--users", type=int, default=5000, help="2N+2 events")
    parser.add_argument("--pg", default=os.environ.get("BENCH_DATABASE_URL"), help="PostgreSQL URL")
    args: Any = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
    with tempfile.TemporaryDirectory() as tmp:
        run(f"sqlite:///{Path(tmp) / 'bench.sqlite3'}", "SQLite file", args.users, Path(tmp))
        if args.pg:
            run(args.pg, "PostgreSQL", args.users, Path(tmp))
        else:
            print("PostgreSQL: skipped (give --pg URL or BENCH_DATABASE_URL)")


if __name__ == "__main__":
    with cyclic_gc_paused():  # this process's entry point, as a CLI command's
        main()
