"""Okta Management API as a pull source.

Reads ``/api/v1/users``, ``/api/v1/groups`` and ``/api/v1/groups/{id}/users`` with
``limit=200``, following ``Link: <...>; rel="next"`` exactly as given. Authenticates with
an API token (``Authorization: SSWS ...``) or OAuth 2.0 client credentials with
``private_key_jwt``. Rate limits: a 429 waits until ``X-Rate-Limit-Reset`` (measured
against the server's ``Date``); the concurrent-request variant (``X-Rate-Limit-Limit: 0``)
is treated the same; a response with ``X-Rate-Limit-Remaining: 0`` pauses the next call
until the window resets.

``/api/v1/users`` leaves out DEPROVISIONED users while group member listings include
them; such members are kept as inactive users, as are SUSPENDED ones.
"""

from __future__ import annotations

import contextlib
import email.utils
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import requests

from mappings.directory import Directory, DirectoryGroup, DirectoryUser, GroupMember
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
    in_parallel,
    retry_after_seconds,
)
from sync.sources.kind import ConfigField, SourceKind
from sync.sources.oauth import client_credentials_session

__all__ = ["INACTIVE_STATUSES", "KIND", "OktaConfig", "OktaSource", "okta_user"]

INACTIVE_STATUSES = frozenset({"DEPROVISIONED", "SUSPENDED", "STAGED"})
DEFAULT_SCOPES = "okta.users.read okta.groups.read"


@dataclass(frozen=True, slots=True)
class OktaConfig:
    """Where the Okta org is and how to authenticate (exactly one of token or key)."""

    org_url: str
    api_token: str | None = None
    client_id: str | None = None
    private_key: str | None = None  # PEM, for private_key_jwt
    key_id: str | None = None
    scopes: str = DEFAULT_SCOPES
    page_size: int = 200
    concurrency: int = 4  # group member listings read at once (Okta limits concurrency)

    def __post_init__(self) -> None:
        if not self.org_url.startswith(("https://", "http://")):
            raise ConfigurationSourceError(f"okta org_url must be an http(s) URL: {self.org_url!r}")
        if bool(self.api_token) == bool(self.client_id and self.private_key):
            raise ConfigurationSourceError(
                "okta needs either an API token or a client id with a private key"
            )
        if not 1 <= self.page_size <= 200:
            raise ConfigurationSourceError("okta page_size must be between 1 and 200")
        if not 1 <= self.concurrency <= 16:
            raise ConfigurationSourceError("okta concurrency must be between 1 and 16")

    @property
    def base(self) -> str:
        """The org URL without a trailing slash."""
        return self.org_url.rstrip("/")


