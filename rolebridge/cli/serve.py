"""``rolebridge serve``: the web process (SCIM, admin API, admin pages) under gunicorn."""

from __future__ import annotations

import os

import click

from rolebridge.cli.common import settings
from sync.settings import record_served_url

__all__ = ["serve_command"]


def _listening_url(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in ("", "0.0.0.0", "::") else host
    return f"http://[{shown}]:{port}" if ":" in shown else f"http://{shown}:{port}"


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@click.option("--workers", default=2, show_default=True, type=int, help="gunicorn workers.")
@click.option("--threads", default=4, show_default=True, type=int, help="Threads per worker.")
def serve_command(host: str, port: int, workers: int, threads: int) -> None:
    """Serve rolebridge (SCIM at /scim/v2) with gunicorn. Without ROLEBRIDGE_BASE_URL, invite
    links point at the address and port served here (recorded in the instance folder, so
    the outbox worker's links do too)."""
    from scim_server.wsgi import serve  # the web app loads only for the command that runs it

    if not os.environ.get("ROLEBRIDGE_BASE_URL"):
        url = _listening_url(host, port)
        record_served_url(settings().instance_path, url)
        os.environ["ROLEBRIDGE_BASE_URL"] = url  # the workers read their settings after fork
    serve(host, port, workers=workers, threads=threads)
