"""SCIM throughput: rolebridge under gunicorn vs scim2-server's in-memory server, same data.

    python benchmarks/scim.py [--database-url URL] [--users 100000] [--groups 5000]

Both servers get the same tenant: ``--users`` users (userName, externalId, a work
email) and ``--groups`` groups of 20 members each, with the same ids. rolebridge's
rows are written in bulk in the storage's own format (``scim_server.scim.records``), then
rolebridge is started as a user starts it (``rolebridge serve``: gunicorn, 2 workers
x 4 threads). scim2-server (from PyPI) serves an ``InMemoryStorage`` holding the
same resources from one gunicorn worker x 4 threads (its storage lives in one
process). A client with ``--concurrency`` keep-alive connections then measures, on
each server in turn:

- ``filter``: ``GET /Users?filter=userName eq "..."`` (a random user each time)
- ``page 1``: ``GET /Users?startIndex=1&count=100``
- ``deep page``: ``GET /Users?startIndex=90001&count=100``
- ``group PATCH``: adding 100 members to a group (a different group each time)

and prints requests/s, p50 and p99 per scenario and the rolebridge/scim2-server ratio.
Both servers run at once and each scenario alternates between them in ``--rounds``
rounds, so that a busy machine weighs on both alike.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
Request = tuple[str, str, bytes | None]


# -- the data --------------------------------------------------------------------------


def user_id(i: int) -> str:
    """The id both servers give user ``i``."""
    return f"{i:032x}"


def group_id(j: int) -> str:
    """The id both servers give group ``j``."""
    return f"{0xF0000000 + j:032x}"


def user_doc(i: int) -> dict[str, Any]:
    """User ``i``."""
    name = f"user{i:06d}@bench.example"
    return {
        "schemas": [USER],
        "userName": name,
        "externalId": f"ext-{i:06d}",
        "displayName": f"User {i}",
        "active": True,
        "emails": [{"value": name, "type": "work", "primary": True}],
    }


def group_doc(j: int, users: int) -> dict[str, Any]:
    """Group ``j`` with 20 members."""
    members = [{"value": user_id((j * 20 + k) % users)} for k in range(20)]
    return {"schemas": [GROUP], "displayName": f"group-{j:04d}", "members": members}


# -- rolebridge ------------------------------------------------------------------------


def load_rolebridge(database_url: str, users: int, groups: int) -> str:
    """Migrate, create the org and its token, bulk-write the tenant; returns the token."""
    from scim2_models import Group, User
    from sqlalchemy import insert, text

    from scim_server.scim import records
    from sync.credentials.tokens import create_token, scim_source
    from sync.db import make_engine, make_session_factory, upgrade
    from sync.models import DirectoryGroup, DirectoryMembership, DirectoryUser, utcnow
    from sync.store.orgs import create_org

    engine = make_engine(database_url)
    upgrade(engine)
    factory = make_session_factory(engine)
    with factory.begin() as session:
        org = create_org(session, "bench", "aihub")
        _, token = create_token(session, "bench")
        source_id = scim_source(session, org.id).id
        now = utcnow()
        base = {"org_id": org.id, "source_id": source_id, "version": 1}
        base |= {"created_at": now, "updated_at": now}
        for start in range(0, users, 5000):
            rows = []
            for i in range(start, min(start + 5000, users)):
                model = User.model_validate(user_doc(i))
                rows.append(
                    {**base, **records.user_columns(model), "ext_id": user_id(i)}
                    | {"resource": records.document(model)}
                )
            session.execute(insert(DirectoryUser), rows)
        group_rows = []
        for j in range(groups):
            model = Group.model_validate({**group_doc(j, users), "members": []})
            group_rows.append(
                {**base, **records.group_columns(model), "ext_id": group_id(j)}
                | {"resource": records.document(model)}
            )
        session.execute(insert(DirectoryGroup), group_rows)
        ids = dict(
            session.execute(
                DirectoryGroup.__table__.select()
                .with_only_columns(DirectoryGroup.ext_id, DirectoryGroup.id)
                .where(DirectoryGroup.source_id == source_id)
            ).all()
        )
        memberships = [
            {"group_id": ids[group_id(j)], "member_type": "User", "member_value": m["value"]}
            for j in range(groups)
            for m in group_doc(j, users)["members"]
        ]
        for start in range(0, len(memberships), 10000):
            session.execute(insert(DirectoryMembership), memberships[start : start + 10000])
    if engine.dialect.name == "postgresql":
        # autovacuum would analyze the freshly loaded tables within a minute; without
        # statistics the planner picks sequential scans a live database never sees
        with engine.begin() as connection:
            connection.execute(text("ANALYZE"))
    engine.dispose()
    return token


def start_rolebridge(database_url: str, folder: Path, port: int) -> subprocess.Popen[bytes]:
    """``rolebridge serve`` on loopback."""
    env = {**os.environ, "DATABASE_URL": database_url, "ROLEBRIDGE_INSTANCE": str(folder)}
    env["ROLEBRIDGE_LOG_LEVEL"] = "WARNING"
    env["ROLEBRIDGE_RATE_LIMIT_SCIM"] = "100000000/minute"  # measure the server, not the limiter
    command = [str(Path(sys.executable).parent / "rolebridge"), "serve", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--workers", "2", "--threads", "4"]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


# -- scim2-server ----------------------------------------------------------------------


def serve_scim2_server(port: int, users: int, groups: int, token: str) -> None:
    """scim2-server's bearer-token application over an InMemoryStorage, under gunicorn."""
    from gunicorn.app.base import BaseApplication
    from scim2_models import Meta, ScimProvider
    from scim2_server.memory import InMemoryStorage
    from scim2_server.testserver.application import BEARER_TOKEN_SCHEME, BearerTokenApplication
    from scim2_server.utils import (
        load_default_resource_types,
        load_default_schemas,
        load_default_service_provider_config,
    )

    config = load_default_service_provider_config()
    config.authentication_schemes = [BEARER_TOKEN_SCHEME]
    provider = ScimProvider.from_discovery(
        load_default_schemas().values(), load_default_resource_types().values(), config=config
    )
    user_model = provider.model_for("User")
    group_model = provider.model_for("Group")
    assert user_model is not None and group_model is not None
    storage = InMemoryStorage()
    resources = []
    for kind, model, count, make, make_id in (
        ("User", user_model, users, user_doc, user_id),
        ("Group", group_model, groups, lambda j: group_doc(j, users), group_id),
    ):
        for n in range(count):
            resource = model.model_validate(make(n))
            resource.id = make_id(n)
            now = storage.clock()
            resource.meta = Meta(
                resource_type=kind, created=now, last_modified=now, version=storage.next_version()
            )
            resources.append(resource)
    storage.resources = resources
    application = BearerTokenApplication(storage, provider, bearer_tokens=[token])

    class Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for key, value in {
                "bind": f"127.0.0.1:{port}",
                "workers": 1,
                "threads": 4,
                "worker_class": "gthread",
                "preload_app": True,
                "loglevel": "warning",
            }.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            return application

    Server().run()


