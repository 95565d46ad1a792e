"""Any SCIM 2.0 server as a pull source (RFC 7644 section 3.4.2.4 paging).

``/Users`` and ``/Groups`` are read with ``startIndex``/``count`` and a bearer token until
``totalResults`` is reached. A short page before the end, or a total that changes while
paging, makes the snapshot unusable rather than silently smaller.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import requests

from mappings.directory import Directory
from mappings.errors import InputError
from sync.sources.base import (
    ConfigurationSourceError,
    HttpClient,
    Progress,
    RetryPolicy,
    Snapshot,
    SnapshotError,
)

__all__ = ["ScimPullConfig", "ScimPullSource"]

LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"


@dataclass(frozen=True, slots=True)
class ScimPullConfig:
    """The SCIM base URL (ending before ``/Users``) and its bearer token."""

    base_url: str
    token: str
    page_size: int = 100
    timeout: float = 30.0

    def __post_init__(self) -> None:
        if not self.base_url.startswith(("https://", "http://")):
            raise ConfigurationSourceError(f"scim-pull base_url must be http(s): {self.base_url!r}")
        if not self.token:
            raise ConfigurationSourceError("scim-pull needs a bearer token")
        if self.page_size < 1:
            raise ConfigurationSourceError("scim-pull page_size must be positive")


class ScimPullSource:
    """Pulls users and groups from a SCIM 2.0 service provider."""

    kind = "scim-pull"

    def __init__(self, config: ScimPullConfig, retry: RetryPolicy | None = None) -> None:
        self.config = config
        self.retry = retry or RetryPolicy()
        self.client: HttpClient | None = None

    def fetch(
        self,
        previous: Directory | None = None,
        cursor: str | None = None,
        progress: Progress | None = None,
    ) -> Snapshot:
        """Read every user and group; any missing page raises."""
        report = progress or _ignore
        client = self._client()
        pages = 0
        found: dict[str, list[dict[str, Any]]] = {"Users": [], "Groups": []}
        for resource, kind in (("Users", "users"), ("Groups", "groups")):
            for page in self._pages(client, resource):
                pages += 1
                found[resource].extend(page)
                report("pages", 1)
                report(kind, len(page))
        try:
            directory = Directory.from_scim({"users": found["Users"], "groups": found["Groups"]})
        except InputError as exc:
            raise SnapshotError(f"the SCIM server sent an unusable resource: {exc}") from exc
        return Snapshot(directory, pages=pages)

    def _pages(self, client: HttpClient, resource: str) -> Iterator[list[dict[str, Any]]]:
        url = f"{self.config.base_url.rstrip('/')}/{resource}"
        start, total = 1, None
        seen: set[Any] = set()
        while total is None or start <= total:
            params = {"startIndex": start, "count": self.config.page_size}
            body = client.json(client.get(url, params))
            if not isinstance(body, dict) or not isinstance(body.get("Resources", []), list):
                raise SnapshotError(f"GET {url} did not return a SCIM ListResponse")
            page_total = body.get("totalResults")
            if not isinstance(page_total, int):
                raise SnapshotError(f"GET {url} did not say totalResults")
            if total is not None and page_total != total:
                raise SnapshotError(
                    f"{resource} changed while being read ({total} -> {page_total})"
                )
            total = page_total
            items = [r for r in body.get("Resources", []) if r.get("id") not in seen]
            if not items and start <= total:
                raise SnapshotError(
                    f"GET {url} stopped at {start - 1} of {total} {resource.lower()}"
                )
            seen.update(r.get("id") for r in items)
            yield items
            start += len(body.get("Resources", []))

    def _client(self) -> HttpClient:
        if self.client is None:
            session = requests.Session()
            session.headers["Authorization"] = f"Bearer {self.config.token}"
            session.headers["Accept"] = "application/scim+json, application/json"
            self.client = HttpClient(session, retry=self.retry, timeout=self.config.timeout)
        return self.client


def _ignore(kind: str, n: int) -> None:
    return None
