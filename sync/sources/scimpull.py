"""Any SCIM 2.0 server as a pull source (RFC 7644 section 3.4.2.4 paging).

``/Users`` and ``/Groups`` are read with ``startIndex``/``count`` and a bearer token until
``totalResults`` is reached. A short page before the end, a total that changes while
paging, an id on two pages (an unstable sort), a unique count that differs from
``totalResults``, a group member that is neither a listed user nor a listed group, or
groups that differ when read a second time (someone moved mid-listing) makes the
snapshot unusable rather than silently smaller.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import requests

from mappings.directory import Directory
from mappings.errors import InputError
from sync.sources.base import (
    Bounds,
    ConfigurationSourceError,
    HttpClient,
    Listing,
    ProbeTarget,
    Progress,
    RetryPolicy,
    Snapshot,
    SnapshotError,
)
from sync.sources.kind import ConfigField, SourceKind

__all__ = ["KIND", "ScimPullConfig", "ScimPullSource"]

LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"


@dataclass(frozen=True, slots=True)
class ScimPullConfig:
    """The SCIM base URL (ending before ``/Users``) and its bearer token."""

    base_url: str
    token: str
    page_size: int = 100

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

    def __init__(
        self, config: ScimPullConfig, retry: RetryPolicy | None = None, bounds: Bounds | None = None
    ) -> None:
        self.config = config
        self.retry = retry or RetryPolicy()
        self.bounds = bounds or Bounds()
        self.client: HttpClient | None = None

    def fetch(
        self,
        previous: Directory | None = None,
        cursor: str | None = None,
        progress: Progress | None = None,
    ) -> Snapshot:
        """Read every user and group and prove the listings consistent; else raise."""
        report = progress or _ignore
        client = self._client()
        client.start()
        pages = 0
        found: dict[str, list[dict[str, Any]]] = {"Users": [], "Groups": []}
        for resource, kind in (("Users", "users"), ("Groups", "groups")):
            listing = Listing(f"the {resource} listing", self.bounds.max_pages)
            for page in self._pages(client, resource, listing):
                found[resource].extend(page)
                report("pages", 1)
                report(kind, len(page))
            pages += listing.pages
        again = Listing("the Groups listing (read again)", self.bounds.max_pages)
        reread = [group for page in self._pages(client, "Groups", again) for group in page]
        pages += again.pages
        _unchanged(found["Groups"], reread)
        try:
            directory = Directory.from_scim({"users": found["Users"], "groups": found["Groups"]})
        except InputError as exc:
            raise SnapshotError(f"the SCIM server sent an unusable resource: {exc}") from exc
        _known(directory)
        return Snapshot(directory, pages=pages)

    def _pages(
        self, client: HttpClient, resource: str, listing: Listing
    ) -> Iterator[list[dict[str, Any]]]:
        url = f"{self.config.base_url.rstrip('/')}/{resource}"
        start, total = 1, None
        while total is None or start <= total:
            params = {"startIndex": start, "count": self.config.page_size}
            listing.next_page(f"{url}?startIndex={start}")
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
            items = body.get("Resources", [])
            if not items and start <= total:
                raise SnapshotError(
                    f"GET {url} stopped at {start - 1} of {total} {resource.lower()}"
                )
            listing.read(_resource_id(r, f"{resource} page {listing.pages}") for r in items)
            yield items
            start += len(items)
        if listing.unique != total:
            raise SnapshotError(
                f"{resource} listing read {listing.unique} unique of totalResults {total}: "
                "pages overlapped or skipped entries"
            )

    def probe_target(self) -> ProbeTarget:
        """One group, to prove the base URL and the bearer token."""
        return ProbeTarget(
            session=self._session(),
            url=f"{self.config.base_url.rstrip('/')}/Groups",
            params={"count": 1},
            secret="bearer token",
            url_setting="base_url",
            expected="a SCIM ListResponse",
            fits=lambda body: isinstance(body, dict) and "totalResults" in body,
        )

    def _session(self) -> requests.Session:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {self.config.token}"
        session.headers["Accept"] = "application/scim+json, application/json"
        return session

    def _client(self) -> HttpClient:
        if self.client is None:
            self.client = HttpClient(
                self._session(), origin=self.config.base_url, retry=self.retry, bounds=self.bounds
            )
        return self.client


def _resource_id(raw: Any, where: str) -> str:
    if not isinstance(raw, dict) or not isinstance(raw.get("id"), str) or not raw["id"]:
        raise SnapshotError(f"{where}: a resource without an id")
    return str(raw["id"])


def _unchanged(first: list[dict[str, Any]], second: list[dict[str, Any]]) -> None:
    """Groups read twice must agree, or a person moved between them while they were read."""
    before, after = _memberships(first), _memberships(second)
    for gid in sorted(before.keys() | after.keys()):
        if before.get(gid) != after.get(gid):
            name = (before.get(gid) or after.get(gid) or (gid,))[0]
            raise SnapshotError(
                f"group {name!r} changed while the groups were read (a second read differs): "
                "members may have moved between groups mid-listing"
            )


def _memberships(groups: list[dict[str, Any]]) -> dict[str, tuple[Any, frozenset[Any]]]:
    out: dict[str, tuple[Any, frozenset[Any]]] = {}
    for group in groups:
        members = group.get("members") or []
        values = frozenset(m.get("value") for m in members if isinstance(m, dict))
        out[str(group.get("id"))] = (group.get("displayName"), values)
    return out


def _known(directory: Directory) -> None:
    """Every group member must be a listed user or group, or a listing is incomplete."""
    ids = {u.id for u in directory.users} | {g.id for g in directory.groups}
    for group in directory.groups:
        unknown = [m.value for m in group.members if m.value not in ids]
        if unknown:
            raise SnapshotError(
                f"group {group.display_name!r} lists {len(unknown)} members that the listings "
                f"did not have (e.g. {unknown[0]}): the Users listing is incomplete"
            )


def _ignore(kind: str, n: int) -> None:
    return None


def _build(
    config: Mapping[str, Any], secret: str, retry: RetryPolicy | None, bounds: Bounds
) -> ScimPullSource:
    cfg = ScimPullConfig(
        base_url=str(config.get("base_url", "")),
        token=secret,
        page_size=int(config.get("page_size", 100)),
    )
    return ScimPullSource(cfg, retry=retry, bounds=bounds)


KIND = SourceKind(
    name="scim-pull",
    summary="Any SCIM 2.0 server (secret = its bearer token).",
    fields=(ConfigField("base_url", "The SCIM base, e.g. https://x/scim/v2", required=True),),
    build=_build,
)
