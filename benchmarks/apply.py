"""Time applying a 10k-operation plan on SQLite and PostgreSQL (target: under 5 seconds).

    python benchmarks/apply.py [--users 5000] [--pg postgresql+psycopg://...]

Scenario 1 (first sync): N users in one group that maps to an org role and a workspace
role in a workspace to create: 1 create_workspace + N invites (each with a welcome email
in the outbox) + N add_to_workspace = 2N+1 operations, each with an audit entry.
Scenario 2 (offboarding): the same N members leave the directory: N remove_from_org.
Only ``apply_plan`` (inside one transaction, committed) is timed; planning is separate.
Between them, a reconcile scoped to one user (what each SCIM write triggers) is timed
whole: lock, gather the org's mirror and state, plan, record the run.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import Engine, text

from mappings.directory import Directory, DirectoryGroup, DirectoryUser, GroupMember
from mappings.planner import make_plan
from sync import mirror
from sync.db import make_engine, make_session_factory, upgrade
from sync.gcpause import cyclic_gc_paused
from sync.models import Base
from sync.reconcile import gather, reconcile
from sync.store.mappings import save_mapping
from sync.store.orgs import create_org
from sync.store.platform import apply_plan

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
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


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


def _timed_apply(engine: Engine, org_id: int, label: str) -> float:
    factory = make_session_factory(engine)
    with factory() as s:
        inputs = gather(s, org_id)
    t0 = time.perf_counter()
    plan = make_plan(inputs.directory, inputs.state, inputs.mapping, inputs.role_model, now=NOW)
    planned = time.perf_counter() - t0
    t0, c0 = time.perf_counter(), time.process_time()
    with factory.begin() as s:
        result = apply_plan(s, org_id, plan, actor="bench", now=NOW)
    applied, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(
        f"  {label:<12} {result.applied:>6} ops  apply {applied:6.2f} s  cpu {cpu:5.2f} s"
        f"  ({result.applied / applied:,.0f} ops/s; plan took {planned:.2f} s)"
    )
    return applied


def run(url: str, name: str, users: int) -> None:
    """Both scenarios on one database."""
    engine = make_engine(url)
    _reset(engine)
    factory = make_session_factory(engine)
    with factory.begin() as s:
        org = create_org(s, "Bench", "annotation")
        save_mapping(s, org.id, MAPPING)
        source = mirror.ensure_source(s, org.id, "okta", "okta")
        mirror.replace_snapshot(s, org.id, source.id, _directory(users))
        org_id, source_id = org.id, source.id
    print(f"{name} ({engine.dialect.name}), {users} users:")
    _timed_apply(engine, org_id, "first sync")
    t0 = time.perf_counter()
    steady = reconcile(factory, org_id, dry_run=False, users=["user0@bench.example"], trigger="b")
    print(
        f"  {'one user':<12} {len(steady.plan.operations):>6} ops  reconcile "
        f"{time.perf_counter() - t0:6.2f} s  (a SCIM write's reconcile: lock, gather, plan)"
    )
    with factory.begin() as s:
        mirror.replace_snapshot(s, org_id, source_id, Directory())
    _timed_apply(engine, org_id, "offboarding")
    engine.dispose()


def main() -> None:
    """Parse arguments and run on SQLite, then PostgreSQL when a URL is given."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=5000, help="2N+1 operations in sync 1")
    parser.add_argument("--pg", default=os.environ.get("BENCH_DATABASE_URL"), help="PostgreSQL URL")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run(f"sqlite:///{Path(tmp) / 'bench.sqlite3'}", "SQLite file", args.users)
    if args.pg:
        run(args.pg, "PostgreSQL", args.users)
    else:
        print("PostgreSQL: skipped (give --pg URL or BENCH_DATABASE_URL)")


if __name__ == "__main__":
    with cyclic_gc_paused():  # this process's entry point, as a CLI command's
        main()
