"""What every pull source shares: the error taxonomy, retries, paged HTTP and the interface.

    SourceError                      (a RolebridgeError)
     +-- TransientSourceError        429, 5xx, timeouts, a passed deadline: the run aborts
     +-- ConfigurationSourceError    401/403, a wrong URL, a redirect, bad settings
     +-- SnapshotError               the data is incomplete or inconsistent: nothing is removed
     +-- Cancelled                   the process is stopping: the run ends before its next request

A source returns a complete :class:`Snapshot` or raises; there is no partial result. Every
request stays on the configured origin (a next link elsewhere fails the run before it is
sent, so the IdP credential never leaves) and within the :class:`Bounds` of the run.
"""

from __future__ import annotations

import email.utils
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, TypeVar
from urllib.parse import urlsplit

import requests
import urllib3.exceptions

from mappings.directory import Directory
from mappings.errors import RolebridgeError

__all__ = [
    "Bounds",
    "Cancelled",
    "ConfigurationSourceError",
    "HttpClient",
    "Listing",
    "ProbeTarget",
    "Progress",
    "RetryPolicy",
    "Snapshot",
    "Source",
    "SourceError",
    "SnapshotError",
    "TransientSourceError",
    "in_parallel",
    "origin_of",
    "retry_after_seconds",
]

T = TypeVar("T")
R = TypeVar("R")

Progress = Callable[[str, int], None]
"""Called as ``progress(kind, increment)`` with kind ``pages``, ``users`` or ``groups``."""

_TRANSIENT_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


class SourceError(RolebridgeError):
    """A source could not produce a complete snapshot."""

    kind: ClassVar[str] = "source"


class TransientSourceError(SourceError):
    """The IdP is busy or failing (429, 5xx, timeout); a later run may succeed."""

    kind: ClassVar[str] = "transient"


class ConfigurationSourceError(SourceError):
    """Credentials, permissions or settings are wrong; an admin has to act."""

    kind: ClassVar[str] = "configuration"


class SnapshotError(SourceError):
    """The snapshot is incomplete or inconsistent, so it must not drive removals."""

    kind: ClassVar[str] = "data"


class Cancelled(SourceError):
    """The process was asked to stop (SIGTERM); no further request is made."""

    kind: ClassVar[str] = "cancelled"


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A complete directory from one source, with the delta cursor to store (if any)."""

    directory: Directory
    cursor: str | None = None
    pages: int = 0


class Source(Protocol):
    """A pull source: ``fetch`` returns a complete snapshot or raises a ``SourceError``."""

    kind: str

    def fetch(
        self,
        previous: Directory | None = None,
        cursor: str | None = None,
        progress: Progress | None = None,
    ) -> Snapshot:
        """Read the whole directory (or apply a delta from ``cursor`` onto ``previous``)."""
        ...


@dataclass(frozen=True, slots=True)
class ProbeTarget:
    """The one cheap authenticated request that tells whether a source's settings and
    secret work (``sync.sources.probe``): a ready session, the URL and its query, what the
    secret is called for an admin, which setting holds the URL, and the answer expected."""

    session: requests.Session
    url: str
    params: Mapping[str, str | int]
    secret: str  # "the API token"
    url_setting: str  # "org_url"
    expected: str  # "a list of groups"
    fits: Callable[[Any], bool]  # whether a JSON answer is what was expected


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how long to retry a transient failure of one request."""

    attempts: int = 5  # tries per request, the first included
    base_delay: float = 0.5  # first backoff without a server hint, doubled each time
    max_delay: float = 60.0  # a server asking for longer than this ends the run instead
    jitter: float = 0.5  # random extra fraction of the computed backoff
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)
    cancel: threading.Event | None = field(default=None, compare=False)  # set: stop now

    def backoff(self, attempt: int, hint: float | None) -> float:
        """Seconds to wait before try ``attempt + 1``: the server's hint, else exponential."""
        if hint is not None:
            return max(hint, 0.0)
        delay = self.base_delay * (2 ** (attempt - 1))
        return float(min(delay * (1 + random.uniform(0, self.jitter)), self.max_delay))


