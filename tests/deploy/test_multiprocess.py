"""Two gunicorn instances and two schedulers on one PostgreSQL database.

Org ``push`` is provisioned over SCIM, its writes spread over both web instances (each
write reconciles the users it touched, so both instances invite concurrently).
Org ``mirror`` pulls ``push``'s directory through the SCIM API (a ``scim-pull`` source
ticking every two seconds) and both scheduler processes compete for those ticks. After
the writes settle: the group lost no member added at either instance, each mirrored
user was invited exactly once, and every applied operation has exactly one audit entry.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sync.credentials.secrets import seal_secret
from sync.credentials.tokens import create_token
from sync.db import make_engine, make_session_factory, upgrade
from sync.models import AuditEntry, Member, Organisation, OutboxMessage, SavedPlan, Source, SyncRun
from sync.store.mappings import save_mapping
from sync.store.orgs import create_org
from tests.deploy.conftest import ROOT, Processes, free_port, wait_ready
from tests.secretscan import SCAN

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

USERS = 12
WAVES = 3
MAPPING = (ROOT / "examples" / "aihub" / "mapping.yaml").read_text()
SCIM_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
SCIM_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def _scim(base: str, token: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{base}/scim/v2{path}", data=data, method=method)
    request.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        request.add_header("Content-Type", "application/scim+json")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def _seed(url: str, secret_key: str, pull_from: str) -> tuple[str, int, int]:
    """Orgs ``push`` (SCIM token) and ``mirror`` (pulls push's SCIM API); the token, org ids."""
    engine = make_engine(url)
    upgrade(engine)
    factory = make_session_factory(engine)
    with factory.begin() as s:
        for name in ("push", "mirror"):
            org = create_org(s, name, "aihub")
            save_mapping(s, org.id, MAPPING, created_by="test")
        _, token = create_token(s, "push", "okta")
        ids = {name: id_ for name, id_ in s.execute(select(Organisation.name, Organisation.id))}
        s.add(
            Source(
                org_id=ids["mirror"],
                name="from-push",
                kind="scim-pull",
                config={"base_url": f"{pull_from}/scim/v2", "max_user_drop": "100%"},
                secret=seal_secret(token, secret_key),
                schedule="2s",
            )
        )
    engine.dispose()
    return token, ids["push"], ids["mirror"]


def _create_group(base: str, token: str) -> str:
    status, group = _scim(
        base, token, "POST", "/Groups", {"schemas": [SCIM_GROUP], "displayName": "AI Users"}
    )
    assert status == 201, group
    return str(group["id"])


def _provision(bases: list[str], token: str, group_id: str, numbers: range) -> None:
    """Users created at alternating instances, then added to the group concurrently."""
    ids = {}
    for n in numbers:
        email = f"user{n:02d}@push.example"
        body = {
            "schemas": [SCIM_USER],
            "userName": email,
            "emails": [{"value": email, "primary": True}],
        }
        status, created = _scim(bases[n % 2], token, "POST", "/Users", body)
        assert status == 201, created
        ids[n] = created["id"]

    def add(n: int) -> int:
        patch = {
            "schemas": [PATCH_OP],
            "Operations": [{"op": "add", "path": "members", "value": [{"value": ids[n]}]}],
        }
        return _scim(bases[n % 2], token, "PATCH", f"/Groups/{group_id}", patch)[0]

    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses = list(pool.map(add, numbers))
    assert all(s in (200, 204) for s in statuses), statuses


def _wait_for_members(session: Session, org_id: int, wanted: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    count = 0
    while time.monotonic() < deadline:
        session.rollback()
        count = session.scalar(select(func.count()).where(Member.org_id == org_id)) or 0
        if count >= wanted:
            return count
        time.sleep(0.5)
    return count


def test_two_web_instances_and_two_schedulers_share_one_database_safely(
    processes: Processes, fresh_database: str, tmp_path: Path
) -> None:
    """No lost membership update, no double invite, every applied change audited once."""
    ports = [free_port(), free_port()]
    bases = [f"http://127.0.0.1:{p}" for p in ports]
    token, push_id, mirror_id = _seed(
        fresh_database, processes.env["ROLEBRIDGE_SECRET_KEY"], bases[0]
    )
    SCAN.add_secret(token)
    for n, port in enumerate(ports):
        processes.env.update(
            ROLEBRIDGE_BIND=f"127.0.0.1:{port}",
            ROLEBRIDGE_WEB_WORKERS="2",
            PROMETHEUS_MULTIPROC_DIR=str(tmp_path / f"metrics{n}"),
        )
        processes.start(
            f"web{n}",
            "gunicorn",
            "-c",
            "python:scim_server.gunicorn_conf",
            "scim_server:create_app()",
        )
    for base in bases:
        wait_ready(base)
    for n in range(2):
        processes.start(f"scheduler{n}", "rolebridge", "scheduler", "--refresh", "1")

    group_id = _create_group(bases[0], token)
    engine = make_engine(fresh_database)
    try:
        with Session(engine) as session:
            for wave in range(WAVES):  # each wave is pulled and applied before the next
                numbers = range(wave * USERS // WAVES, (wave + 1) * USERS // WAVES)
                _provision(bases, token, group_id, numbers)
                status, group = _scim(bases[1 - wave % 2], token, "GET", f"/Groups/{group_id}")
                assert status == 200
                assert len(group["members"]) == numbers.stop, "a concurrent member add was lost"
                for org_id in (push_id, mirror_id):
                    count = _wait_for_members(session, org_id, numbers.stop, timeout=60)
                    assert count == numbers.stop, processes.dump()
            time.sleep(4)  # more ticks of both schedulers, to give a double invite its chance
            session.rollback()
            for org_id in (push_id, mirror_id):
                _check_invariants(session, org_id)
    finally:
        engine.dispose()


def _check_invariants(session: Session, mirror_id: int) -> None:
    members = session.scalars(select(Member.email).where(Member.org_id == mirror_id)).all()
    assert sorted(members) == [f"user{n:02d}@push.example" for n in range(USERS)]
    audit = session.execute(
        select(AuditEntry.op, AuditEntry.user, AuditEntry.workspace, AuditEntry.plan_id).where(
            AuditEntry.org_id == mirror_id
        )
    ).all()
    invites = Counter(user for op, user, _, _ in audit if op == "invite")
    assert invites == Counter({email: 1 for email in members}), "a user was invited twice"
    changes = Counter((op, user, workspace) for op, user, workspace, _ in audit)
    assert max(changes.values()) == 1, "one change was audited more than once"
    for plan in session.scalars(
        select(SavedPlan).where(SavedPlan.org_id == mirror_id, SavedPlan.status == "applied")
    ):
        logged = sum(1 for *_, plan_id in audit if plan_id == plan.id)
        assert logged == len(plan.body["operations"]), f"plan {plan.id} is not audited once"
    mails = Counter(
        session.scalars(
            select(OutboxMessage.recipient).where(OutboxMessage.org_id == mirror_id)
        ).all()
    )
    assert all(n == 1 for n in mails.values()), "an invite email was queued twice"
    pulls = session.scalars(select(SyncRun).where(SyncRun.source_id.is_not(None))).all()
    print(
        "pull runs by runner and outcome:",
        Counter((r.counts.get("runner"), r.outcome) for r in pulls),
    )
    assert not [r.error for r in pulls if r.error and "internal error" in r.error]
