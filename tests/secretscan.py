"""The suite-wide check that no secret reaches a log.

While the suite runs, every token that ``secrets.token_urlsafe`` / ``token_hex`` mints
(SCIM tokens, API keys, invite tokens, the fake IdPs' access tokens...) is remembered,
and every log record any logger emits is kept as raw text (message, arguments and
traceback, before any redaction). At the end each token is looked for in that text.
Tests that run rolebridge in other processes add those processes' logs with
``SCAN.add_text`` and the tokens they were printed with ``SCAN.add_secret``.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Iterable

__all__ = ["SCAN", "SecretScan", "find_leaks", "where"]

MIN_SECRET_CHARS = 16  # shorter random strings (ids, nonces) are not credentials


def find_leaks(texts: Iterable[str], tokens: Iterable[str]) -> list[str]:
    """The tokens that occur in any of ``texts``."""
    corpus = "\n".join(texts)
    return sorted({t for t in tokens if len(t) >= MIN_SECRET_CHARS and t in corpus})


def where(texts: Iterable[str], token: str, width: int = 160) -> str:
    """The first log text holding ``token``, around it, with the token itself masked."""
    for text in texts:
        at = text.find(token)
        if at >= 0:
            start = max(at - width, 0)
            return text[start : at + len(token) + width].replace(token, "<TOKEN>")
    return ""


class _Keep(logging.Handler):
    def __init__(self, sink: list[str]) -> None:
        super().__init__(level=logging.DEBUG)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        try:
            parts = [str(record.msg), repr(record.args), record.getMessage()]
        except Exception:  # a record whose arguments do not fit its message still counts
            parts = [str(record.msg), repr(record.args)]
        if record.exc_info:
            parts.append(logging.Formatter().formatException(record.exc_info))
        self.sink.append(" ".join(parts))


class SecretScan:
    """Collects minted tokens and emitted log text between ``start`` and ``stop``."""

    def __init__(self) -> None:
        self.tokens: set[str] = set()
        self.texts: list[str] = []
        self._handler = _Keep(self.texts)
        self._saved: dict[str, Callable[..., str]] = {}
        self._level = logging.WARNING

    def add_secret(self, token: str) -> None:
        """Also look for ``token`` (minted elsewhere, e.g. by a subprocess)."""
        self.tokens.add(token)

    def add_text(self, text: str) -> None:
        """Also scan ``text`` (e.g. a subprocess's log)."""
        self.texts.append(text)

    def start(self) -> None:
        """Remember minted tokens and keep every log record from now on."""
        for name in ("token_urlsafe", "token_hex"):
            original = getattr(secrets, name)
            self._saved[name] = original
            setattr(secrets, name, self._recording(original))
        root = logging.getLogger()
        self._level = root.level
        root.setLevel(logging.DEBUG)
        root.addHandler(self._handler)

    def stop(self) -> list[str]:
        """Stop collecting; the tokens that leaked into a log."""
        for name, original in self._saved.items():
            setattr(secrets, name, original)
        root = logging.getLogger()
        root.removeHandler(self._handler)
        root.setLevel(self._level)
        return find_leaks(self.texts, self.tokens)

    def _recording(self, original: Callable[..., str]) -> Callable[..., str]:
        def mint(nbytes: int | None = None) -> str:
            token = original(nbytes)
            self.tokens.add(token)
            return token

        return mint


SCAN = SecretScan()
