"""Time a pull of a large Okta org: rolebridge's own work versus waiting on the IdP.

    python benchmarks/pull.py [--users 100000] [--groups 5000] [--pg postgresql+psycopg://...]

A fake Okta (tests/fakes/okta.py) runs in its own process with N users and G groups:
"Everyone" (all users), "Owners" (10 users) and G-2 "Staff NNNN" groups; every user is in
two Staff groups. The mapping makes Owners owners, Staff 0000-0049 editors and Everyone
viewers (shareofmodel). Two runs are timed phase by phase, exactly as ``sync.pull`` runs
them: the first sync (mirror empty, N invites) and a steady-state run (nothing changed).
"Waiting" is time spent inside HTTP calls (the fake's work and the wire); everything else
(JSON parsing, building the directory, the gate, mirror writes, reconcile) is rolebridge's.
A final ``run_pull`` checks the real entry point end to end. Target: rolebridge's share
under 20 seconds for 100k users.
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy.orm import Session, sessionmaker

from mappings.completeness import DropLimit, check_snapshot
from sync.credentials.secrets import seal_secret
from sync.db import make_engine, make_session_factory
from sync.gcpause import cyclic_gc_paused
from sync.mirror import replace_snapshot, source_directory
from sync.mirror.held import HeldSnapshot, hold
from sync.models import Base, Source
from sync.pull import run_pull, same_directory
from sync.reconcile import reconcile
from sync.sources.okta import OktaConfig, OktaSource
from sync.store.mappings import save_mapping
from sync.store.orgs import create_org

KEY = "benchmark-key"
MAPPING = """\
role_model: shareofmodel
rules:
  - group: Owners
    org_role: owner
  - match: '^Staff 00[0-4][0-9]$'
    org_role: editor
  - group: Everyone
    org_role: viewer
policy:
  max_removals: null
"""


def _serve(users: int, groups: int, queue: Any, stop: Any) -> None:
    import logging

    from tests.fakes.okta import FakeOkta

    logging.getLogger("werkzeug").setLevel(logging.ERROR)

    fake = FakeOkta()
    rng = random.Random(7)
    ids = [f"00u{i:07d}" for i in range(users)]
    for i, uid in enumerate(ids):
        fake.add_user(uid, f"user{i:07d}@bench.example", first=f"User{i}")
    staff: dict[str, list[str]] = {f"00g{g:05d}": [] for g in range(groups - 2)}
    keys = list(staff)
    for uid in ids:
        for gid in rng.sample(keys, 2):
            staff[gid].append(uid)
    fake.add_group("00gEveryone", "Everyone", ids)
    fake.add_group("00gOwners", "Owners", ids[:10])
    for g, gid in enumerate(keys):
        fake.add_group(gid, f"Staff {g:04d}", staff[gid])
    queue.put(fake.url)
    stop.wait()
    fake.close()


CPU: dict[str, float] = {}  # CPU seconds of this process per phase (immune to a busy machine)


def _phase(name: str, figures: dict[str, float], fn: Any, *args: Any) -> Any:
    started, cpu = time.perf_counter(), time.process_time()
    result = fn(*args)
    figures[name] = time.perf_counter() - started
    CPU[name] = time.process_time() - cpu
    return result


def _reconcile(factory: sessionmaker[Session], org_id: int, held: HeldSnapshot | None) -> Any:
    return reconcile(factory, org_id, dry_run=False, trigger="benchmark", held=held)


def _one_run(
    factory: sessionmaker[Session], org_id: int, source_id: int, url: str
) -> dict[str, float]:
    figures: dict[str, float] = {}
    source = OktaSource(OktaConfig(org_url=url, api_token="okta-api-token"))
    with factory() as s:
        previous = _phase("load previous mirror", figures, source_directory, s, org_id, source_id)
    snapshot = _phase("fetch (total)", figures, source.fetch, previous)
    assert source.client is not None
    figures["  of which waiting on the IdP"] = source.client.waited
    figures["  of which parsing and building"] = figures["fetch (total)"] - source.client.waited
    figures["requests"] = float(source.client.requests)
    _phase(
        "completeness gate",
        figures,
        check_snapshot,
        previous,
        snapshot.directory,
        DropLimit.parse("10%"),
    )

    def write() -> HeldSnapshot | None:
        # as sync.pull does: an unchanged snapshot is not rewritten, and the reconcile
        # takes the snapshot in hand instead of reading the mirror back
        with factory.begin() as s:
            if previous is None or not same_directory(previous, snapshot.directory):
                replace_snapshot(s, org_id, source_id, snapshot.directory)
            return hold(s, org_id, snapshot.directory)

    held = _phase("mirror write", figures, write)
    result = _phase("reconcile (plan + apply)", figures, _reconcile, factory, org_id, held)
    figures["operations"] = float(len(result.plan.operations))
    own = (
        "load previous mirror",
        "  of which parsing and building",
        "completeness gate",
        "mirror write",
        "reconcile (plan + apply)",
    )
    figures["ROLEBRIDGE'S OWN"] = sum(figures[k] for k in own)
    phases = ("load previous mirror", "fetch (total)", "completeness gate", "mirror write")
    CPU["ROLEBRIDGE'S OWN"] = sum(CPU[k] for k in (*phases, "reconcile (plan + apply)"))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--groups", type=int, default=5_000)
    parser.add_argument("--pg", default=None, help="a PostgreSQL URL (default: SQLite file)")
    args = parser.parse_args()
    ctx = multiprocessing.get_context("spawn")
    queue, stop = ctx.Queue(), ctx.Event()
    server = ctx.Process(target=_serve, args=(args.users, args.groups, queue, stop))
    server.start()
    try:
        url = queue.get(timeout=600)
        _bench(args, url)
    finally:
        stop.set()
        server.join(timeout=10)


def _bench(args: argparse.Namespace, url: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(args.pg or f"sqlite:///{tmp}/bench.sqlite3")
        Base.metadata.drop_all(engine)
        Base.metadata.create_all(engine)
        factory = make_session_factory(engine)
        with factory.begin() as s:
            org = create_org(s, "Bench", "shareofmodel")
            save_mapping(s, org.id, MAPPING)
            source = Source(
                org_id=org.id,
                name="okta",
                kind="okta",
                secret=seal_secret("okta-api-token", KEY),
                config={"org_url": url, "max_user_drop": "10%"},
            )
            s.add(source)
            s.flush()
            org_id, source_id = org.id, source.id
        print(f"{args.users} users, {args.groups} groups, {engine.dialect.name}")
        for label in ("first sync", "steady state"):
            figures = _one_run(factory, org_id, source_id, url)
            print(f"\n{label}:")
            print(f"  {'phase':<34} {'wall s':>10} {'cpu s':>8}")
            for name, value in figures.items():
                if name in ("requests", "operations"):
                    print(f"  {name:<34} {value:>10.0f}")
                else:
                    cpu = f"{CPU[name]:>8.2f}" if name in CPU else ""
                    print(f"  {name:<34} {value:>10.2f} {cpu}")
        started = time.perf_counter()
        result = run_pull(factory, source_id, secret_key=KEY, trigger="benchmark")
        print(f"\nrun_pull end to end: {result.outcome} in {time.perf_counter() - started:.2f} s")
        engine.dispose()


if __name__ == "__main__":
    with cyclic_gc_paused():  # this process's entry point, as the scheduler's job or `sync`
        main()
