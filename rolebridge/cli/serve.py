"""``rolebridge serve``: the web process (SCIM, admin API, admin pages) under gunicorn."""

from __future__ import annotations

import click

__all__ = ["serve_command"]


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@click.option("--workers", default=2, show_default=True, type=int, help="gunicorn workers.")
@click.option("--threads", default=4, show_default=True, type=int, help="Threads per worker.")
def serve_command(host: str, port: int, workers: int, threads: int) -> None:
    """Serve rolebridge (SCIM at /scim/v2) with gunicorn."""
    from scim_server.wsgi import serve  # the web app loads only for the command that runs it

    serve(host, port, workers=workers, threads=threads)
