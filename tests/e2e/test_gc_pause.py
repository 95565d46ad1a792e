"""Web workers serve requests on several threads: no request may switch the process's
cyclic garbage collector off (one interleaving of two threads would leave it off)."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy.orm import Session, sessionmaker

from tests.e2e.conftest import group, user
from tests.e2e.test_scim_reconcile import AIHUB, org_with_mapping

THREADS = 4
WRITES_PER_THREAD = 10


@pytest.fixture
def busy_switching() -> Iterator[None]:
    """Threads switch as often as the interpreter allows, so interleavings are many."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(before)


@pytest.mark.usefixtures("busy_switching")
def test_concurrent_scim_writes_leave_the_garbage_collector_on(
    app: Flask, session_factory: sessionmaker[Session]
) -> None:
    """SCIM writes on four threads, each reconciling its user: gc is never seen off while
    they run, and is on after."""
    scim = org_with_mapping(app, session_factory, "aihub", AIHUB.format(apply="auto"))
    created = scim.post("/Groups", group("AI Users"))
    assert created.status_code == 201, created.get_data(as_text=True)
    group_id = created.get_json()["id"]
    assert gc.isenabled()

    def writes(thread: int) -> list[int]:
        client = type(scim)(app.test_client(), scim.token)
        statuses: list[int] = []
        for n in range(WRITES_PER_THREAD):
            made = client.post("/Users", user(f"t{thread}-{n}@example.com"))
            statuses.append(made.status_code)
            add = {"op": "add", "path": "members", "value": [{"value": made.get_json()["id"]}]}
            body = {"schemas": [PATCH], "Operations": [add]}
            statuses.append(client.patch(f"/Groups/{group_id}", body).status_code)
        return statuses

    seen_off: list[float] = []
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            if not gc.isenabled():
                seen_off.append(time.monotonic())
            time.sleep(0.0002)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        with ThreadPoolExecutor(THREADS) as pool:
            results = list(pool.map(writes, range(THREADS)))
    finally:
        done.set()
        watcher.join()

    assert {s for statuses in results for s in statuses} <= {200, 201, 204}
    assert seen_off == []
    assert gc.isenabled()


def test_a_gunicorn_worker_settles_its_collector_once_its_app_is_built(tmp_path: Path) -> None:
    """gunicorn's worker hook (``rolebridge serve`` and the documented config both use it)
    freezes start-up objects, raises the youngest generation's threshold, leaves gc on."""
    probe = (
        "import gc; from scim_server.gunicorn_conf import post_worker_init; "
        "post_worker_init(None); "
        "print(gc.isenabled(), gc.get_freeze_count() > 0, gc.get_threshold()[0])"
    )
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env=env,
    )
    assert out.stdout.split() == ["True", "True", "50000"]


PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
