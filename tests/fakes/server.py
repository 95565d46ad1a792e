"""A Flask app on ``127.0.0.1:0`` in a thread, and the switchable faults the fakes share.

Faults answer a page with an error; quirks answer it wrongly with a 200, as real list
APIs sometimes do; triggers change a fake's directory while a listing is being read; a
catcher stands for a foreign host and records what reached it.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Response, jsonify
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server


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


class QuietHandler(WSGIRequestHandler):
    """A request handler that writes no access log line: an OpenID provider's and its
    client's URLs carry one-time codes and states, which are not to reach a log."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Log nothing."""


class LoopbackServer:
    """Runs ``app`` on an ephemeral loopback port until ``close``."""

    def __init__(self, app: Flask, quiet: bool = False) -> None:
        handler = QuietHandler if quiet else None  # quiet: no access log (codes in URLs)
        self._server: BaseWSGIServer = make_server(
            "127.0.0.1", 0, app, threaded=True, request_handler=handler
        )
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


@dataclass
class Quirk:
    """A way real list APIs misbehave, switched on for page ``page`` of listings under ``path``.

    ``mode`` is one of:

    - ``cut``: the page holds only its first ``keep`` items and no next link, with no error;
    - ``repeat``: the page serves the first page's items again, then links on as usual;
    - ``offsite``: the page's next link names the origin ``to`` (same path and query);
    - ``endless``: the page is empty and links to a new URL every time (never ends);
    - ``trickle``: the page's body is sent one byte every ``delay`` seconds;
    - ``overlap``: (SCIM) the page starts ``overlap`` items early, as an unstable sort does.
    """

    path: str
    mode: str
    page: int = 2
    keep: int = 0
    to: str = ""
    delay: float = 0.0
    overlap: int = 1
    fired: int = 0


class QuirkBook:
    """The quirks switched on for a fake, checked by each listing view."""

    MODES = frozenset({"cut", "repeat", "offsite", "endless", "trickle", "overlap"})

    def __init__(self) -> None:
        self.quirks: list[Quirk] = []
        self._lock = threading.Lock()

    def add(self, quirk: Quirk) -> Quirk:
        """Switch a quirk on."""
        if quirk.mode not in self.MODES:
            raise ValueError(f"unknown quirk mode {quirk.mode!r}")
        with self._lock:
            self.quirks.append(quirk)
        return quirk

    def take(self, path: str, page: int) -> Quirk | None:
        """The quirk for this page of this listing, if any (and count it)."""
        with self._lock:
            for quirk in self.quirks:
                if quirk.path == path and quirk.page == page:
                    quirk.fired += 1
                    return quirk
        return None


class Triggers:
    """Changes to make to a fake's state while a listing is being read (mid-pagination)."""

    def __init__(self) -> None:
        self._pending: list[tuple[str, int, Callable[[], None]]] = []
        self._seen: dict[str, int] = {}
        self._lock = threading.Lock()

    def add(self, path: str, action: Callable[[], None], request: int = 1) -> None:
        """Run ``action`` once, before the ``request``-th request for ``path`` from now on."""
        with self._lock:
            self._pending.append((path, self._seen.get(path, 0) + request, action))

    def fire(self, path: str) -> None:
        """Count a request for ``path`` and run (and forget) the actions due now."""
        with self._lock:
            n = self._seen[path] = self._seen.get(path, 0) + 1
            due = [a for p, r, a in self._pending if p == path and r == n]
            self._pending = [(p, r, a) for p, r, a in self._pending if p != path or r != n]
        for action in due:
            action()


def trickle(response: Response, delay: float) -> Response:
    """The same answer, its body sent one byte every ``delay`` seconds (length announced)."""
    body = response.get_data()

    def drip() -> Iterator[bytes]:
        for i in range(len(body)):
            time.sleep(delay)
            yield body[i : i + 1]

    slow = Response(drip(), status=response.status_code, content_type=response.content_type)
    for key, value in response.headers.items():
        if key.lower() not in ("content-type", "content-length"):
            slow.headers[key] = value
    slow.headers["Content-Length"] = str(len(body))
    return slow


class Catcher:
    """A loopback listener that records every connection and the bytes sent to it.

    It stands for a host a hostile next link names: a test asserts that nothing (and no
    ``Authorization`` header) ever reached it. It answers plain HTTP with an empty list.
    """

    def __init__(self) -> None:
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self.port = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.connections = 0
        self.received = b""
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def saw_authorization(self) -> bool:
        """True if any request carried an Authorization header."""
        return b"authorization:" in self.received.lower()

    def close(self) -> None:
        """Stop listening."""
        with contextlib.suppress(OSError):
            self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(2)
            with contextlib.suppress(OSError):
                data = conn.recv(65536)
                with self._lock:
                    self.received += data
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Content-Length: 2\r\nConnection: close\r\n\r\n[]"
                )


class Staller:
    """A loopback listener that accepts connections and never answers: a server that hangs.

    A client's timeout is what ends each request; ``close`` drops the held connections."""

    def __init__(self) -> None:
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        """Stop listening and drop what is held."""
        for conn in [self._listener, *self._held]:
            with contextlib.suppress(OSError):
                conn.close()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self._held.append(conn)


def closed_port_url() -> str:
    """The URL of a loopback port nothing listens on (connections are refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"
