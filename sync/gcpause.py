"""Pausing Python's cyclic garbage collector for a whole process entry point.

Planning, applying or mirroring 100,000 users allocates millions of small acyclic
objects next to a directory of millions more; every full collection walks all of them
(about a quarter of the time of a 100k-user plan). Reference counting still frees
everything while the collector rests.

The collector is process-wide state, so the pause belongs to whoever owns the process's
work: a CLI command, a scheduler job, a benchmark. Never the core, never a web request:
web workers serve on several threads, and toggles from request threads race. Scheduler
jobs do run on several threads too, so the pause is counted under a lock: the first to
enter switches the collector off, the last to leave switches it back on (if it was on).

A web worker never pauses it: it settles the collector once, when its app is built
(``settle_for_serving``), so that the objects a big org's request holds are not walked
again and again while the request runs.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["SERVING_YOUNG_THRESHOLD", "cyclic_gc_paused", "settle_for_serving"]

# Objects a request allocates die by reference counting when it ends; at the default 700
# the youngest generation was collected about 180 times, and the whole heap more than once,
# during one SCIM write's reconcile of a 5,000-user org (2x its CPU time).
SERVING_YOUNG_THRESHOLD = 50_000

_lock = threading.Lock()
_holders = 0
_resume = False  # whether the collector was on when the first holder paused it


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for the block (usable as a decorator too)."""
    global _holders, _resume
    with _lock:
        if _holders == 0:
            _resume = gc.isenabled()
            gc.disable()
        _holders += 1
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0 and _resume:
                gc.enable()


def settle_for_serving() -> None:
    """Settle a web worker's collector once: start-up objects frozen, young ones rarer."""
    gc.freeze()
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(SERVING_YOUNG_THRESHOLD, middle, oldest)
