"""SCIM writes with a mapping in force, by org size: rolebridge vs scim2-server, same data.

    python benchmarks/scim_write.py [--members 1000 10000 100000] [--db sqlite postgresql]
        [--postgres-url postgresql+psycopg://root@127.0.0.1:5432/rolebridge_bench]
        [--samples 200] [--push 10000]

For each database and org size N the org is written in bulk (``sync.bulk.insert_rows``:
COPY on PostgreSQL) in the store's own format: N SCIM-pushed users, the group ``Staff``
holding all of them, 50 groups ``ws-000`` .. ``ws-049`` (user i in ``ws-(i mod 50)``),
the mapping below, and the members it asks for, joined, with their workspace roles, so
the org starts settled (a dry-run reconcile checks it). rolebridge is started as a user
starts it (``rolebridge serve``: gunicorn on loopback, 2 workers x 4 threads, the SCIM
rate limit raised out of the way); scim2-server 0.8.3 serves an ``InMemoryStorage``
holding the same users and groups (one gunicorn worker x 4 threads). One client then
sends, to each server, ``--samples`` of each write:

- ``okta_lookup_create``: ``GET /Users?filter=userName eq "..."`` (no match), then
  ``POST /Users`` (the pair's time; ``okta_lookup`` and ``okta_create`` are its halves)
- ``patch_add_member``: ``PATCH /Groups/<Staff>`` adding one of the new users (an invite)
- ``patch_deactivate``: ``PATCH /Users/<id>`` ``active: false`` (a suspension)
- ``entra_group_patch_100``: ``PATCH /Groups/<ws-j>`` adding 100 members (100 grants)

Then, once per database, a first push of ``--push`` users into an empty org with the same
mapping, from 4 concurrent clients, each user as Okta sends it (lookup, create, add to
``Staff``): users per second, and the p50/p99 of one user's three requests.

One line per figure: ``members=N db=D server=S op=O p50_ms=X p99_ms=Y`` (the push line
adds ``users_per_s`` and ``cpu_ms_per_user``, the CPU the whole machine used meanwhile,
server, database and the clients together, per user: on a shared machine it moves far
less between runs than the rate does).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.scim import (
    GROUP,
    PATCH_OP,
    USER,
    free_port,
    start_rolebridge,
    stop,
    wait,
)

MAPPING = """
role_model: aihub
rules:
  - group: Staff
    org_role: user
  - match: '^ws-(?P<n>[0-9]+)$'
    workspace: "w{n}"
    workspace_role: user
policy:
  acting_role: admin
  apply: auto
  max_removals: 50%
