"""The CPU one SCIM write costs, in-process, on the org ``benchmarks/scim_write.py`` seeds.

    python benchmarks/scim_write_cpu.py [--members 1000 10000] [--db sqlite postgresql]
        [--postgres-url postgresql+psycopg://root@127.0.0.1:5432/rolebridge_bench]
        [--samples 40] [--profile OP]

The app is built as ``rolebridge serve`` builds it (``create_app``, the web worker's
collector setting, the SCIM rate limit raised out of the way) and driven through Flask's
test client, so no HTTP, no gunicorn and no client share the measure. Each write is timed
in CPU seconds of this process (``time.process_time``, which a busy shared machine moves
far less than the wall clock) and in wall seconds; the first 5 samples are dropped. The
ops are ``benchmarks/scim_write.py``'s: ``okta_lookup`` (the read before a create, ``GET
/Users?filter=userName eq``, here of an existing user), ``post_user``,
``patch_add_member`` (one member into ``Staff``, which holds every user), ``patch_deactivate`` and
``entra_group_patch_100`` (100 members into a ``ws-*`` group), each sent as Okta and
Entra send them (no ``attributes`` asked). ``--profile OP`` prints the cProfile of that
op's samples in CPU time, as the figures (cumulative, top 40, then rolebridge's own top 60).

One line per figure: ``members=N db=D op=O cpu_p50_ms=X wall_p50_ms=Y``.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import pstats
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.scim_write import (
    EMAIL,
    PATCH_OP,
    WORKSPACES,
    _add,
    _filter,
    database_url,
    group_id,
    load_rolebridge,
    user_doc,
    user_id,
)

OPS = ("okta_lookup", "post_user", "patch_add_member", "patch_deactivate", "entra_group_patch_100")


def _app(url: str, folder: Path) -> Any:
    from scim_server.app import create_app
    from sync.gcpause import settle_for_serving
    from sync.settings import Settings

    settings = Settings(
        database_url=url,
        instance_path=folder,
        log_level="WARNING",
        rate_limit_scim="100000000/minute",
    )
    app = create_app(settings)
    settle_for_serving()
    return app


def _fresh(pool: list[int], k: int) -> list[str]:
    """100 users not in ``ws-(k mod 50)`` yet (k < 50: each sample its own group)."""
    start = (k * 100) % len(pool)
    rotated = pool[start:] + pool[:start]
    return [user_id(i) for i in rotated if i % WORKSPACES != k % WORKSPACES][:100]


def run(
    db: str,
    url: str,
    n: int,
    samples: int,
    profile: str | None,
    folder: Path,
    statements: str | None = None,
) -> None:
    """Seed, then time each op ``samples`` times (the first 5 dropped)."""
    started = time.perf_counter()
    token, _ = load_rolebridge(url, n)
    print(f"# db={db} members={n} loaded in {time.perf_counter() - started:.1f} s", flush=True)
    app = _app(url, folder)
    client = app.test_client()
    said: list[str] = []
    if statements:
        from sqlalchemy import event

        from scim_server.app import runtime

        def note(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
            said.append(" ".join(statement.split())[:160])

        event.listen(runtime(app).engine, "before_cursor_execute", note)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"}
    made: list[str] = []

    def send(method: str, path: str, body: Any) -> None:
        sent = {} if body is None else {"json": body}
        answer = client.open("/scim/v2" + path, method=method, headers=headers, **sent)
        if answer.status_code >= 300:
            raise SystemExit(f"{method} {path} -> {answer.status_code} {answer.data[:300]!r}")
        if method == "POST":
            made.append(answer.get_json()["id"])

    step = max(1, n // (samples + 5))
    pool = [i for i in range(n - 1, -1, -1) if i % step]
    requests: dict[str, Callable[[int], tuple[str, str, Any]]] = {
        "okta_lookup": lambda k: ("GET", _filter(EMAIL.format(f"user{k * step:06d}")), None),
        "post_user": lambda k: ("POST", "/Users", user_doc(EMAIL.format(f"cpu-{db}-{k:05d}"))),
        "patch_add_member": lambda k: ("PATCH", f"/Groups/{group_id(0)}", _add([made[k]])),
        "patch_deactivate": lambda k: (
            "PATCH",
            f"/Users/{user_id(k * step)}",
            {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"active": False}}]},
        ),
        "entra_group_patch_100": lambda k: (
            "PATCH",
            f"/Groups/{group_id(1 + k % WORKSPACES)}",
            _add(_fresh(pool, k)),
        ),
    }
    for op in OPS:
        cpu: list[float] = []
        wall: list[float] = []
        profiler = cProfile.Profile(time.process_time) if profile == op else None
        for k in range(samples + 5):
            method, path, body = requests[op](k)
            gc.collect(0)
            c0, w0 = time.process_time(), time.perf_counter()
            if profiler is not None and k >= 5:
                profiler.enable()
            send(method, path, body)
            if profiler is not None:
                profiler.disable()
            if statements == op and k == 5:
                print(f"# {len(said)} statements of one {op}:", *said, sep="\n#   ")
            said.clear()
            if k >= 5:
                cpu.append(time.process_time() - c0)
                wall.append(time.perf_counter() - w0)
        print(
            f"members={n} db={db} op={op} cpu_p50_ms={statistics.median(cpu) * 1000:.1f}"
            f" wall_p50_ms={statistics.median(wall) * 1000:.1f} n={len(cpu)}",
            flush=True,
        )
        if profiler is not None:
            stats = pstats.Stats(profiler).sort_stats("cumulative")
            stats.print_stats(40)
            stats.print_stats(str(Path(__file__).resolve().parent.parent), 60)  # rolebridge's


def main() -> None:
    """Every database and size in turn."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--members", type=int, nargs="+", default=[1000, 10_000])
    parser.add_argument("--db", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--postgres-url", help="an empty PostgreSQL database, emptied per size")
    parser.add_argument("--samples", type=int, default=40)
    parser.add_argument("--profile", choices=OPS)
    parser.add_argument("--statements", choices=OPS, help="print the SQL of one write of OP")
    args = parser.parse_args()
    with open("/proc/loadavg") as f:
        print(f"# load average {f.read().split()[:3]}", flush=True)
    for db in args.db:
        for n in args.members:
            with tempfile.TemporaryDirectory(prefix="rolebridge-bench-") as folder:
                url = database_url(db, Path(folder), args.postgres_url)
                run(db, url, n, args.samples, args.profile, Path(folder), args.statements)
    with open("/proc/loadavg") as f:
        print(f"# load average {f.read().split()[:3]}", flush=True)


if __name__ == "__main__":
    main()
