"""A loopback TCP proxy in a thread, to cut a database connection off and bring it back.

``TcpProxy(host, port)`` listens on ``127.0.0.1:<free port>`` and forwards each
connection to ``host:port``. ``down()`` closes the listener and every open connection
(clients then see a dead database: refused connects, broken sockets); ``up()`` listens
again on the same port. With ``blackhole`` set, new connections are accepted and then
never answered, like a server that hangs. ``freeze()`` goes further: established
connections stop carrying bytes either way (the sockets stay open, so the client sees
silence, not an error) until ``thaw()``. The real database is never touched.
"""

from __future__ import annotations

import contextlib
import socket
import threading

__all__ = ["TcpProxy"]


class TcpProxy:
    """Forwards ``127.0.0.1:self.port`` to ``target``; can be taken down and up again."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = 0
        self._listener: socket.socket | None = None
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        self.blackhole = False  # accept connections but forward nothing (a hung server)
        self._flowing = threading.Event()
        self._flowing.set()

    def freeze(self) -> None:
        """Hang: open connections carry nothing more and new ones are never answered."""
        self.blackhole = True
        self._flowing.clear()

    def thaw(self) -> None:
        """Carry bytes again (what was held back is delivered) and answer new connections."""
        self.blackhole = False
        self._flowing.set()

    def up(self) -> None:
        """Listen (again, on the same port once one was chosen) and forward connections."""
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def down(self) -> None:
        """Stop listening and cut every forwarded connection (a frozen one too)."""
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        with self._lock:
            open_sockets, self._sockets = self._sockets, set()
        for sock in open_sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        self._flowing.set()  # the next up() forwards again

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            if self.blackhole:
                with self._lock:
                    self._sockets.add(client)
                continue
            try:
                server = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            with self._lock:
                self._sockets.update((client, server))
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                while not self._flowing.wait(0.2):
                    if sink.fileno() == -1:  # cut by down() while frozen
                        return
                sink.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                sink.shutdown(socket.SHUT_WR)