"""
WORKSPACES = 50
SERVERS = ["rolebridge", "scim2-server"]
EMAIL = "{}@bench.example"


def user_id(i: int) -> str:
    """The id both servers give seeded user ``i``."""
    return f"{i:032x}"


def group_id(j: int) -> str:
    """``Staff`` is group 0, ``ws-(j-1)`` group j."""
    return f"{0xF0000000 + j:032x}"


def group_name(j: int) -> str:
    """The displayName of group ``j``."""
    return "Staff" if j == 0 else f"ws-{j - 1:03d}"


def user_doc(name: str) -> dict[str, Any]:
    """A user as Okta creates it."""
    return {
        "schemas": [USER],
        "userName": name,
        "externalId": f"ext-{name}",
        "name": {"givenName": "Bench", "familyName": name.split("@")[0]},
        "displayName": name.split("@")[0],
        "active": True,
        "emails": [{"value": name, "type": "work", "primary": True}],
    }


def members_of(j: int, n: int) -> list[int]:
    """The seeded users in group ``j``."""
    return list(range(n)) if j == 0 else list(range(j - 1, n, WORKSPACES))


# -- rolebridge ------------------------------------------------------------------------


def load_rolebridge(database_url: str, n: int) -> tuple[str, str]:
    """Migrate, create the settled org of ``n`` members and an empty one for the first
    push; returns their tokens."""
    from scim2_models import Group, User
    from sqlalchemy import select, text

    from scim_server.scim import records
    from sync.bulk import insert_rows
    from sync.credentials.tokens import create_token, scim_source
    from sync.db import make_engine, make_session_factory, upgrade
    from sync.models import Base, DirectoryGroup, Member, Workspace, utcnow
    from sync.reconcile import reconcile
    from sync.store.mappings import save_mapping
    from sync.store.orgs import create_org

    table = Base.metadata.tables
    engine = make_engine(database_url)
    upgrade(engine)
    factory = make_session_factory(engine)
    with factory.begin() as session:
        org = create_org(session, "bench", "aihub")
        save_mapping(session, org.id, MAPPING, created_by="bench")
        _, token = create_token(session, "bench")
        source_id = scim_source(session, org.id).id
        now = utcnow()
        base = {"org_id": org.id, "source_id": source_id, "version": 1}
        base |= {"created_at": now, "updated_at": now}
        for start in range(0, n, 10000):
            rows = []
            for i in range(start, min(start + 10000, n)):
                model = User.model_validate(user_doc(EMAIL.format(f"user{i:06d}")))
                columns = records.user_columns(model)
                rows.append(
                    {**base, **columns, "ext_id": user_id(i), "scim_key": columns["user_name_key"]}
                    | {"resource": records.document(model)}
                )
            insert_rows(session, table["directory_users"], rows)
        group_rows = []
        for j in range(WORKSPACES + 1):
            model = Group.model_validate({"schemas": [GROUP], "displayName": group_name(j)})
            columns = records.group_columns(model)
            group_rows.append(
                {**base, **columns, "ext_id": group_id(j), "scim_key": columns["display_name_key"]}
                | {"resource": records.document(model)}
            )
        insert_rows(session, table["directory_groups"], group_rows)
        ids = dict(
            session.execute(
                select(DirectoryGroup.ext_id, DirectoryGroup.id).where(
                    DirectoryGroup.source_id == source_id
                )
            ).all()
        )
        memberships = [
            {"group_id": ids[group_id(j)], "member_type": "User", "member_value": user_id(i)}
            for j in range(WORKSPACES + 1)
            for i in members_of(j, n)
        ]
        insert_rows(session, table["directory_memberships"], memberships)
        for j in range(WORKSPACES):
            session.add(Workspace(org_id=org.id, name=f"w{j:03d}", credits=0))
        session.add(
            Member(
                org_id=org.id,
                email=EMAIL.format("owner"),
                org_role="admin",
                status="joined",
                origin="manual",
            )
        )
        session.flush()
        member_rows = [
            {
                "org_id": org.id,
                "email": EMAIL.format(f"user{i:06d}"),
                "org_role": "user",
                "status": "joined",
                "origin": "idp",
                "idp_id": user_id(i),
                "invited_at": now,
                "joined_at": now,
                "updated_at": now,
            }
            for i in range(n)
        ]
        insert_rows(session, table["members"], member_rows)
        workspaces = dict(
            session.execute(
                select(Workspace.name, Workspace.id).where(Workspace.org_id == org.id)
            ).all()
        )
        member_ids = dict(
            session.execute(select(Member.email, Member.id).where(Member.org_id == org.id)).all()
        )
        roles = [
            {
                "member_id": member_ids[EMAIL.format(f"user{i:06d}")],
                "workspace_id": workspaces[f"w{i % WORKSPACES:03d}"],
                "role": "user",
            }
            for i in range(n)
        ]
        insert_rows(session, table["workspace_roles"], roles)
        push = create_org(session, "push", "aihub")
        save_mapping(session, push.id, MAPPING, created_by="bench")
        _, push_token = create_token(session, "push")
        for j in range(WORKSPACES):
            session.add(Workspace(org_id=push.id, name=f"w{j:03d}", credits=0))
        session.add(
            Member(
                org_id=push.id,
                email=EMAIL.format("owner"),
                org_role="admin",
                status="joined",
                origin="manual",
            )
        )
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.execute(text("ANALYZE"))
    settled = reconcile(factory, org.id, dry_run=True, trigger="bench")
    if settled.plan.operations:
        raise SystemExit(f"the seeded org is not settled: {dict(settled.plan.summary)}")
    engine.dispose()
    return token, push_token


# -- scim2-server ----------------------------------------------------------------------


def serve_scim2_server(port: int, n: int, token: str) -> None:
    """scim2-server's bearer-token application over an InMemoryStorage of the same data."""
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

    def stamp(resource: Any, kind: str, rid: str) -> Any:
        resource.id = rid
        now = storage.clock()
        resource.meta = Meta(
            resource_type=kind, created=now, last_modified=now, version=storage.next_version()
        )
        return resource

    for i in range(n):
        doc = user_doc(EMAIL.format(f"user{i:06d}"))
        resources.append(stamp(user_model.model_validate(doc), "User", user_id(i)))
    for j in range(WORKSPACES + 1):
        doc = {
            "schemas": [GROUP],
            "displayName": group_name(j),
            "members": [{"value": user_id(i), "type": "User"} for i in members_of(j, n)],
        }
        resources.append(stamp(group_model.model_validate(doc), "Group", group_id(j)))
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
                "timeout": 600,
            }.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            return application

    Server().run()


# -- the client ------------------------------------------------------------------------