def retry_after_seconds(response: requests.Response) -> float | None:
    """The ``Retry-After`` header as seconds (fractional allowed, or an HTTP date)."""
    raw = response.headers.get("Retry-After")
    if raw is None:
        return None
    try:
        return max(float(raw), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - time.time(), 0.0)


@dataclass(frozen=True, slots=True)
class Bounds:
    """How long and how far one pull may go; passing a bound fails the run with the reason."""

    connect_timeout: float = 10.0  # seconds to open a connection
    read_timeout: float = 30.0  # seconds of silence allowed while waiting for bytes
    body_timeout: float = 120.0  # seconds to receive one whole response body
    max_pages: int = 10_000  # pages of one listing (2M users at Okta's 200 a page)
    deadline: float = 3600.0  # seconds for the whole fetch, retries and pauses included

    KEYS: ClassVar[tuple[str, ...]] = (
        "connect_timeout",
        "read_timeout",
        "body_timeout",
        "max_pages",
        "deadline",
    )

    def __post_init__(self) -> None:
        for name in self.KEYS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise ConfigurationSourceError(f"{name} must be a positive number, not {value!r}")

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Bounds:
        """The bounds a source's settings name; a missing key keeps its default."""
        values: dict[str, Any] = {}
        for name in cls.KEYS:
            if config.get(name) is None:
                continue
            raw = config[name]
            try:
                values[name] = int(raw) if name == "max_pages" else float(raw)
            except (TypeError, ValueError):
                values[name] = None
            if isinstance(raw, bool) or values[name] is None or values[name] <= 0:
                raise ConfigurationSourceError(f"{name} must be a positive number, not {raw!r}")
        return cls(**values)


