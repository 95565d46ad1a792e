"""How much the operating endpoints cost: a /metrics scrape (its database-derived part
grows with the audit log and the run history) and /readyz, on SQLite and PostgreSQL.

    python benchmarks/ops.py                                  # SQLite, 10k and 200k audit rows
    python benchmarks/ops.py --database-url postgresql+psycopg://root@127.0.0.1/bench_db

The database must be empty or disposable: it is migrated and filled.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import delete, insert

from scim_server import create_app
from sync.db import make_engine, make_session_factory, upgrade
from sync.models import AuditEntry, Base, Organisation, OutboxMessage, SyncRun
from sync.settings import Settings

OPS = ("invite", "set_org_role", "add_to_workspace", "remove_from_org", "suspend")


def _fill(url: str, audit_rows: int) -> None:
    engine = make_engine(url)
    upgrade(engine)
    with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(delete(table))
    factory = make_session_factory(engine)
    with factory.begin() as s:
        org = Organisation(name="bench", role_model="aihub")
        s.add(org)
        s.flush()
        org_id = org.id
    with engine.begin() as conn:
        chunk = 10_000
        for start in range(0, audit_rows, chunk):
            conn.execute(
                insert(AuditEntry),
                [
                    {
                        "org_id": org_id,
                        "actor": "bench",
                        "op": OPS[i % len(OPS)],
                        "user": f"u{i}@bench.example",
                        "detail": {},
                    }
                    for i in range(start, min(start + chunk, audit_rows))
                ],
            )
        runs = audit_rows // 10
        conn.execute(
            insert(SyncRun),
            [
                {
                    "org_id": org_id,
                    "trigger": "bench",
                    "outcome": ("applied", "empty")[i % 2],
                    "counts": {},
                }
                for i in range(runs)
            ],
        )
        conn.execute(
            insert(OutboxMessage),
            [
                {
                    "org_id": org_id,
                    "kind": "welcome",
                    "recipient": f"u{i}@bench.example",
                    "subject": "s",
                    "body": "b",
                }
                for i in range(1000)
            ],
        )
    engine.dispose()


def _time(client: object, path: str, repeat: int) -> tuple[float, float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(path)  # type: ignore[attr-defined]
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.data
    return statistics.median(samples), max(samples)


def main() -> None:
    """Fill, then time /metrics and /readyz."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--audit-rows", type=int, nargs="+", default=[10_000, 200_000])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="rolebridge-bench-"))
    url = args.database_url or f"sqlite:///{folder / 'bench.sqlite3'}"
    dialect = url.split(":", 1)[0].split("+", 1)[0]
    for rows in args.audit_rows:
        _fill(url, rows)
        app = create_app(Settings(database_url=url, instance_path=folder))
        client = app.test_client()
        client.get("/metrics")  # warm the pool and caches
        metrics = _time(client, "/metrics", args.repeat)
        ready = _time(client, "/readyz", args.repeat)
        print(
            f"db={dialect} audit_rows={rows} sync_runs={rows // 10} "
            f"metrics_ms_median={metrics[0]:.1f} metrics_ms_max={metrics[1]:.1f} "
            f"readyz_ms_median={ready[0]:.1f} readyz_ms_max={ready[1]:.1f}"
        )
        app.extensions["rolebridge"].engine.dispose()


if __name__ == "__main__":
    main()
