"""Structured logs: one JSON object per line (structlog), with a request id and an org id.

Every line carries ``timestamp``, ``level``, ``logger``, ``event``, ``request_id`` and
``org_id`` (``null`` outside a request or an org's job). rolebridge's own
``logging.getLogger`` calls and the libraries' go through the same renderer, so there is
one format. The ids live in context variables: ``bind(request_id=..., org_id=...)`` adds
them, ``clear()`` forgets them (the web app does both per request, the scheduler per job).

Secrets are never logged: no code passes a token, key or invite link to a logger, and as
a second line of defence the ``_redact`` processor masks anything shaped like one of
rolebridge's tokens (``rbscim_...``, ``rbk_...``), bearer credentials and invite paths.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any, TextIO

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

__all__ = ["bind", "clear", "configure_logging", "formatter", "get_logger", "redact"]

_SECRET = re.compile(
    r"(rbscim_|rbk_)[A-Za-z0-9_\-]{8,}"
    r"|(?i:bearer|ssws)\s+[A-Za-z0-9._~+/=\-]{8,}"
    r"|/invite/[A-Za-z0-9_\-]{8,}"
)
_HANDLER_NAME = "rolebridge"


def redact(text: str) -> str:
    """``text`` with anything shaped like a rolebridge token or bearer credential masked."""
    return _SECRET.sub(_mask, text)


def _mask(match: re.Match[str]) -> str:
    found = match.group(0)
    if found.startswith("/invite/"):
        return "/invite/[redacted]"
    head = match.group(1) or found.split()[0] + " "
    return f"{head}[redacted]"


def _redact(_logger: WrappedLogger, _name: str, event: EventDict) -> EventDict:
    for key, value in list(event.items()):
        if isinstance(value, str):
            event[key] = redact(value)
    return event


def _ids(_logger: WrappedLogger, _name: str, event: EventDict) -> EventDict:
    event.setdefault("request_id", None)
    event.setdefault("org_id", None)
    return event


def _shared() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _ids,
    ]


def formatter(fmt: str = "json") -> logging.Formatter:
    """The ``logging.Formatter`` that renders every record as rolebridge's JSON (or console)."""
    renderer: Processor = (
        structlog.dev.ConsoleRenderer(colors=False)
        if fmt == "console"
        else structlog.processors.JSONRenderer()
    )
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_shared(),
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            _redact,
            renderer,
        ],
    )


def configure_logging(level: str = "INFO", fmt: str = "json", stream: TextIO | None = None) -> None:
    """Send every log record (structlog's and the standard library's) to ``stream`` as JSON.

    Calling it again replaces rolebridge's handler rather than adding a second one.
    """
    handler: logging.Handler = (
        logging.StreamHandler(stream) if stream is not None else _StderrHandler()
    )
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(formatter(fmt))
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # alembic announces its dialect on every schema check (each /readyz): not news
    logging.getLogger("alembic.runtime.migration").setLevel(logging.WARNING)


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time (test runners swap it)."""

    @property  # type: ignore[override]
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


def get_logger(name: str) -> Any:
    """A structlog logger named ``name`` that writes through the standard library's
    ``logging`` (so every handler, and ``configure_logging``'s JSON, sees its lines)."""
    return structlog.wrap_logger(
        logging.getLogger(name),
        # a line below the configured level is dropped before any processor runs
        processors=[
            structlog.stdlib.filter_by_level,
            *_shared(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        wrapper_class=structlog.stdlib.BoundLogger,
    )


def bind(**values: Any) -> None:
    """Add ``request_id``/``org_id`` (or other context) to every line from now on."""
    structlog.contextvars.bind_contextvars(**values)


def clear() -> None:
    """Forget the bound context (at the end of a request or job)."""
    structlog.contextvars.clear_contextvars()


def context() -> Mapping[str, Any]:
    """The context currently bound (for tests and diagnostics)."""
    found: MutableMapping[str, Any] = structlog.contextvars.get_contextvars()
    return found
