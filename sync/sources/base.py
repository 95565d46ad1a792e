"""What every pull source shares: the error taxonomy, retries, paged HTTP and the interface.

    SourceError                      (a RolebridgeError)
     +-- TransientSourceError        429, 5xx, timeouts: retried with backoff, then the run aborts
     +-- ConfigurationSourceError    401/403, a wrong URL, bad settings: the run stops and reports
     +-- SnapshotError               the data is incomplete or inconsistent: nothing is removed
     +-- Cancelled                   the process is stopping: the run ends before its next request

A source returns a complete :class:`Snapshot` or raises; there is no partial result.
"""

from __future__ import annotations

import email.utils
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, TypeVar

import requests

from mappings.directory import Directory
from mappings.errors import RolebridgeError

__all__ = [
    "Cancelled",
    "ConfigurationSourceError",
    "HttpClient",
    "Progress",
    "RetryPolicy",
    "Snapshot",
    "Source",
    "SourceError",
    "SnapshotError",
    "TransientSourceError",
    "in_parallel",
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


Hint = Callable[[requests.Response], "float | None"]


class HttpClient:
    """GETs JSON pages with retries and turns HTTP outcomes into the source error taxonomy."""

    def __init__(
        self,
        session: requests.Session,
        *,
        retry: RetryPolicy | None = None,
        timeout: float = 30.0,
        hint: Hint = retry_after_seconds,
        after: Callable[[requests.Response], None] | None = None,
        describe: Callable[[requests.Response], str] | None = None,
    ) -> None:
        self.session = session
        self.retry = retry or RetryPolicy()
        self.timeout = timeout
        self._hint = hint
        self._after = after
        self._describe = describe or _describe
        self.requests = 0
        self.waited = 0.0  # wall seconds with a request in flight or a pause, for benchmarks
        self._lock = threading.Lock()  # listings may be read on several threads
        self._waiting = 0
        self._since = 0.0

    def get(
        self, url: str, params: dict[str, Any] | None = None, accept: Iterable[int] = ()
    ) -> requests.Response:
        """GET ``url``; 2xx (or a status in ``accept``) is returned, anything else raises."""
        accepted = frozenset(accept)
        for attempt in range(1, self.retry.attempts + 1):
            if self.retry.cancel is not None and self.retry.cancel.is_set():
                raise Cancelled(f"stopped before GET {_strip(url)}")
            response, failure = self._try(url, params)
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
        """Sleep because the IdP asked for it (counted as waiting)."""
        with self.waiting():
            self.retry.sleep(seconds)

    def json(self, response: requests.Response) -> Any:
        """The body as JSON; a page that is not JSON makes the snapshot unusable."""
        try:
            return response.json()
        except ValueError as exc:
            raise SnapshotError(f"{_where(response)} returned a body that is not JSON") from exc

    def _try(self, url: str, params: dict[str, Any] | None) -> tuple[requests.Response | None, str]:
        with self._lock:
            self.requests += 1
        try:
            with self.waiting():
                response = self.session.get(url, params=params, timeout=self.timeout)
        except requests.Timeout:
            return None, f"GET {_strip(url)} timed out"
        except requests.ConnectionError as exc:
            return None, f"GET {_strip(url)} failed to connect ({type(exc).__name__})"
        return response, f"{_where(response)} answered {response.status_code}"


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
