"""A webhook receiver on a loopback port: it verifies every delivery's Standard Webhooks
signature with the ``standardwebhooks`` library, processes each event id once (a
repeat is acknowledged and dropped, as the specification asks of a receiver), and can be
told to fail, hang past the sender's timeout, answer slowly or answer 410 Gone.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Response, request
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tests.fakes.server import LoopbackServer

__all__ = ["Receiver", "Trouble"]


@dataclass
class Trouble:
    """How the receiver answers the next delivery: ``status`` (500, 429, 410...) or,
    with ``delay``, a wait before the answer (past the sender's timeout: a hang)."""

    status: int = 200
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


class Receiver:
    """The loopback endpoint; ``processed`` lists event ids in the order first accepted."""

    def __init__(self, secret: str = "") -> None:
        self.secret = secret
        self.processed: list[str] = []
        self.bodies: dict[str, dict[str, Any]] = {}
        self.attempts: list[str] = []  # every delivery, repeats included
        self.bad_signatures = 0
        self.troubles: deque[Trouble] = deque()
        self.in_flight = 0
        self.most_in_flight = 0
        self.concurrent_same_id = 0
        self._flying: set[str] = set()
        self._lock = threading.Lock()
        app = Flask("webhook-receiver")
        app.add_url_rule("/hook", "hook", self._hook, methods=["POST"])
        self._server = LoopbackServer(app)
        self.url = f"{self._server.url}/hook"

    def trouble(self, *troubles: Trouble) -> None:
        """Answer the next deliveries so, one each, in order."""
        with self._lock:
            self.troubles.extend(troubles)

    def _hook(self) -> Response:
        body = request.get_data()
        message_id = request.headers.get("webhook-id", "")
        with self._lock:
            self.attempts.append(message_id)
            if message_id in self._flying:
                self.concurrent_same_id += 1
            self._flying.add(message_id)
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
            trouble = self.troubles.popleft() if self.troubles else Trouble()
        try:
            if trouble.delay:
                time.sleep(trouble.delay)
            try:
                Webhook(self.secret).verify(body, dict(request.headers))
            except WebhookVerificationError:
                with self._lock:
                    self.bad_signatures += 1
                return Response("bad signature", 400)
            if trouble.status != 200:
                return Response("trouble", trouble.status, headers=trouble.headers)
            with self._lock:
                if message_id not in self.bodies:
                    self.processed.append(message_id)
                    self.bodies[message_id] = json.loads(body)
            return Response("", 204)
        finally:
            with self._lock:
                self.in_flight -= 1
                self._flying.discard(message_id)

    def close(self) -> None:
        """Stop serving."""
        self._server.close()