class Client:
    """One keep-alive connection with the server's token."""

    def __init__(self, port: int, token: str, prefix: str) -> None:
        import http.client

        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        self.prefix = prefix
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"}

    def send(self, method: str, path: str, body: Any = None) -> tuple[float, Any]:
        """The request's time (s) and its JSON answer; fails on an error status."""
        data = None if body is None else json.dumps(body).encode()
        started = time.perf_counter()
        self.connection.request(method, self.prefix + path, body=data, headers=self.headers)
        response = self.connection.getresponse()
        raw = response.read()
        elapsed = time.perf_counter() - started
        if response.status >= 300:
            raise SystemExit(f"{method} {path[:80]} -> {response.status} {raw[:300]!r}")
        return elapsed, json.loads(raw) if raw else None


def _filter(name: str) -> str:
    return f"/Users?filter=userName%20eq%20%22{name.replace('@', '%40')}%22"


def _add(values: list[str]) -> dict[str, Any]:
    members = [{"value": v} for v in values]
    return {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "add", "path": "members", "value": members}],
    }


def lookup_create(client: Client, name: str) -> tuple[float, float, str]:
    """Okta's pattern: look the user up, then create it; (lookup s, create s, id)."""
    looked, found = client.send("GET", _filter(name))
    assert found["totalResults"] == 0, found
    created, user = client.send("POST", "/Users", user_doc(name))
    return looked, created, user["id"]