# -- the client ------------------------------------------------------------------------


def free_port() -> int:
    """A free loopback port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait(port: int, path: str, timeout: float = 600) -> None:
    """Until the server answers ``path``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", path)
            if connection.getresponse().status < 500:
                return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"server on port {port} did not start")


def run(
    port: int, token: str, requests: list[Request], concurrency: int
) -> tuple[list[float], float]:
    """Send the requests over ``concurrency`` keep-alive connections; latencies and wall time."""
    queue: Iterator[Request] = iter(requests)
    lock = threading.Lock()
    latencies: list[float] = []
    failures: list[str] = []
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"}

    def worker() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        while True:
            with lock:
                request = next(queue, None)
            if request is None:
                return
            method, path, body = request
            started = time.perf_counter()
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)
                if response.status >= 300:
                    failures.append(f"{method} {path[:60]} -> {response.status}")

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    if failures:
        raise SystemExit(f"{len(failures)} failed requests, e.g. {failures[0]}")
    return latencies, wall


def figures(latencies: list[float], wall: float) -> dict[str, float]:
    """Requests/s, p50 and p99 (ms) of a set of requests."""
    ordered = sorted(latencies)
    return {
        "rps": len(ordered) / wall,
        "p50": statistics.median(ordered) * 1000,
        "p99": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
        "n": len(ordered),
    }