def origin_of(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of a URL, the port filled in from the scheme."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    default = 443 if scheme == "https" else 80
    return scheme, (parts.hostname or "").lower(), port or default


class Listing:
    """One paged listing as it is read: its pages are capped, its next links may not loop,
    and an id seen on two pages means the listing shifted under us."""

    def __init__(self, what: str, max_pages: int) -> None:
        self.what = what
        self.max_pages = max_pages
        self.pages = 0
        self.ids: dict[str, int] = {}  # id -> page it was first read on
        self._urls: set[str] = set()

    def next_page(self, url: str) -> None:
        """Count the page about to be requested; past the cap or back to a read URL raises."""
        if url in self._urls:
            raise SnapshotError(f"paging of {self.what} loops back to a page already read")
        self._urls.add(url)
        self.pages += 1
        if self.pages > self.max_pages:
            raise SnapshotError(
                f"{self.what} ran past the cap of {self.max_pages} pages (max_pages); "
                "the listing never ended"
            )

    def read(self, ids: Iterable[str]) -> None:
        """Record the ids of the page just read; an id read before (or twice) raises."""
        page: set[str] = set()
        for item in ids:
            first = self.ids.setdefault(item, self.pages)
            if first != self.pages or item in page:
                raise SnapshotError(
                    f"{self.what} listed {item} on page {first} and again on page {self.pages}: "
                    "the listing shifted while it was read, so entries may have been skipped"
                )
            page.add(item)

    @property
    def unique(self) -> int:
        """How many distinct ids were read."""
        return len(self.ids)


Hint = Callable[[requests.Response], "float | None"]


class HttpClient:
    """GETs JSON pages with retries and turns HTTP outcomes into the source error taxonomy.

    Requests go only to ``origin`` (scheme, host and port), each within the connect and
    read timeouts, each body within ``body_timeout``, all of them before the deadline set
    by :meth:`start`.
    """

    def __init__(
        self,
        session: requests.Session,
        *,
        origin: str,
        retry: RetryPolicy | None = None,
        bounds: Bounds | None = None,
        hint: Hint = retry_after_seconds,
        after: Callable[[requests.Response], None] | None = None,
        describe: Callable[[requests.Response], str] | None = None,
    ) -> None:
        self.session = session
        self.origin = origin_of(origin)
        self.retry = retry or RetryPolicy()
        self.bounds = bounds or Bounds()
        self._hint = hint
        self._after = after
        self._describe = describe or _describe
        self.requests = 0
        self.waited = 0.0  # wall seconds with a request in flight or a pause, for benchmarks
        self._lock = threading.Lock()  # listings may be read on several threads
        self._waiting = 0
        self._since = 0.0
        self._until = time.monotonic() + self.bounds.deadline

    def start(self) -> None:
        """Start the run's clock: every request from now on must finish within the deadline."""
        self._until = time.monotonic() + self.bounds.deadline

    def get(
        self,
        url: str,
        params: dict[str, Any] | None = None,
        accept: Iterable[int] = (),
        headers: dict[str, str] | None = None,
    ) -> requests.Response:
        """GET ``url``; 2xx (or a status in ``accept``) is returned, anything else raises."""
        self._check_origin(url)
        accepted = frozenset(accept)
        for attempt in range(1, self.retry.attempts + 1):
            if self.retry.cancel is not None and self.retry.cancel.is_set():
                raise Cancelled(f"stopped before GET {_strip(url)}")
            response, failure = self._try(url, params, headers)
            if response is not None and response.is_redirect:
                raise _redirected(response)
            if response is not None and (response.ok or response.status_code in accepted):
                if self._after is not None:
                    self._after(response)
                return response
            if response is not None and response.status_code not in _TRANSIENT_STATUSES:
                raise _permanent(response, self._describe(response))
            hint = self._hint(response) if response is not None else None
            if hint is not None and hint > self.retry.max_delay:
                raise TransientSourceError(f"{failure}; the server asks to wait {hint:.0f}s")
            if attempt == self.retry.attempts:
                break
            delay = self.retry.backoff(attempt, hint)
            self.pause(delay)
        raise TransientSourceError(f"{failure} (gave up after {self.retry.attempts} tries)")

    def count(self, url: str, headers: dict[str, str] | None = None) -> int:
        """A count endpoint's plain-text integer (Graph ``$count``)."""
        response = self.get(url, headers=headers, accept=(404,))
        if response.status_code == 404:
            raise SnapshotError(f"{_where(response)} was gone (404): it changed while it was read")
        text = response.content.decode("utf-8-sig", errors="replace").strip()
        if not text.isdigit():
            raise SnapshotError(f"{_where(response)} did not answer a count")
        return int(text)

    @contextmanager
    def waiting(self) -> Iterator[None]:
        """Count the wall time during which at least one thread waits on the IdP."""
        with self._lock:
            if self._waiting == 0:
                self._since = time.perf_counter()
            self._waiting += 1
        try:
            yield
        finally:
            with self._lock:
                self._waiting -= 1
                if self._waiting == 0:
                    self.waited += time.perf_counter() - self._since

    def pause(self, seconds: float) -> None:
        """Sleep because the IdP asked for it (counted as waiting); never past the deadline."""
        if seconds > self._left():
            raise self._late(f"waiting {seconds:.1f}s more as the IdP asks would pass it")
        with self.waiting():
            self.retry.sleep(seconds)

    def json(self, response: requests.Response) -> Any:
        """The body as JSON; a page that is not JSON makes the snapshot unusable."""
        try:
            return response.json()
        except ValueError as exc:
            raise SnapshotError(f"{_where(response)} returned a body that is not JSON") from exc

    def _check_origin(self, url: str) -> None:
        if origin_of(url) != self.origin:
            raise SnapshotError(
                f"the IdP sent a link to {_origin_text(origin_of(url))}, outside the configured "
                f"{_origin_text(self.origin)}; it was not requested, so the credential was not sent"
            )

    def _left(self) -> float:
        return self._until - time.monotonic()

    def _late(self, detail: str) -> TransientSourceError:
        return TransientSourceError(
            f"the pull passed its deadline of {self.bounds.deadline:g}s (deadline) after "
            f"{self.requests} requests: {detail}"
        )

    def _try(
        self, url: str, params: dict[str, Any] | None, headers: dict[str, str] | None
    ) -> tuple[requests.Response | None, str]:
        left = self._left()
        if left <= 0:
            raise self._late(f"GET {_strip(url)} was not sent")
        b = self.bounds
        timeout = (min(b.connect_timeout, left), min(b.read_timeout, left))
        with self._lock:
            self.requests += 1
        try:
            with self.waiting():
                response = self.session.get(
                    url,
                    params=params,
                    headers=headers,
                    timeout=timeout,
                    stream=True,  # the body is read below, against its own deadline
                    allow_redirects=False,  # a redirect could carry the credential elsewhere
                )
                try:
                    self._read_body(response)
                finally:
                    response.close()
        except _SlowBody as slow:
            if self._left() <= 0:
                raise self._late(f"GET {_strip(url)} was still sending its body") from None
            return None, str(slow)
        except requests.ConnectTimeout:
            where = f"GET {_strip(url)}"
            return None, f"{where} could not connect within {timeout[0]:g}s (connect_timeout)"
        except (requests.Timeout, urllib3.exceptions.ReadTimeoutError):
            return None, f"GET {_strip(url)} fell silent for {timeout[1]:g}s (read_timeout)"
        except requests.ConnectionError as exc:
            return None, f"GET {_strip(url)} failed to connect ({type(exc).__name__})"
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            return (
                None,
                f"GET {_strip(url)} broke off while sending its body ({type(exc).__name__})",
            )
        return response, f"{_where(response)} answered {response.status_code}"

    def _read_body(self, response: requests.Response) -> None:
        """Read the whole body before its deadline, however slowly the bytes trickle in."""
        limit = min(self.bounds.body_timeout, self._left())
        until = time.monotonic() + limit
        chunks: list[bytes] = []
        while True:
            chunk = response.raw.read1(65536, decode_content=True)
            if not chunk:
                break
            chunks.append(chunk)
            if time.monotonic() > until:
                raise _SlowBody(
                    f"{_where(response)} did not send its whole body within "
                    f"{limit:g}s (body_timeout)"
                )
        # what requests itself stores once a streamed body is read, so .json() and .text work
        # and closing the response hands the connection back to the pool
        response._content = b"".join(chunks)
        response._content_consumed = True  # type: ignore[attr-defined]  # not in the stubs


class _SlowBody(Exception):
    """A response body that did not arrive in time."""


def in_parallel(fn: Callable[[T], R], items: Sequence[T], workers: int) -> list[R]:
    """``[fn(i) for i in items]`` on up to ``workers`` threads, in order; the first failure
    cancels what has not started and is raised, so a fetch stays all or nothing."""
    if workers <= 1 or len(items) <= 1:
        return [fn(item) for item in items]
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="pull") as pool:
        futures = [pool.submit(fn, item) for item in items]
        try:
            return [future.result() for future in futures]
        except BaseException:
            for future in futures:
                future.cancel()
            raise


