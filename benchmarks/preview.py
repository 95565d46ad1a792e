"""Time the preview of a draft mapping over a 10k-user org (target: under 1 s server time).

    python benchmarks/preview.py [--users 10000] [--runs 5] [--pg postgresql+psycopg://...]

The org (role model shareofmodel) has N directory users: 5 owners, 20% analysts and the
rest guests spread over 20 workspace groups ``ws-brand-K-viewer``; 95% of them are
already members as the saved mapping wants them, and 5% of the members are people the
directory no longer has. The draft makes analysts viewers instead of editors and adds a
rule. Timed: ``POST /api/v1/orgs/<org>/preview`` (JSON plan + text rendering) and the
admin editor's ``POST /admin/mapping/preview`` (HTML diff table), each through the app
in-process, so the figure is server time without the network. Nothing is written.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flask.testing import FlaskClient
from sqlalchemy import Engine, insert, text

from mappings.directory import Directory, DirectoryGroup, DirectoryUser, GroupMember
from scim_server.app import create_app
from sync import mirror
from sync.credentials.apikeys import create_api_key
from sync.db import make_engine, make_session_factory, upgrade
from sync.gcpause import settle_for_serving
from sync.models import Base, Member, Workspace, WorkspaceRole
from sync.settings import Settings
from sync.store.mappings import save_mapping
from sync.store.orgs import create_org

WORKSPACES = 20
SAVED = """\
role_model: shareofmodel
rules:
  - group: "SOM Owners"
    org_role: owner
  - group: "SOM Analysts"
    org_role: editor
  - match: '^ws-(?P<workspace>[a-z0-9-]+)-(?P<role>viewer|editor)$'
    org_role: guest
    workspace: "{workspace}"
    workspace_role: "{role}"
policy:
  unmapped: remove
  max_removals: "10%"
"""
DRAFT = SAVED.replace("org_role: editor", "org_role: viewer").replace(
    "policy:", '  - group: "SOM Contractors"\n    org_role: guest\npolicy:'
)


def _email(i: int) -> str:
    return f"person{i}@bench.example"


def _role(i: int, users: int) -> tuple[str, str | None]:
    """Who person i is: (org role, workspace or None) under the saved mapping."""
    if i < 5:
        return "owner", None
    if i < users // 5:
        return "editor", None
    return "guest", f"brand-{i % WORKSPACES}"


def _directory(users: int) -> Directory:
    people = tuple(DirectoryUser(f"u{i:06}", _email(i), (_email(i),)) for i in range(users))
    members: dict[str, list[GroupMember]] = {}
    for i in range(users):
        role, ws = _role(i, users)
        name = {"owner": "SOM Owners", "editor": "SOM Analysts"}.get(role, f"ws-{ws}-viewer")
        members.setdefault(name, []).append(GroupMember(f"u{i:06}", "User"))
    groups = tuple(
        DirectoryGroup(f"g{n}", name, members=tuple(m))
        for n, (name, m) in enumerate(members.items())
    )
    return Directory(users=people, groups=groups)


def _seed(engine: Engine, users: int) -> tuple[str, int]:
    """The org, its directory, its members and an owner key; returns (key, org id)."""
    factory = make_session_factory(engine)
    with factory.begin() as s:
        org = create_org(s, "Bench", "shareofmodel", plan="enterprise", credits=None)
        save_mapping(s, org.id, SAVED)
        source = mirror.ensure_source(s, org.id, "okta", "okta")
        mirror.replace_snapshot(s, org.id, source.id, _directory(users))
        ws_ids = {}
        for k in range(WORKSPACES):
            ws = Workspace(org_id=org.id, name=f"brand-{k}", credits=0)
            s.add(ws)
            s.flush()
            ws_ids[ws.name] = ws.id
        kept = [i for i in range(users) if i % 20 != 7]  # 5% not yet members: invites
        gone = range(users, users + len(kept) // 20)  # 5% of members left the IdP: removals
        rows = [(i, *_role(i, users)) for i in kept] + [(i, "guest", "brand-0") for i in gone]
        s.execute(
            insert(Member),
            [
                {
                    "org_id": org.id,
                    "email": _email(i),
                    "org_role": r,
                    "status": "joined",
                    "origin": "idp",
                    "idp_id": f"u{i:06}",
                }
                for i, r, _ in rows
            ],
        )
        ids = dict(s.execute(text("SELECT email, id FROM members")).all())
        s.execute(
            insert(WorkspaceRole),
            [
                {"member_id": ids[_email(i)], "workspace_id": ws_ids[ws], "role": "viewer"}
                for i, _, ws in rows
                if ws is not None
            ],
        )
        _, key = create_api_key(s, org.id, "owner", ["owner"], name="bench")
        return key, org.id


def _timed(label: str, runs: int, call: Callable[[], object]) -> None:
    """Wall time and this process's CPU time (the server's share on a busy machine)."""
    walls, cpus = [], []
    for _ in range(runs):
        t0, c0 = time.perf_counter(), time.process_time()
        call()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    print(
        f"  {label:<32} wall median {statistics.median(walls):5.2f} s"
        f" (min {min(walls):4.2f})  cpu median {statistics.median(cpus):5.2f} s"
    )


def _csrf(client: FlaskClient, key: str) -> str:
    page = client.get("/admin/sign-in").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token
    client.post("/admin/sign-in", data={"api_key": key, "csrf_token": token.group(1)})
    editor = client.get("/admin/mapping").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', editor)
    assert token
    return token.group(1)


def run(url: str, name: str, users: int, runs: int, instance: Path) -> None:
    """Seed one database and time both previews."""
    engine = make_engine(url)
    Base.metadata.drop_all(engine)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    upgrade(engine)
    key, _ = _seed(engine, users)
    app = create_app(Settings(database_url=url, instance_path=instance, secret_key="bench"))
    settle_for_serving()  # as each gunicorn worker does once its app is built
    client = app.test_client()
    auth = {"Authorization": f"Bearer {key}"}
    first = client.post("/api/v1/orgs/Bench/preview", headers=auth, json={"document": DRAFT})
    assert first.status_code == 200, first.get_data(as_text=True)
    summary = first.json["plan"]["summary"] if first.json else {}
    print(f"{name}, {users} users, load average {os.getloadavg()[0]:.1f}; plans {summary}:")
    _timed(
        "API preview (JSON + text)",
        runs,
        lambda: client.post("/api/v1/orgs/Bench/preview", headers=auth, json={"document": DRAFT}),
    )
    csrf = _csrf(client, key)
    _timed(
        "admin live preview (HTML table)",
        runs,
        lambda: client.post(
            "/admin/mapping/preview", json={"document": DRAFT}, headers={"X-CSRFToken": csrf}
        ),
    )
    engine.dispose()


def main() -> None:
    """Parse arguments and run on SQLite, then PostgreSQL when a URL is given."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--pg", default=os.environ.get("BENCH_DATABASE_URL"), help="PostgreSQL URL")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run(
            f"sqlite:///{Path(tmp) / 'bench.sqlite3'}",
            "SQLite file",
            args.users,
            args.runs,
            Path(tmp),
        )
        if args.pg:
            run(args.pg, "PostgreSQL", args.users, args.runs, Path(tmp))
        else:
            print("PostgreSQL: skipped (give --pg URL or BENCH_DATABASE_URL)")


if __name__ == "__main__":
    main()
