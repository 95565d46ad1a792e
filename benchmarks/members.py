"""Page through the admin API's members list as a workspace-scoped annotation key.

    python benchmarks/members.py [--members 20000] [--workspaces 200] [--limit 50]
                                 [--pg postgresql+psycopg://...]

One annotation org (visibility per workspace) of N members, each a ``member`` in one of
W workspaces (so a key scoped to one workspace sees about N/W of them, scattered through
the email order). Figures: the first page's time and the whole walk's, for that scoped
key and for an org-wide admin key (which sees everyone in a workspace), through the
Flask test client (no HTTP socket), best of 3.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parents[1]))  # PYTHONPATH may name another tree

from flask.testing import FlaskClient
from sqlalchemy import insert, select

from scim_server.app import create_app
from sync.credentials.apikeys import create_api_key
from sync.db import make_engine, make_session_factory, upgrade
from sync.models import Member, Organisation, Workspace, WorkspaceRole
from sync.settings import Settings


def _seed(url: str, members: int, workspaces: int) -> tuple[str, str]:
    """The org, and a key scoped to workspace w0 (annotation manager) and an admin key."""
    engine = make_engine(url)
    upgrade(engine)
    factory = make_session_factory(engine)
    with factory.begin() as s:
        org = Organisation(name="bench", role_model="annotation", plan="enterprise")
        s.add(org)
        s.flush()
        s.execute(
            insert(Workspace),
            [{"org_id": org.id, "name": f"w{i}", "credits": 0} for i in range(workspaces)],
        )
        s.execute(
            insert(Member),
            [
                {"org_id": org.id, "email": f"user{i:07d}@bench.example", "org_role": "member",
                 "status": "joined", "origin": "idp"}
                for i in range(members)
            ],
        )  # fmt: skip
        ws_ids = {n: i for i, n in s.execute(select(Workspace.id, Workspace.name))}
        ids = sorted(s.scalars(select(Member.id).where(Member.org_id == org.id)))
        s.execute(
            insert(WorkspaceRole),
            [
                {"member_id": m, "workspace_id": ws_ids[f"w{(k * 7919) % workspaces}"],
                 "role": "member"}
                for k, m in enumerate(ids)
            ],
        )  # fmt: skip
        roles = ["member", "admin"]
        scoped = create_api_key(s, org.id, "member", roles, "scoped", {"w0": "annotation_manager"})
        admin = create_api_key(s, org.id, "admin", roles, "admin")
    engine.dispose()
    return scoped[1], admin[1]


def _walk(client: FlaskClient, key: str, limit: int) -> tuple[float, float, int, int]:
    """(first page seconds, whole walk seconds, pages, members)."""
    headers = {"Authorization": f"Bearer {key}"}
    start = time.perf_counter()
    first = 0.0
    pages = seen = 0
    cursor = ""
    while True:
        r = client.get(f"/api/v1/orgs/bench/members?limit={limit}{cursor}", headers=headers)
        assert r.status_code == 200, r.json
        assert r.json is not None
        pages += 1
        seen += len(r.json["members"])
        if pages == 1:
            first = time.perf_counter() - start
        if r.json["next_cursor"] is None:
            return first, time.perf_counter() - start, pages, seen
        cursor = f"&cursor={r.json['next_cursor']}"


def main() -> None:
    """Seed, then walk the list as each key, best of 3."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=20_000)
    parser.add_argument("--workspaces", type=int, default=200)
    parser.add_argument("--limit", type=int, default=50)
    parser.add_argument("--pg", default=None)
    args = parser.parse_args()
    logging.disable(logging.INFO)
    with tempfile.TemporaryDirectory() as tmp:
        url = args.pg or f"sqlite:///{tmp}/bench.sqlite3"
        scoped, admin = _seed(url, args.members, args.workspaces)
        settings = Settings(
            database_url=url,
            instance_path=Path(tmp),
            secret_key="bench",
            rate_limit_api="1000000/minute",
        )
        client = create_app(settings).test_client()
        for name, key in (("scoped to w0", scoped), ("org-wide admin", admin)):
            runs = [_walk(client, key, args.limit) for _ in range(3)]
            first = min(r[0] for r in runs)
            whole = min(r[1] for r in runs)
            _, _, pages, seen = runs[0]
            print(
                f"key={name!r} members={args.members} workspaces={args.workspaces} "
                f"limit={args.limit} seen={seen} pages={pages} "
                f"first_page_ms={first * 1000:.1f} walk_s={whole:.2f}"
            )


if __name__ == "__main__":
    main()
