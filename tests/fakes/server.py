"""A Flask app on ``127.0.0.1:0`` in a thread, and the switchable faults the fakes share."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Response, jsonify
from werkzeug.serving import BaseWSGIServer, make_server


@dataclass
class Fault:
    """Answer request number ``page`` of listings under ``path`` with ``status`` instead.

    ``page`` counts pages of one listing (1 = the first page). ``times`` is how many
    matching requests fail before the fault heals itself. ``status=0`` means "an empty page
    that still links to the real next page".
    """

    path: str
    page: int = 1
    status: int = 500
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    times: int = 1
    fired: int = 0


class FaultBook:
    """The faults switched on for a fake, checked by each listing view."""

    def __init__(self) -> None:
        self.faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> Fault:
        """Switch a fault on."""
        with self._lock:
            self.faults.append(fault)
        return fault

    def take(self, path: str, page: int) -> Fault | None:
        """The fault that fires for this page of this listing, if any (and count it)."""
        with self._lock:
            for fault in self.faults:
                if fault.fired < fault.times and path == fault.path and page == fault.page:
                    fault.fired += 1
                    return fault
        return None


def fault_response(fault: Fault) -> Response:
    """The HTTP answer of a fault (not the empty-page kind)."""
    if isinstance(fault.body, str):  # e.g. a gateway's HTML page
        response = Response(fault.body, status=fault.status, content_type="text/html")
        response.headers.update(fault.headers)
        return response
    body = fault.body if fault.body is not None else {"error": f"fault {fault.status}"}
    response = jsonify(body)
    response.status_code = fault.status
    response.headers.update(fault.headers)
    return response


class LoopbackServer:
    """Runs ``app`` on an ephemeral loopback port until ``close``."""

    def __init__(self, app: Flask) -> None:
        self._server: BaseWSGIServer = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        """Stop serving and wait for the thread."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