class OktaSource:
    """Pulls a complete directory from one Okta org."""

    kind = "okta"

    def __init__(
        self, config: OktaConfig, retry: RetryPolicy | None = None, bounds: Bounds | None = None
    ) -> None:
        self.config = config
        self.retry = retry or RetryPolicy()
        self.bounds = bounds or Bounds()
        self._pause_until = 0.0
        self.client: HttpClient | None = None

    def fetch(
        self,
        previous: Directory | None = None,
        cursor: str | None = None,
        progress: Progress | None = None,
    ) -> Snapshot:
        """Read every user, group and membership, and prove them consistent; else raise.

        Each group's ``usersCount`` (``expand=stats``) is read before and after its members
        and must equal the members listed, so a listing cut short, a page repeated or a
        person moved between groups while they were read fails the run instead of costing
        someone a role.
        """
        client = self._client()
        client.start()
        report = progress or _ignore
        users: dict[str, DirectoryUser] = {}
        listing = Listing("the users listing", self.bounds.max_pages)
        for page in self._pages(client, f"{self.config.base}/api/v1/users", listing):
            batch = [
                okta_user(raw, f"users page {listing.pages} item {i}") for i, raw in enumerate(page)
            ]
            listing.read(u.id for u in batch)
            users.update((u.id, u) for u in batch)
            report("pages", 1)
            report("users", len(page))
        pages = listing.pages
        before, n = self._groups(client, report)
        pages += n
        listed = set(users)

        def read(head: tuple[str, str]) -> DirectoryGroup:
            members, n = self._members(client, head[0], head[1], users, listed, report)
            counted.append(n)
            report("groups", 1)
            return DirectoryGroup(id=head[0], display_name=head[1], members=members)

        counted: list[int] = []
        heads = [(gid, name) for gid, (name, _) in before.items()]
        groups = in_parallel(read, heads, self.config.concurrency)
        after, n = self._groups(client, _ignore)
        pages += sum(counted) + n
        _check_counts(groups, before, after, listed)
        directory = Directory(users=tuple(users.values()), groups=tuple(groups))
        return Snapshot(directory=directory, pages=pages)

    def _groups(
        self, client: HttpClient, report: Progress
    ) -> tuple[dict[str, tuple[str, int | None]], int]:
        """Group id -> (name, usersCount), and the pages read."""
        listing = Listing("the groups listing", self.bounds.max_pages)
        url = f"{self.config.base}/api/v1/groups"
        found: dict[str, tuple[str, int | None]] = {}
        for page in self._pages(client, url, listing, expand="stats"):
            heads = [_group_head(raw, f"groups page {listing.pages}") for raw in page]
            listing.read(gid for gid, _, _ in heads)
            found.update((gid, (name, count)) for gid, name, count in heads)
            report("pages", 1)
        return found, listing.pages

    def _members(
        self,
        client: HttpClient,
        group_id: str,
        name: str,
        users: dict[str, DirectoryUser],
        listed: set[str],
        report: Progress,
    ) -> tuple[tuple[GroupMember, ...], int]:
        url = f"{self.config.base}/api/v1/groups/{group_id}/users"
        listing = Listing(f"the members of group {name!r}", self.bounds.max_pages)
        members: list[GroupMember] = []
        missing = f"group {name!r} ({group_id})"
        for page in self._pages(client, url, listing, missing=missing):
            where = f"members of {name!r} page {listing.pages}"
            batch = [okta_user(raw, f"{where} item {i}") for i, raw in enumerate(page)]
            listing.read(u.id for u in batch)
            for user, raw in zip(batch, page, strict=True):
                if user.id not in listed:
                    _unlisted(user, raw, name)
                    users[user.id] = user  # DEPROVISIONED users are only listed here
                members.append(GroupMember(user.id, "User"))
            report("pages", 1)
        return tuple(members), listing.pages

    def _pages(
        self,
        client: HttpClient,
        url: str,
        listing: Listing,
        missing: str | None = None,
        expand: str | None = None,
    ) -> Iterator[list[Any]]:
        next_url: str | None = url
        first: dict[str, Any] = {"limit": self.config.page_size}
        if expand:
            first["expand"] = expand
        params: dict[str, Any] | None = first
        while next_url is not None:
            listing.next_page(next_url)
            response = client.get(next_url, params, accept=(404,) if missing else ())
            if response.status_code == 404:
                raise SnapshotError(
                    f"{missing} disappeared while it was being read; "
                    "its members are left as they were until a complete read"
                )
            body = client.json(response)
            if not isinstance(body, list):
                raise SnapshotError(f"GET {next_url.split('?')[0]} did not return a list")
            yield body
            next_url = response.links.get("next", {}).get("url")
            params = None  # the next link carries its own query, used as given

    def probe_target(self) -> ProbeTarget:
        """One group, to prove the org URL and the credential (a key fetches its token)."""
        cfg = self.config
        return ProbeTarget(
            session=self._session(),
            url=f"{cfg.base}/api/v1/groups",
            params={"limit": 1},
            secret="API token" if cfg.api_token else "service app's key",
            url_setting="org_url",
            expected="a list of groups",
            fits=lambda body: isinstance(body, list),
        )

    def _session(self) -> requests.Session:
        cfg = self.config
        session: requests.Session
        if cfg.api_token:
            session = requests.Session()
            session.headers["Authorization"] = f"SSWS {cfg.api_token}"
        else:
            assert cfg.client_id is not None and cfg.private_key is not None
            session = client_credentials_session(
                client_id=cfg.client_id,
                token_url=f"{cfg.base}/oauth2/v1/token",
                scope=cfg.scopes,
                private_key=cfg.private_key,
                key_headers={"kid": cfg.key_id} if cfg.key_id else None,
                timeout=(self.bounds.connect_timeout, self.bounds.read_timeout),
            )
        session.headers["Accept"] = "application/json"
        return session

    def _client(self) -> HttpClient:
        if self.client is not None:
            return self.client
        self.client = HttpClient(
            self._session(),
            origin=self.config.base,
            retry=self.retry,
            bounds=self.bounds,
            hint=self._hint,
            after=self._after,
        )
        return self.client

    def _hint(self, response: requests.Response) -> float | None:
        if response.status_code == 429:
            wait = _until_reset(response)
            if wait is not None:
                return wait
        return retry_after_seconds(response)

    def _after(self, response: requests.Response) -> None:
        """Out of requests in this window: wait for the reset before the next call."""
        if response.headers.get("X-Rate-Limit-Remaining") == "0":
            wait = _until_reset(response)
            if wait:
                wait = min(wait, self.retry.max_delay)
                if self.client is not None:
                    self.client.pause(wait)


