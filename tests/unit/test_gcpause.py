"""The cyclic collector is process-wide state: paused only by process entry points, and
the pause holds while any thread of the process is inside it."""

from __future__ import annotations

import ast
import gc
import pathlib
import threading

from sync.gcpause import cyclic_gc_paused

ROOT = pathlib.Path(__file__).resolve().parents[2]
PACKAGES = ("mappings", "sync", "scim_server", "rolebridge")
ENTRY_POINTS = {  # modules that own a process's work: CLI commands and the scheduler's job
    "rolebridge/cli/mapping.py",
    "rolebridge/cli/plans.py",
    "rolebridge/cli/sources.py",
    "sync/scheduler.py",
}


def _imports(path: pathlib.Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


def _importers(*wanted: str) -> set[str]:
    return {
        p.relative_to(ROOT).as_posix()
        for package in PACKAGES
        for p in sorted((ROOT / package).rglob("*.py"))
        if _imports(p) & set(wanted)
    }


def test_only_the_pause_helper_touches_the_garbage_collector() -> None:
    """No module of the core, the shell or the edge imports gc, except the shell's helper."""
    assert _importers("gc") == {"sync/gcpause.py"}


def test_only_process_entry_points_pause_the_collector() -> None:
    """The pause is taken by CLI commands and the scheduler's job, never by the core or a
    module a web request runs through."""
    pausers = _importers("sync.gcpause.cyclic_gc_paused", "mappings.gcpause")
    assert pausers == ENTRY_POINTS


def test_only_the_web_worker_hook_settles_the_collector() -> None:
    """A web worker settles its collector once, in gunicorn's worker hook."""
    assert _importers("sync.gcpause.settle_for_serving") == {"scim_server/gunicorn_conf.py"}


def test_the_import_check_sees_a_gc_import(tmp_path: pathlib.Path) -> None:
    """The checker itself finds ``import gc`` and ``from gc import disable``."""
    (tmp_path / "a.py").write_text("import gc\nfrom gc import disable\n")
    assert {"gc", "gc.disable"} <= _imports(tmp_path / "a.py")


def test_the_pause_holds_until_the_last_thread_inside_it_leaves() -> None:
    """Thread A pauses, B pauses, A leaves: still paused for B; B leaves: collector on."""
    assert gc.isenabled()
    a_in, b_in, a_out, b_may_leave = (threading.Event() for _ in range(4))
    seen: dict[str, bool] = {}

    def a() -> None:
        with cyclic_gc_paused():
            a_in.set()
            b_in.wait(5)
        a_out.set()

    def b() -> None:
        a_in.wait(5)
        with cyclic_gc_paused():
            b_in.set()
            a_out.wait(5)
            seen["inside B after A left"] = gc.isenabled()
            b_may_leave.wait(5)

    threads = [threading.Thread(target=a), threading.Thread(target=b)]
    for t in threads:
        t.start()
    a_out.wait(5)
    b_may_leave.set()
    for t in threads:
        t.join(5)
    assert seen == {"inside B after A left": False}
    assert gc.isenabled()


def test_the_pause_leaves_a_collector_switched_off_elsewhere_off() -> None:
    """A collector that was off before the pause stays off after it."""
    gc.disable()
    try:
        with cyclic_gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
