"""Running the app under gunicorn: ``rolebridge serve`` and ``gunicorn 'scim_server.wsgi:app()'``.

Each worker builds its own app (and engine) after the fork, so no connection is
shared between processes.
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

from scim_server.app import create_app

__all__ = ["app", "serve"]


def app() -> Flask:
    """A fresh app from the environment's settings."""
    return create_app()


class _Server(BaseApplication):  # type: ignore[misc]
    def __init__(self, options: dict[str, Any]) -> None:
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            if key in self.cfg.settings:  # settings newer than the installed gunicorn are skipped
                self.cfg.set(key, value)

    def load(self) -> Flask:
        return create_app()


def serve(host: str, port: int, *, workers: int = 2, threads: int = 4) -> None:
    """Run gunicorn on ``host:port`` until interrupted."""
    from scim_server.gunicorn_conf import child_exit, post_worker_init, prepare_metrics_dir

    prepare_metrics_dir()
    _Server(
        {
            "bind": f"{host}:{port}",
            "workers": workers,
            "threads": threads,
            "worker_class": "gthread" if threads > 1 else "sync",
            "accesslog": None,
            "preload_app": False,
            "child_exit": child_exit,
            "post_worker_init": post_worker_init,
            "control_socket_disable": True,  # one per user and host otherwise (gunicorn 25+)
        }
    ).run()