def scenarios(
    prefix: str, users: int, groups: int, counts: dict[str, int]
) -> dict[str, list[Request]]:
    """The requests of each scenario (the same for both servers)."""
    rng = random.Random(7)
    deep = min(90_001, max(1, users - 100 + 1))
    filtered: list[Request] = [
        (
            "GET",
            f"{prefix}/Users?filter=userName%20eq%20%22user{rng.randrange(users):06d}%40bench.example%22",
            None,
        )
        for _ in range(counts["filter"])
    ]
    page: list[Request] = [("GET", f"{prefix}/Users?startIndex=1&count=100", None)] * counts["page"]
    deep_page: list[Request] = [("GET", f"{prefix}/Users?startIndex={deep}&count=100", None)]
    deep_page *= counts["deep"]
    patches: list[Request] = []
    for j in range(min(counts["patch"], groups)):
        value = [{"value": user_id((users // 2 + j * 100 + k) % users)} for k in range(100)]
        body = {
            "schemas": [PATCH_OP],
            "Operations": [{"op": "add", "path": "members", "value": value}],
        }
        patches.append(("PATCH", f"{prefix}/Groups/{group_id(j)}", json.dumps(body).encode()))
    return {"filter": filtered, "page 1": page, "deep page": deep_page, "group PATCH": patches}


Server = tuple[str, int, str, dict[str, list[Request]]]  # name, port, token, scenarios


def measure(
    servers: list[Server], concurrency: int, rounds: int
) -> dict[str, dict[str, dict[str, float]]]:
    """Each scenario in rounds that alternate between the servers, so both meet the same load."""
    results: dict[str, dict[str, dict[str, float]]] = {name: {} for name, *_ in servers}
    for scenario in servers[0][3]:
        collected: dict[str, tuple[list[float], float]] = {name: ([], 0.0) for name, *_ in servers}
        for _name, port, token, requests in servers:
            batch = requests[scenario]
            if scenario != "group PATCH":
                run(port, token, batch[: max(1, len(batch) // 10)], concurrency)  # warm-up
        for round_ in range(rounds):
            for name, port, token, requests in servers:
                batch = requests[scenario]
                part = batch[round_::rounds]
                latencies, wall = run(port, token, part, concurrency)
                seen, total = collected[name]
                collected[name] = (seen + latencies, total + wall)
        for name, (latencies, wall) in collected.items():
            result = results[name][scenario] = figures(latencies, wall)
            print(
                f"{name:<13} {scenario:<12} {result['rps']:9.1f} req/s  "
                f"p50 {result['p50']:8.1f} ms  p99 {result['p99']:8.1f} ms  (n={int(result['n'])})",
                flush=True,
            )
    return results


def stop(process: subprocess.Popen[Any]) -> None:
    """Stop a server we started."""
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()


def main() -> None:
    """Load both servers, measure, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", help="rolebridge's database (default: SQLite file)")
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--groups", type=int, default=5_000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--filter", type=int, default=2000, help="filter requests")
    parser.add_argument("--page", type=int, default=200, help="page-1 requests")
    parser.add_argument("--deep", type=int, default=100, help="deep-page requests")
    parser.add_argument("--patch", type=int, default=100, help="group PATCH requests")
    parser.add_argument("--rounds", type=int, default=3, help="alternations per scenario")
    parser.add_argument("--serve-scim2-server", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--token", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_scim2_server:
        serve_scim2_server(args.serve_scim2_server, args.users, args.groups, args.token)
        return
    counts = {"filter": args.filter, "page": args.page, "deep": args.deep, "patch": args.patch}
    with tempfile.TemporaryDirectory(prefix="rolebridge-bench-") as folder:
        url = args.database_url or f"sqlite:///{Path(folder) / 'bench.sqlite3'}"
        started = time.perf_counter()
        token = load_rolebridge(url, args.users, args.groups)
        print(
            f"rolebridge loaded {args.users} users, {args.groups} groups "
            f"in {time.perf_counter() - started:.1f} s",
            flush=True,
        )
        port, other_port = free_port(), free_port()
        other_token = secrets.token_urlsafe(16)
        command = [sys.executable, __file__, "--serve-scim2-server", str(other_port)]
        command += [
            f"--token={other_token}",  # a token may start with "-": not an option
            "--users",
            str(args.users),
            "--groups",
            str(args.groups),
        ]
        server = start_rolebridge(url, Path(folder), port)
        other = subprocess.Popen(command)
        try:
            wait(port, "/scim/v2/ServiceProviderConfig")
            wait(other_port, "/v2/ServiceProviderConfig")
            print("both servers are up", flush=True)
            results = measure(
                [
                    (
                        "rolebridge",
                        port,
                        token,
                        scenarios("/scim/v2", args.users, args.groups, counts),
                    ),
                    (
                        "scim2-server",
                        other_port,
                        other_token,
                        scenarios("/v2", args.users, args.groups, counts),
                    ),
                ],
                args.concurrency,
                args.rounds,
            )
        finally:
            stop(server)
            stop(other)
    ours, theirs = results["rolebridge"], results["scim2-server"]

    print("\n| scenario | rolebridge req/s | p50 | p99 | scim2-server req/s | p50 | p99 | ratio |")
    print("|---|---|---|---|---|---|---|---|")
    for scenario, figures in ours.items():
        base = theirs[scenario]
        print(
            f"| {scenario} | {figures['rps']:.0f} | {figures['p50']:.1f} ms "
            f"| {figures['p99']:.1f} ms "
            f"| {base['rps']:.1f} | {base['p50']:.1f} ms | {base['p99']:.1f} ms "
            f"| {figures['rps'] / base['rps']:.1f}x |"
        )


if __name__ == "__main__":
    main()
