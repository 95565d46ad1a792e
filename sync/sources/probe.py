"""Test a pulled source's connection: one cheap authenticated request (a token first where
the kind signs in with OAuth), within a short timeout, answered in words an admin can act
on. Never a traceback, never the secret (docs/architecture.md section 9).

Each source kind names its request (``probe_target`` on the source: Okta one group, Graph
one group's id, a SCIM server one group); this module sends it without retries or
redirects and turns every outcome into a :class:`ProbeResult`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import requests
import urllib3.exceptions

from sync.sources.base import (
    Bounds,
    ConfigurationSourceError,
    ProbeTarget,
    RetryPolicy,
    SourceError,
    origin_of,
)
from sync.sources.registry import PULL_KINDS, find_kind

__all__ = ["PROBE_TIMEOUT", "ProbeResult", "probe_source"]

PROBE_TIMEOUT = 10.0  # seconds for each step: connecting, each read, the whole body


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """Whether the source answered as it should, and what an admin should know."""

    ok: bool
    detail: str


class _Probeable(Protocol):
    def probe_target(self) -> ProbeTarget: ...


def probe_source(
    kind: str, config: Mapping[str, Any], secret: str, timeout: float = PROBE_TIMEOUT
) -> ProbeResult:
    """Make the kind's one test request with ``secret``; the answer is never an exception."""
    found = find_kind(kind)
    if found is None:
        return _failed(f"a {kind} source cannot be tested; only {', '.join(PULL_KINDS)}", secret)
    bounds = Bounds(
        connect_timeout=timeout, read_timeout=timeout, body_timeout=timeout, deadline=timeout
    )
    try:
        source: _Probeable = found.build(config, secret, RetryPolicy(attempts=1), bounds)  # type: ignore[assignment]  # every registered kind has probe_target
    except (TypeError, ValueError, SourceError) as exc:
        return _failed(f"the settings are not usable: {exc}", secret)
    try:
        target = source.probe_target()  # a kind that signs in with OAuth fetches its token here
    except ConfigurationSourceError as exc:
        cause = exc.__cause__
        if isinstance(cause, requests.RequestException) and not isinstance(
            cause, requests.HTTPError
        ):
            return _failed(_network(cause, _token_url(exc), timeout, "POST"), secret)
        reason = str(exc).rstrip(". ")
        return _failed(f"{reason}: check the client id and its secret or key", secret)
    except SourceError as exc:
        cause = exc.__cause__
        if isinstance(cause, requests.RequestException):
            return _failed(_network(cause, _token_url(exc), timeout, "POST"), secret)
        return _failed(str(exc), secret)
    return _request(target, timeout, secret)


def _request(target: ProbeTarget, timeout: float, secret: str) -> ProbeResult:
    where = f"GET {target.url}"
    try:
        response = target.session.get(
            target.url,
            params=dict(target.params),
            timeout=(timeout, timeout),
            stream=True,
            allow_redirects=False,  # a redirect could carry the credential elsewhere
        )
        try:
            body = _read(response, timeout)
        finally:
            response.close()
    except _TooSlow:
        return _failed(f"{where} timed out after {timeout:g} s while sending its answer", secret)
    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
        return _failed(_network(exc, target.url, timeout), secret)
    status = response.status_code
    if response.is_redirect:
        location = response.headers.get("Location", "").split("?", 1)[0] or "nowhere"
        return _failed(
            f"{where} redirected ({status}) to {location}: set {target.url_setting} to the "
            "final URL",
            secret,
        )
    if status == 401:
        return _failed(
            f"the {target.secret} was refused (401){_said(body)}: check the {target.secret}",
            secret,
        )
    if status == 403:
        return _failed(
            f"the {target.secret} was accepted but may not read groups (403){_said(body)}: "
            "grant it read access to users and groups",
            secret,
        )
    if status == 404:
        return _failed(f"{where} was not found (404): check {target.url_setting}", secret)
    if status == 429:
        return _failed(f"{where} was rate limited (429): try again in a minute", secret)
    if status >= 500:
        return _failed(f"{where} answered {status}: the server is failing; try again later", secret)
    if not 200 <= status < 300:
        return _failed(f"{where} rejected the request ({status}){_said(body)}", secret)
    try:
        parsed = _json(body)
    except ValueError:
        return _failed(
            f"the response was not JSON ({where}): check that {target.url_setting} names the "
            "API, not a web page",
            secret,
        )
    if not target.fits(parsed):
        return _failed(
            f"the response was JSON but not {target.expected} ({where}): check "
            f"{target.url_setting}",
            secret,
        )
    scheme, host, port = origin_of(target.url)
    return ProbeResult(True, f"connected to {scheme}://{host}:{port}: the {target.secret} works")


class _TooSlow(Exception):
    """The answer's body did not arrive within the timeout."""


def _read(response: requests.Response, timeout: float) -> bytes:
    until = time.monotonic() + timeout
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = response.raw.read1(65536, decode_content=True)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        size += len(chunk)
        if time.monotonic() > until:
            raise _TooSlow
        if size > 1_000_000:  # one group is small; more is not the API asked
            return b"".join(chunks)


def _json(body: bytes) -> Any:
    return json.loads(body.decode("utf-8-sig"))


def _said(body: bytes) -> str:
    """The server's own short reason, when its error body gives one."""
    try:
        parsed = _json(body)
    except ValueError:
        return ""
    if isinstance(parsed, dict):
        for key in ("errorSummary", "detail", "error_description", "message"):
            if isinstance(parsed.get(key), str):
                return f": {parsed[key][:200].rstrip('. ')}"
        error = parsed.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return f": {error['message'][:200].rstrip('. ')}"
    return ""


def _network(exc: BaseException, url: str, timeout: float, method: str = "GET") -> str:
    """A failed connection in words: refused, unknown host, TLS, or a timeout."""
    if isinstance(
        exc, requests.Timeout | urllib3.exceptions.TimeoutError | TimeoutError
    ) or "timed out" in str(exc):
        return f"{method} {url} timed out after {timeout:g} s: check that the server is up"
    scheme, host, port = origin_of(url)
    origin = f"{scheme}://{host}:{port}" if host else url
    text = str(exc)
    if isinstance(exc, requests.exceptions.SSLError):
        reason = "the TLS handshake failed (check the URL's scheme and the certificate)"
    elif "refused" in text.lower():
        reason = "connection refused"
    elif "resolve" in text.lower() or "name or service" in text.lower():
        reason = f"the host name {host!r} was not found"
    else:
        reason = "the connection failed"
    return f"could not reach {origin}: {reason}"


def _token_url(exc: BaseException) -> str:
    """The token endpoint named in an OAuth error's message."""
    for word in str(exc).split():
        if word.startswith(("http://", "https://")):
            return word
    return "the token endpoint"


def _failed(detail: str, secret: str) -> ProbeResult:
    if len(secret) >= 8 and secret in detail:  # an IdP that echoes the credential back
        detail = detail.replace(secret, "[secret]")
    return ProbeResult(False, detail)