def _redirected(response: requests.Response) -> SourceError:
    target = response.headers.get("Location", "")
    return ConfigurationSourceError(
        f"{_where(response)} redirected ({response.status_code}) to {_strip(target) or 'nowhere'}; "
        "redirects are not followed: configure the final URL"
    )


def _origin_text(origin: tuple[str, str, int]) -> str:
    scheme, host, port = origin
    return f"{scheme}://{host}:{port}"


def _permanent(response: requests.Response, detail: str) -> SourceError:
    status = response.status_code
    where = _where(response)
    if status in (401, 403):
        return ConfigurationSourceError(f"{where} refused the credentials ({status}){detail}")
    if status == 404:
        return ConfigurationSourceError(f"{where} was not found (404): check the URL{detail}")
    return ConfigurationSourceError(f"{where} rejected the request ({status}){detail}")


def _describe(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    if isinstance(body, dict):
        for key in ("errorSummary", "detail", "error_description", "message"):
            if isinstance(body.get(key), str):
                return f": {body[key][:200]}"
        error = body.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return f": {error['message'][:200]}"
    return ""


def _where(response: requests.Response) -> str:
    return f"GET {_strip(response.url)}"


def _strip(url: str) -> str:
    """The URL without its query string (cursors can be long; tokens never go in URLs)."""
    return url.split("?", 1)[0]
