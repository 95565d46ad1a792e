"""Run rolebridge the way a user would and check its SCIM endpoint with two checkers.

A fresh SQLite database in a temporary folder; ``rolebridge db upgrade``, ``org
create``, ``token create``, ``serve`` on a free loopback port; then scim2-tester's
``check_server`` and ``scim-sanity probe`` over HTTP. Every result is printed; the
output ends with the two lines::

    scim2-tester: P passed, F failed
    scim-sanity: P passed, F failed

A failure listed in ``EXPLAINED`` is a checker asking for something the RFC does not
require: it is printed with the section, still counted as failed, and does not make
the exit code non-zero. Any other failure does.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

EXPLAINED = {
    "PATCH /Groups/{id} add member": (
        "scim-sanity adds the member id 'fake-member-id', which names no resource. rolebridge "
        "answers 400 invalidValue: RFC 7643 §4.2 defines members.value as the identifier of "
        "a member of the group, RFC 7644 §3.12 gives invalidValue for a value incompatible "
        "with the resource schema, and no section requires accepting a dangling reference. "
        "Refusing it keeps one org's group from naming ids it does not own."
    ),
    "PATCH /Groups/{id}": (
        "scim-sanity wants 200 with the group. RFC 7644 §3.5.2: the server either returns "
        "200 with the resource or MAY return 204 No Content; rolebridge answers a group "
        "PATCH 204 with its ETag unless `attributes` or `excludedAttributes` is asked (then "
        "200 with the group), as Okta's Group Push and Entra expect, so adding one member to "
        "a big group does not serialise all its members. The GET after it shows the change."
    ),
}
EXPLAINED["PATCH /Groups/{id} remove members"] = EXPLAINED["PATCH /Groups/{id}"]


def main() -> int:
    """Set up, serve, check, report."""
    with tempfile.TemporaryDirectory(prefix="rolebridge-compliance-") as folder:
        env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{Path(folder) / 'rolebridge.sqlite3'}",
            "ROLEBRIDGE_INSTANCE": folder,
        }
        cli = _cli()
        _run([*cli, "db", "upgrade"], env)
        _run([*cli, "org", "create", "compliance", "--role-model", "aihub"], env)
        token = _run([*cli, "token", "create", "--org", "compliance"], env).split()[-1]
        port = _free_port()
        serve = [*cli, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"]
        log = (Path(folder) / "serve.log").open("w")
        server = subprocess.Popen(serve, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            url = f"http://127.0.0.1:{port}/scim/v2"
            _wait(url + "/ServiceProviderConfig", Path(folder) / "serve.log")
            tester = _scim2_tester(url, token)
            sanity = _scim_sanity(url, token)
        finally:
            server.terminate()
            server.wait(timeout=30)
            log.close()
    print(f"scim2-tester: {tester[0]} passed, {tester[1]} failed")
    print(f"scim-sanity: {sanity[0]} passed, {sanity[1]} failed")
    return 0 if tester[2] == 0 and sanity[2] == 0 else 1


def _cli() -> list[str]:
    found = shutil.which("rolebridge", path=str(Path(sys.executable).parent))
    return [found] if found else [sys.executable, "-m", "sync"]


def _run(command: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"{' '.join(command[-3:])} failed: {done.stderr.strip()}")
    return done.stdout


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait(url: str, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    sys.exit(f"the server did not answer {url} within 30 s:\n{log.read_text()[-2000:]}")


def _scim2_tester(url: str, token: str) -> tuple[int, int, int]:
    """(passed, failed, unexplained failures) of scim2-tester's checks."""
    from httpx2 import Client
    from scim2_client.engines.httpx2 import SyncSCIMClient
    from scim2_tester import Status, check_server

    print(f"== scim2-tester against {url}")
    with Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as http:
        results = check_server(SyncSCIMClient(http))
    passed = failed = 0
    for result in results:
        if result.status == Status.SUCCESS:
            passed += 1
        elif result.status != Status.SKIPPED:
            failed += 1
        where = f" [{result.resource_type}]" if result.resource_type else ""
        reason = f": {result.reason}" if result.reason else ""
        print(f"  {result.status.name:<8} {result.title}{where}{reason}")
    return passed, failed, failed


def _scim_sanity(url: str, token: str) -> tuple[int, int, int]:
    """(passed, failed, unexplained failures) of ``scim-sanity probe``."""
    print(f"== scim-sanity probe {url}")
    executable = shutil.which("scim-sanity", path=str(Path(sys.executable).parent))
    command = [executable or "scim-sanity", "probe", url, "--token", token]
    done = subprocess.run(
        [*command, "--i-accept-side-effects"], capture_output=True, text=True, check=False
    )
    print(done.stdout.rstrip())
    summary = re.search(r"(\d+) passed, (\d+) failed", done.stdout)
    if summary is None:
        sys.exit(f"scim-sanity gave no summary: {done.stderr.strip()}")
    failures = re.findall(r"\[FAIL\] (.+)", done.stdout)
    unexplained = [name for name in failures if name.strip() not in EXPLAINED]
    for name in failures:
        if name.strip() in EXPLAINED:
            print(f"  explained: {name.strip()}: {EXPLAINED[name.strip()]}")
    return int(summary[1]), int(summary[2]), len(unexplained)


if __name__ == "__main__":
    sys.exit(main())
