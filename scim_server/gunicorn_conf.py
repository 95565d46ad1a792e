"""gunicorn settings for rolebridge's web process.

    gunicorn -c python:scim_server.gunicorn_conf 'scim_server:create_app()'

``ROLEBRIDGE_BIND`` (default ``0.0.0.0:8000``), ``ROLEBRIDGE_WEB_WORKERS`` (default 4) and
``ROLEBRIDGE_WEB_THREADS`` (default 4) size it. Each worker builds its own app and
engine after the fork (no preloading), so no database connection crosses processes.

Metrics: with several workers prometheus-client runs in multiprocess mode. Its directory
is ``PROMETHEUS_MULTIPROC_DIR`` if set, else a fresh temporary one; it is emptied when
gunicorn starts, and a worker that exits is marked dead so its live gauges are dropped.

Garbage collector: each worker settles it once when its app is built
(``sync.gcpause.settle_for_serving``); requests never switch it off.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["child_exit", "post_worker_init", "prepare_metrics_dir"]


def prepare_metrics_dir() -> Path:
    """Set ``PROMETHEUS_MULTIPROC_DIR`` (before any worker imports prometheus-client), empty."""
    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    path = Path(given) if given else Path(tempfile.mkdtemp(prefix="rolebridge-metrics-"))
    if path.exists():
        for child in path.iterdir():
            if child.is_dir():
                shutil.rmtree(child)
            else:
                child.unlink()
    path.mkdir(parents=True, exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(path)
    return path


def child_exit(_server: Any, worker: Any) -> None:
    """gunicorn hook: forget the metrics of a worker that exited."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]


def post_worker_init(_worker: Any) -> None:
    """gunicorn hook: settle the worker's garbage collector once, its app built."""
    from sync.gcpause import settle_for_serving

    settle_for_serving()


prepare_metrics_dir()
bind = os.environ.get("ROLEBRIDGE_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("ROLEBRIDGE_WEB_WORKERS", "4"))
threads = int(os.environ.get("ROLEBRIDGE_WEB_THREADS", "4"))
worker_class = "gthread" if threads > 1 else "sync"
preload_app = False
accesslog = None  # rolebridge writes its own JSON access line per request
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# gunicorn 25+ opens a control socket at one path per user; two instances on one host
# would fight over it, and rolebridge needs none (SIGHUP reloads, SIGTERM stops)
control_socket_disable = True