def writes(client: Client, n: int, samples: int, tag: str) -> dict[str, list[float]]:
    """The four writes, ``samples`` of each (fewer group PATCHes: one per ws group)."""
    out: dict[str, list[float]] = {
        k: []
        for k in (
            "okta_lookup",
            "okta_create",
            "okta_lookup_create",
            "patch_add_member",
            "patch_deactivate",
            "entra_group_patch_100",
        )
    }
    created = []
    for k in range(samples):
        looked, made, uid = lookup_create(client, EMAIL.format(f"new-{tag}-{k:05d}"))
        out["okta_lookup"].append(looked)
        out["okta_create"].append(made)
        out["okta_lookup_create"].append(looked + made)
        created.append(uid)
    for uid in created:
        out["patch_add_member"].append(
            client.send("PATCH", f"/Groups/{group_id(0)}", _add([uid]))[0]
        )
    off = {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"active": False}}]}
    step = max(1, n // samples)
    for k in range(min(samples, n)):
        out["patch_deactivate"].append(client.send("PATCH", f"/Users/{user_id(k * step)}", off)[0])
    for j in range(1, min(samples, WORKSPACES) + 1):
        # 100 users not in ws-(j-1) yet (and not deactivated above)
        pool = [i for i in range(n - 1, -1, -1) if i % WORKSPACES != j - 1 and i % step]
        values = [user_id(i) for i in pool[(j * 100) % max(1, len(pool) - 100) :][:100]]
        out["entra_group_patch_100"].append(
            client.send("PATCH", f"/Groups/{group_id(j)}", _add(values))[0]
        )
    return out


def busy_seconds() -> float:
    """The CPU time this machine's processes have used since boot (``/proc/stat``: user,
    nice, system, irq and softirq): a push's share, per user, moves far less between runs
    on a shared machine than its wall time."""
    with open("/proc/stat") as f:
        ticks = [int(x) for x in f.readline().split()[1:8]]
    return (sum(ticks[:3]) + ticks[5] + ticks[6]) / os.sysconf("SC_CLK_TCK")


def first_push(
    port: int, token: str, prefix: str, users: int, name: str, tag: str
) -> tuple[float, list[float], float]:
    """``users`` users pushed as Okta does, from 4 clients, into the group ``name``;
    (wall s, per-user s, the machine's CPU s meanwhile: server, database and clients)."""
    setup = Client(port, token, prefix)
    _, group = setup.send("POST", "/Groups", {"schemas": [GROUP], "displayName": name})
    gid = group["id"]
    lock = threading.Lock()
    queue = iter(range(users))
    times: list[float] = []

    def worker() -> None:
        client = Client(port, token, prefix)
        while True:
            with lock:
                k = next(queue, None)
            if k is None:
                return
            looked, made, uid = lookup_create(client, EMAIL.format(f"push-{tag}-{k:06d}"))
            added = client.send("PATCH", f"/Groups/{gid}", _add([uid]))[0]
            with lock:
                times.append(looked + made + added)
                if len(times) % 500 == 0:  # progress, so that a slowdown shows as it comes
                    rate = len(times) / (time.perf_counter() - started)
                    print(f"# {len(times)} users pushed, {rate:.1f} users/s", file=sys.stderr)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    started, busy = time.perf_counter(), busy_seconds()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started, times, busy_seconds() - busy


def line(n: int, db: str, server: str, op: str, times: list[float], extra: str = "") -> None:
    """One figure."""
    ordered = sorted(times)
    p50 = statistics.median(ordered) * 1000
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
    print(
        f"members={n} db={db} server={server} op={op} p50_ms={p50:.1f} p99_ms={p99:.1f}"
        f" n={len(ordered)}{extra}",
        flush=True,
    )


def bench(
    db: str,
    url: str,
    n: int,
    samples: int,
    push: int,
    folder: Path,
    push_servers: tuple[str, ...] = ("rolebridge", "scim2-server"),
    servers: tuple[str, ...] = ("rolebridge", "scim2-server"),
) -> None:
    """One database and org size: load, serve both, measure."""
    started = time.perf_counter()
    token, push_token = load_rolebridge(url, n)
    print(f"# db={db} members={n} loaded in {time.perf_counter() - started:.1f} s", flush=True)
    print(f"# {time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime())} UTC, {load()}", flush=True)
    port, other_port = free_port(), free_port()
    other_token = secrets.token_urlsafe(16)
    command = [sys.executable, __file__, "--serve-scim2-server", str(other_port)]
    # ``--token=``: a token may start with "-", which argparse would read as an option
    command += [f"--token={other_token}", "--members", str(n)]
    server = start_rolebridge(url, folder, port)
    other = subprocess.Popen(command)
    try:
        wait(port, "/scim/v2/ServiceProviderConfig")
        wait(other_port, "/v2/ServiceProviderConfig")
        for name, client in (
            ("rolebridge", Client(port, token, "/scim/v2")),
            ("scim2-server", Client(other_port, other_token, "/v2")),
        ):
            if name not in servers:
                continue
            lookup_create(client, EMAIL.format(f"warm-{name}"))  # warm-up
            if samples:
                for op, times in writes(client, n, samples, db).items():
                    line(n, db, name, op, times)
        if push:
            # rolebridge's push org is empty: its users join ``Staff``, which the mapping
            # maps, so each one is invited; scim2-server holds a ``Staff`` already
            for name, p, t, prefix, group in (
                ("rolebridge", port, push_token, "/scim/v2", "Staff"),
                ("scim2-server", other_port, other_token, "/v2", f"Staff-{db}"),
            ):
                if name not in push_servers:
                    continue
                wall, times, cpu = first_push(p, t, prefix, push, group, db)
                extra = f" users_per_s={push / wall:.1f} cpu_ms_per_user={cpu * 1000 / push:.1f}"
                line(push, db, name, "first_push", times, extra)
    finally:
        stop(server)
        stop(other)
        print(f"# {time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime())} UTC, {load()}", flush=True)


def load() -> str:
    """The machine's load average (1, 5, 15 min): figures are compared within one run."""
    with open("/proc/loadavg") as f:
        return "load average " + " ".join(f.read().split()[:3])


def main() -> None:
    """Every database and size in turn."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--members", type=int, nargs="+", default=[1000, 10_000, 100_000])
    parser.add_argument("--db", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--postgres-url", help="an empty PostgreSQL database, emptied per size")
    parser.add_argument("--samples", type=int, default=200, help="0: the first push only")
    parser.add_argument("--push", type=int, default=10_000, help="users of the first push")
    for option, help_text in (
        ("--servers", "whose writes to measure (scim2-server's group PATCH at 100k takes 7 s)"),
        ("--push-servers", "whose first push to measure (scim2-server's slows with its square)"),
    ):
        parser.add_argument(option, nargs="+", choices=SERVERS, default=SERVERS, help=help_text)
    parser.add_argument("--serve-scim2-server", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--token", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_scim2_server:
        serve_scim2_server(args.serve_scim2_server, args.members[0], args.token)
        return
    for db in args.db:
        for index, n in enumerate(args.members):
            with tempfile.TemporaryDirectory(prefix="rolebridge-bench-") as folder:
                url = database_url(db, Path(folder), args.postgres_url)
                push = args.push if index == 0 else 0
                servers = tuple(args.push_servers)
                bench(db, url, n, args.samples, push, Path(folder), servers, tuple(args.servers))


def database_url(db: str, folder: Path, postgres_url: str | None) -> str:
    """A new SQLite file in ``folder``, or the PostgreSQL database emptied."""
    if db == "sqlite":
        return f"sqlite:///{folder / 'bench.sqlite3'}"
    if not postgres_url:
        raise SystemExit("--postgres-url is needed for --db postgresql")
    _empty(postgres_url)
    return postgres_url


def _empty(url: str) -> None:
    """Drop every table of the PostgreSQL database (a fresh schema per size)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()


if __name__ == "__main__":
    main()
