"""A loopback fake SCIM 2.0 service provider: ``/Users`` and ``/Groups`` ListResponses.

Misbehaviour on demand: faults (error answers), quirks (a page that overlaps the previous
one as an unstable sort does, a trickled body) and triggers (changes mid-listing).
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, jsonify, request

from tests.fakes.server import (
    Fault,
    FaultBook,
    LoopbackServer,
    Quirk,
    QuirkBook,
    Triggers,
    fault_response,
    trickle,
)

LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


class FakeScim:
    """Serves a SCIM directory document (``{"users": [...], "groups": [...]}``)."""

    def __init__(self, token: str = "scim-bearer") -> None:
        self.token = token
        self.resources: dict[str, list[dict[str, Any]]] = {"Users": [], "Groups": []}
        self.faults = FaultBook()
        self.quirks = QuirkBook()
        self.triggers = Triggers()
        self.max_count = 50  # a server may return fewer than asked
        self._server = LoopbackServer(self._app())
        self.url = f"{self._server.url}/scim/v2"

    def close(self) -> None:
        """Stop the server."""
        self._server.close()

    def load(self, directory: dict[str, Any]) -> None:
        """Serve these SCIM users and groups."""
        self.resources = {"Users": list(directory["users"]), "Groups": list(directory["groups"])}

    def add_fault(self, path: str, page: int = 1, status: int = 500, **kw: Any) -> Fault:
        """Switch on a fault for ``/scim/v2/Users`` or ``/scim/v2/Groups``."""
        return self.faults.add(Fault(path=path, page=page, status=status, **kw))

    def misbehave(self, path: str, mode: str, page: int = 2, **kw: Any) -> Quirk:
        """Switch on a quirk (see ``tests.fakes.server.Quirk``) for a listing path."""
        return self.quirks.add(Quirk(path=path, mode=mode, page=page, **kw))

    def when(self, path: str, action: Any, request: int = 1) -> None:
        """Run ``action()`` just before the ``request``-th request for ``path`` is answered."""
        self.triggers.add(path, action, request)

    def move(self, member: str, source: str, target: str) -> None:
        """Move a member from one group (by id) to another."""
        groups = {g["id"]: g for g in self.resources["Groups"]}
        groups[source]["members"] = [m for m in groups[source]["members"] if m["value"] != member]
        groups[target]["members"] = [*groups[target]["members"], {"value": member}]

    def _app(self) -> Flask:
        app = Flask("fake_scim")

        @app.get("/scim/v2/<resource>")
        def listing(resource: str) -> Response:
            if request.headers.get("Authorization") != f"Bearer {self.token}":
                return _error(401, "Authorization failure")
            if resource not in self.resources:
                return _error(404, f"no resource type {resource}")
            start = max(int(request.args.get("startIndex", 1)), 1)
            count = min(int(request.args.get("count", 100)), self.max_count)
            self.triggers.fire(request.path)
            page_no = (start - 1) // count + 1
            fault = self.faults.take(request.path, page_no)
            if fault is not None:
                return fault_response(fault)
            quirk = self.quirks.take(request.path, page_no)
            items = self.resources[resource]
            first = start - 1
            if quirk is not None and quirk.mode == "overlap":
                first = max(first - quirk.overlap, 0)
            page = items[first : first + count]
            response = jsonify(
                {
                    "schemas": [LIST],
                    "totalResults": len(items),
                    "startIndex": start,
                    "itemsPerPage": len(page),
                    "Resources": page,
                }
            )
            if quirk is not None and quirk.mode == "trickle":
                return trickle(response, quirk.delay)
            return response

        return app


def _error(status: int, detail: str) -> Response:
    response = jsonify({"schemas": [ERROR], "status": str(status), "detail": detail})
    response.status_code = status
    return response