def _until_reset(response: requests.Response) -> float | None:
    """Seconds until ``X-Rate-Limit-Reset`` by the server's clock (at least a short pause)."""
    reset = response.headers.get("X-Rate-Limit-Reset")
    if reset is None or not reset.strip().isdigit():
        return None
    now = time.time()
    date = response.headers.get("Date")
    if date:
        with contextlib.suppress(TypeError, ValueError):
            now = email.utils.parsedate_to_datetime(date).timestamp()
    return max(int(reset) - now, 0.0) + 0.1


def okta_user(raw: Any, where: str) -> DirectoryUser:
    """An Okta user object as a directory user (DEPROVISIONED/SUSPENDED/STAGED: inactive)."""
    if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
        raise SnapshotError(f"{where}: a user without an id")
    profile = raw.get("profile")
    if not isinstance(profile, dict) or not isinstance(profile.get("login"), str):
        raise SnapshotError(f"{where}: user {raw['id']} has no profile.login")
    emails = [e for e in (profile.get("email"), profile.get("secondEmail")) if isinstance(e, str)]
    names = [profile.get("firstName"), profile.get("lastName")]
    display = profile.get("displayName") or " ".join(n for n in names if isinstance(n, str))
    return DirectoryUser(
        id=raw["id"],
        user_name=profile["login"],
        emails=tuple(dict.fromkeys(e for e in emails if e)),
        active=raw.get("status") not in INACTIVE_STATUSES,
        display_name=display or None,
    )


def _group_head(raw: Any, where: str) -> tuple[str, str, int | None]:
    """(id, name, ``_embedded.stats.usersCount`` or None where Okta did not say)."""
    if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
        raise SnapshotError(f"{where}: a group without an id")
    profile = raw.get("profile")
    name = profile.get("name") if isinstance(profile, dict) else None
    if not isinstance(name, str) or not name:
        raise SnapshotError(f"{where}: group {raw['id']} has no profile.name")
    embedded = raw.get("_embedded")
    stats = embedded.get("stats") if isinstance(embedded, dict) else None
    count = stats.get("usersCount") if isinstance(stats, dict) else None
    if not isinstance(count, int) or isinstance(count, bool):
        count = None
    return raw["id"], name, count


def _unlisted(user: DirectoryUser, raw: Any, group: str) -> None:
    """A member missing from the users listing is fine only if DEPROVISIONED (never listed)."""
    status = raw.get("status") if isinstance(raw, dict) else None
    if status != "DEPROVISIONED":
        raise SnapshotError(
            f"group {group!r} lists {user.id} ({status}), whom the users listing did not have: "
            "the users listing is incomplete"
        )


def _check_counts(
    groups: list[DirectoryGroup],
    before: dict[str, tuple[str, int | None]],
    after: dict[str, tuple[str, int | None]],
    listed: set[str],
) -> None:
    """Each group's members listed must match Okta's usersCount before and after reading them.

    Whether ``usersCount`` counts DEPROVISIONED members is not documented, so a count
    with or without them is accepted; the count may not change while the group is read.
    """
    for group in groups:
        if group.id not in after:
            raise SnapshotError(f"group {group.display_name!r} disappeared while it was being read")
        read = len(group.members)
        accepted = {read, read - sum(1 for m in group.members if m.value not in listed)}
        counts = (before[group.id][1], after[group.id][1])
        known = [c for c in counts if c is not None]
        if any(c not in accepted for c in known) or len(set(known)) > 1:
            raise SnapshotError(
                f"group {group.display_name!r} changed or was cut short while it was read: Okta "
                f"counted {counts[0]} members before and {counts[1]} after, {read} were listed"
            )


def _ignore(kind: str, n: int) -> None:
    return None


def _build(
    config: Mapping[str, Any], secret: str, retry: RetryPolicy | None, bounds: Bounds
) -> OktaSource:
    common: dict[str, Any] = {
        "org_url": str(config.get("org_url", "")),
        "page_size": int(config.get("page_size", 200)),
        "concurrency": int(config.get("concurrency", 4)),
    }
    if config.get("auth", "token") == "token":
        return OktaSource(OktaConfig(api_token=secret, **common), retry=retry, bounds=bounds)
    cfg = OktaConfig(
        client_id=str(config.get("client_id", "")),
        private_key=secret,
        key_id=config.get("key_id"),
        scopes=str(config.get("scopes", DEFAULT_SCOPES)),
        **common,
    )
    return OktaSource(cfg, retry=retry, bounds=bounds)


def _settle(config: dict[str, Any]) -> dict[str, Any]:
    return config | {"auth": "private_key_jwt" if config.get("client_id") else "token"}


KIND = SourceKind(
    name="okta",
    summary="Okta: an API token, or a service app's private key with --client-id.",
    fields=(
        ConfigField("org_url", "https://acme.okta.com", required=True),
        ConfigField("client_id", "OAuth service app (secret = its private key)."),
        ConfigField("key_id", "The service app key's id (kid)."),
    ),
    build=_build,
    settle=_settle,
)
