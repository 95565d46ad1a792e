"""Microsoft Graph (Entra ID) as a pull source.

Full reads use ``/v1.0/users``, ``/v1.0/groups`` and ``/v1.0/groups/{id}/transitiveMembers``
(nested groups flattened by Graph) with ``$select`` and ``$top=999``, following
``@odata.nextLink`` unchanged; a page may be empty and still link onward. A 429 waits for
``Retry-After`` (fractional seconds allowed) or, without it, backs off exponentially with
jitter.

Delta reads (``delta=True``) use ``/users/delta`` and ``/groups/delta`` with
``members@delta``; removals carry ``@removed``; one group may be spread over several
pages. The two ``@odata.deltaLink`` values are the source's cursor. A 410 Gone on a
delta link means the state expired: the source reads everything again from scratch.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
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
)
from sync.sources.kind import ConfigField, SourceKind
from sync.sources.oauth import client_credentials_session

__all__ = ["KIND", "GraphConfig", "GraphSource", "graph_user"]

USER_FIELDS = "id,userPrincipalName,mail,displayName,accountEnabled"
_USER = "#microsoft.graph.user"
_GROUP = "#microsoft.graph.group"
_EVENTUAL = {"ConsistencyLevel": "eventual"}  # $count is an advanced query in Graph


@dataclass(frozen=True, slots=True)
class GraphConfig:
    """Which tenant, which app, and how to read (exactly one of secret or certificate)."""

    tenant_id: str
    client_id: str
    client_secret: str | None = None
    certificate_key: str | None = None  # PEM private key of the app's certificate
    certificate_thumbprint: str | None = None  # base64url SHA-1 of the certificate (x5t)
    authority: str = "https://login.microsoftonline.com"
    graph_url: str = "https://graph.microsoft.com"
    delta: bool = False
    page_size: int = 999
    concurrency: int = 4  # transitiveMembers listings read at once
    extra: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.tenant_id or not self.client_id:
            raise ConfigurationSourceError("graph needs a tenant id and a client id")
        if (self.client_secret is None) == (self.certificate_key is None):
            raise ConfigurationSourceError("graph needs either a client secret or a certificate")
        for url in (self.authority, self.graph_url):
            if not url.startswith(("https://", "http://")):
                raise ConfigurationSourceError(f"graph URLs must be http(s): {url!r}")
        if not 1 <= self.page_size <= 999:
            raise ConfigurationSourceError("graph page_size must be between 1 and 999")
        if not 1 <= self.concurrency <= 16:
            raise ConfigurationSourceError("graph concurrency must be between 1 and 16")

    @property
    def api(self) -> str:
        """The v1.0 endpoint."""
        return f"{self.graph_url.rstrip('/')}/v1.0"


class GraphSource:
    """Pulls a complete directory from one Entra ID tenant."""

    kind = "graph"

    def __init__(
        self, config: GraphConfig, retry: RetryPolicy | None = None, bounds: Bounds | None = None
    ) -> None:
        self.config = config
        self.retry = retry or RetryPolicy()
        self.bounds = bounds or Bounds()
        self.client: HttpClient | None = None
        self.resynced = False  # True when a 410 forced a full read

    def fetch(
        self,
        previous: Directory | None = None,
        cursor: str | None = None,
        progress: Progress | None = None,
    ) -> Snapshot:
        """A full read, or with ``delta`` the changes since ``cursor`` applied to ``previous``."""
        report = progress or _ignore
        self._client().start()
        if self.config.delta:
            return self._delta(previous, cursor, report)
        return self._full(report)

    # -- full reads ------------------------------------------------------------
    def _full(self, report: Progress) -> Snapshot:
        """Every user, group and transitive membership, proven against Graph's ``$count``.

        After the listings, ``/users/$count`` and each group's ``transitiveMembers/$count``
        must equal what was read, and every member must be a listed user: a page cut
        short, repeated, or a person moved between groups while they were read fails the
        run instead of costing someone a role.
        """
        client = self._client()
        api, top = self.config.api, self.config.page_size
        users: dict[str, DirectoryUser] = {}
        query = {"$select": USER_FIELDS, "$top": top}
        listing = self._listing("the users listing")
        for page in self._pages(client, f"{api}/users", query, listing=listing):
            batch = [
                graph_user(raw, f"users page {listing.pages} item {i}")
                for i, raw in enumerate(page)
            ]
            listing.read(u.id for u in batch)
            users.update((u.id, u) for u in batch)
            report("pages", 1)
            report("users", len(page))
        pages = listing.pages
        heads: list[tuple[str, str]] = []
        groups_listing = self._listing("the groups listing")
        for page in self._pages(
            client,
            f"{api}/groups",
            {"$select": "id,displayName", "$top": top},
            listing=groups_listing,
        ):
            found = [_group_head(raw, f"groups page {groups_listing.pages}") for raw in page]
            groups_listing.read(gid for gid, _ in found)
            heads.extend(found)
            report("pages", 1)
        pages += groups_listing.pages

        def read(head: tuple[str, str]) -> tuple[DirectoryGroup, int]:
            gid, name = head
            url = f"{api}/groups/{gid}/transitiveMembers"
            members: list[GroupMember] = []
            missing = f"group {name!r} ({gid})"
            listing = self._listing(f"the members of group {name!r}")
            for page in self._pages(
                client, url, {"$select": "id", "$top": top}, missing, listing=listing
            ):
                listing.read(_item_id(m, f"members of {name!r} page {listing.pages}") for m in page)
                members.extend(
                    GroupMember(m["id"], "User") for m in page if m.get("@odata.type") == _USER
                )
                report("pages", 1)
            counted.append(listing.pages)
            _known(name, members, users)
            report("groups", 1)
            return DirectoryGroup(id=gid, display_name=name, members=tuple(members)), listing.unique

        counted: list[int] = []
        read_groups = in_parallel(read, heads, self.config.concurrency)
        pages += sum(counted)
        self._check_counts(client, len(users), read_groups)
        groups = tuple(group for group, _ in read_groups)
        return Snapshot(Directory(users=tuple(users.values()), groups=groups), pages=pages)

    def _check_counts(
        self, client: HttpClient, users: int, groups: list[tuple[DirectoryGroup, int]]
    ) -> None:
        """Graph's ``$count`` of users and of each group's members, taken after the listings."""
        api, eventual = self.config.api, _EVENTUAL
        self._check_users_count(client, users)

        def check(item: tuple[DirectoryGroup, int]) -> None:
            group, read = item
            url = f"{api}/groups/{group.id}/transitiveMembers/$count"
            counted = client.count(url, eventual)
            if counted != read:
                raise SnapshotError(
                    f"group {group.display_name!r} listed {read} members but Graph counts "
                    f"{counted}: the listing was cut short or changed while it was read"
                )

        in_parallel(check, groups, self.config.concurrency)

    def _check_users_count(self, client: HttpClient, users: int) -> None:
        counted = client.count(f"{self.config.api}/users/$count", _EVENTUAL)
        if counted != users:
            raise SnapshotError(
                f"the users listing gave {users} users but Graph counts {counted}: "
                "the listing was cut short or changed while it was read"
            )

    def _listing(self, what: str) -> Listing:
        return Listing(what, self.bounds.max_pages)

    # -- delta reads -----------------------------------------------------------
    def _delta(self, previous: Directory | None, cursor: str | None, report: Progress) -> Snapshot:
        links = _links(cursor)
        if previous is None or links is None:
            return self._delta_round(None, None, report)
        try:
            return self._delta_round(previous, links, report)
        except _Gone:
            self.resynced = True
            return self._delta_round(None, None, report)

    def _delta_round(
        self, previous: Directory | None, links: dict[str, str] | None, report: Progress
    ) -> Snapshot:
        client = self._client()
        state = _DeltaState.of(previous)
        pages = 0
        user_url = links["users"] if links else f"{self.config.api}/users/delta"
        user_query = None if links else {"$select": USER_FIELDS}
        user_pages = self._pages(client, user_url, user_query, gone=True)
        for page in user_pages:
            pages += 1
            for i, raw in enumerate(page):
                state.apply_user(raw, f"users/delta page {pages} item {i}")
            report("pages", 1)
            report("users", len(page))
        users_link = user_pages.delta_link
        group_url = links["groups"] if links else f"{self.config.api}/groups/delta"
        group_query = None if links else {"$select": "displayName,members"}
        group_pages = self._pages(client, group_url, group_query, gone=True)
        for page in group_pages:
            pages += 1
            for i, raw in enumerate(page):
                state.apply_group(raw, f"groups/delta page {pages} item {i}")
            report("pages", 1)
        if users_link is None or group_pages.delta_link is None:
            raise SnapshotError("a delta round ended without an @odata.deltaLink")
        cursor = json.dumps({"users": users_link, "groups": group_pages.delta_link})
        directory = state.directory()
        users = {u.id: u for u in directory.users}
        for group in directory.groups:  # the delta state must hold every user it names
            _known(group.display_name, [m for m in group.members if m.type == "User"], users)
        self._check_users_count(client, len(users))
        report("groups", len(directory.groups))
        return Snapshot(directory, cursor=cursor, pages=pages)

    # -- paging and auth -------------------------------------------------------
    def _pages(
        self,
        client: HttpClient,
        url: str,
        query: dict[str, Any] | None,
        missing: str | None = None,
        gone: bool = False,
        listing: Listing | None = None,
    ) -> _Pages:
        listing = listing or self._listing(f"the listing {url.split('?')[0]}")
        return _Pages(client, url, query, missing, gone, listing)

    def probe_target(self) -> ProbeTarget:
        """A token (from the authority), then one group's id, to prove the app's access."""
        return ProbeTarget(
            session=self._session(),
            url=f"{self.config.api}/groups",
            params={"$top": 1, "$select": "id"},
            secret="app's access token",
            url_setting="graph_url",
            expected="a Graph list of groups",
            fits=lambda body: isinstance(body, dict) and isinstance(body.get("value"), list),
        )

    def _session(self) -> requests.Session:
        cfg = self.config
        headers = None
        if cfg.certificate_thumbprint:
            headers = {"x5t": cfg.certificate_thumbprint}
        session: requests.Session = client_credentials_session(
            client_id=cfg.client_id,
            token_url=f"{cfg.authority.rstrip('/')}/{cfg.tenant_id}/oauth2/v2.0/token",
            scope=f"{cfg.graph_url.rstrip('/')}/.default",
            client_secret=cfg.client_secret,
            private_key=cfg.certificate_key,
            key_headers=headers,
            timeout=(self.bounds.connect_timeout, self.bounds.read_timeout),
        )
        session.headers["Accept"] = "application/json"
        return session

    def _client(self) -> HttpClient:
        if self.client is None:
            self.client = HttpClient(
                self._session(), origin=self.config.graph_url, retry=self.retry, bounds=self.bounds
            )
        return self.client


class _Gone(Exception):
    """A delta link answered 410: its state has expired."""


class _Pages:
    """Iterates the ``value`` arrays of a paged Graph listing; keeps the final deltaLink."""

    def __init__(
        self,
        client: HttpClient,
        url: str,
        query: dict[str, Any] | None,
        missing: str | None,
        gone: bool,
        listing: Listing,
    ) -> None:
        self._args = (client, url, query, missing, gone)
        self.listing = listing
        self.delta_link: str | None = None

    def __iter__(self) -> Iterator[list[Any]]:
        client, url, query, missing, gone = self._args
        next_url: str | None = url
        accept = (404,) if missing else ((410,) if gone else ())
        while next_url is not None:
            self.listing.next_page(next_url)
            response = client.get(next_url, query, accept=accept)
            if response.status_code == 410:
                raise _Gone()
            if response.status_code == 404:
                raise SnapshotError(
                    f"{missing} disappeared while it was being read; "
                    "its members are left as they were until a complete read"
                )
            body = client.json(response)
            if not isinstance(body, dict) or not isinstance(body.get("value"), list):
                raise SnapshotError(f"GET {next_url.split('?')[0]} did not return a value list")
            yield body["value"]
            query = None  # nextLink is used unchanged
            next_url = body.get("@odata.nextLink")
            if next_url is not None and not isinstance(next_url, str):
                raise SnapshotError(f"GET {url.split('?')[0]} sent a nextLink that is not a URL")
            if next_url is None:
                link = body.get("@odata.deltaLink")
                self.delta_link = link if isinstance(link, str) else None


class _DeltaState:
    """The directory being rebuilt from a previous one plus delta items."""

    def __init__(self) -> None:
        self.users: dict[str, DirectoryUser] = {}
        self.groups: dict[str, tuple[str | None, dict[str, str]]] = {}

    @classmethod
    def of(cls, previous: Directory | None) -> _DeltaState:
        state = cls()
        if previous is not None:
            state.users = {u.id: u for u in previous.users}
            for g in previous.groups:
                members = {m.value: m.type or "User" for m in g.members}
                state.groups[g.id] = (g.display_name, members)
        return state

    def apply_user(self, raw: Any, where: str) -> None:
        if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
            raise SnapshotError(f"{where}: an item without an id")
        if "@removed" in raw:
            self.users.pop(raw["id"], None)
            return
        before = self.users.get(raw["id"])
        if before is not None:  # a changed user may carry only the changed properties
            merged = {
                "id": before.id,
                "userPrincipalName": before.user_name,
                "mail": before.emails[0] if before.emails else None,
                "displayName": before.display_name,
                "accountEnabled": before.active,
            }
            merged.update(raw)
            raw = merged
        self.users[raw["id"]] = graph_user(raw, where)

    def apply_group(self, raw: Any, where: str) -> None:
        if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
            raise SnapshotError(f"{where}: an item without an id")
        gid = raw["id"]
        if "@removed" in raw:
            self.groups.pop(gid, None)
            return
        name, members = self.groups.get(gid, (None, {}))
        if isinstance(raw.get("displayName"), str):
            name = raw["displayName"]
        for i, m in enumerate(raw.get("members@delta") or []):
            if not isinstance(m, dict) or not isinstance(m.get("id"), str):
                raise SnapshotError(f"{where}.members@delta[{i}]: a member without an id")
            if "@removed" in m:
                members.pop(m["id"], None)
            elif m.get("@odata.type") in (_USER, _GROUP):
                members[m["id"]] = "Group" if m["@odata.type"] == _GROUP else "User"
        self.groups[gid] = (name, members)

    def directory(self) -> Directory:
        groups = []
        for gid, (name, members) in self.groups.items():
            if name is None:
                raise SnapshotError(f"group {gid} arrived in the delta without a displayName")
            refs = tuple(GroupMember(v, t) for v, t in members.items())
            groups.append(DirectoryGroup(id=gid, display_name=name, members=refs))
        return Directory(users=tuple(self.users.values()), groups=tuple(groups))


def _links(cursor: str | None) -> dict[str, str] | None:
    if not cursor:
        return None
    try:
        links = json.loads(cursor)
    except ValueError:
        return None
    if isinstance(links, dict) and all(isinstance(links.get(k), str) for k in ("users", "groups")):
        return {"users": links["users"], "groups": links["groups"]}
    return None


def graph_user(raw: Any, where: str) -> DirectoryUser:
    """A Graph user object as a directory user (``accountEnabled: false`` is inactive)."""
    if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
        raise SnapshotError(f"{where}: a user without an id")
    upn = raw.get("userPrincipalName")
    if not isinstance(upn, str) or not upn:
        raise SnapshotError(f"{where}: user {raw['id']} has no userPrincipalName")
    mail = raw.get("mail")
    name = raw.get("displayName")
    return DirectoryUser(
        id=raw["id"],
        user_name=upn,
        emails=(mail,) if isinstance(mail, str) and mail else (),
        active=raw.get("accountEnabled") is not False,
        display_name=name if isinstance(name, str) else None,
    )


def _item_id(raw: Any, where: str) -> str:
    if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
        raise SnapshotError(f"{where}: a member without an id")
    return str(raw["id"])


def _known(group: str, members: list[GroupMember], users: dict[str, DirectoryUser]) -> None:
    """Every user a group lists must be in the users listing, or that listing is incomplete."""
    unknown = [m.value for m in members if m.value not in users]
    if unknown:
        raise SnapshotError(
            f"group {group!r} lists {len(unknown)} users that the users listing did not have "
            f"(e.g. {unknown[0]}): the users listing is incomplete"
        )


def _group_head(raw: Any, where: str) -> tuple[str, str]:
    if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
        raise SnapshotError(f"{where}: a group without an id")
    name = raw.get("displayName")
    if not isinstance(name, str) or not name:
        raise SnapshotError(f"{where}: group {raw['id']} has no displayName")
    return raw["id"], name


def _ignore(kind: str, n: int) -> None:
    return None


def _build(
    config: Mapping[str, Any], secret: str, retry: RetryPolicy | None, bounds: Bounds
) -> GraphSource:
    certificate = config.get("auth") == "certificate"
    cfg = GraphConfig(
        tenant_id=str(config.get("tenant_id", "")),
        client_id=str(config.get("client_id", "")),
        client_secret=None if certificate else secret,
        certificate_key=secret if certificate else None,
        certificate_thumbprint=config.get("thumbprint"),
        authority=str(config.get("authority") or "https://login.microsoftonline.com"),
        graph_url=str(config.get("graph_url") or "https://graph.microsoft.com"),
        delta=bool(config.get("delta", False)),
        page_size=int(config.get("page_size", 999)),
        concurrency=int(config.get("concurrency", 4)),
    )
    return GraphSource(cfg, retry=retry, bounds=bounds)


def _settle(config: dict[str, Any]) -> dict[str, Any]:
    return config | {"auth": "certificate" if config.get("thumbprint") else "secret"}


KIND = SourceKind(
    name="graph",
    summary="Microsoft Graph: a client secret, or a certificate key with --thumbprint.",
    fields=(
        ConfigField("tenant_id", "The Entra tenant id.", required=True, option="--tenant"),
        ConfigField("client_id", "The app registration's client id.", required=True),
        ConfigField("thumbprint", "Certificate x5t (secret = its private key)."),
        ConfigField("delta", "Use delta queries after the first pull.", flag=True),
        ConfigField("authority", "Token authority URL (default: Microsoft's)."),
        ConfigField("graph_url", "Graph API base URL (default: Microsoft's)."),
    ),
    build=_build,
    settle=_settle,
)
