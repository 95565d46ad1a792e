"""rolebridge's log lines: JSON objects with ids, tracebacks kept, secrets masked."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from sync import logs


@pytest.fixture
def lines() -> Iterator[io.StringIO]:
    """The JSON log written to a buffer; the root logger is restored afterwards."""
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    buffer = io.StringIO()
    logs.configure_logging("INFO", stream=buffer)
    yield buffer
    root.handlers[:] = handlers
    root.setLevel(level)
    logs.clear()


def _read(buffer: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


def test_standard_library_and_structlog_lines_share_one_json_shape(lines: io.StringIO) -> None:
    """Both kinds of logger write one JSON object per line with the bound ids."""
    logs.bind(request_id="r-1", org_id=7)
    logging.getLogger("rolebridge.plain").info("plain %s", "text")
    logs.get_logger("rolebridge.structured").info("structured", count=3)
    first, second = _read(lines)
    assert first["event"] == "plain text" and second["count"] == 3
    for line in (first, second):
        assert (line["request_id"], line["org_id"]) == ("r-1", 7)
        assert {"timestamp", "level", "logger"} <= line.keys()


def test_lines_outside_a_request_say_so_with_nulls(lines: io.StringIO) -> None:
    """A line with nothing bound still has request_id and org_id, as null."""
    logging.getLogger("rolebridge.job").warning("tick")
    (line,) = _read(lines)
    assert (line["request_id"], line["org_id"]) == (None, None)


def test_an_exception_keeps_its_traceback_and_loses_its_secrets(lines: io.StringIO) -> None:
    """log.exception writes the traceback in the same JSON line, with tokens masked."""
    try:
        raise ValueError("refused rbscim_0123456789abcdef")
    except ValueError:
        logging.getLogger("rolebridge.edge").exception("failed for Bearer abcdefghijklmnop")
    (line,) = _read(lines)
    assert line["event"] == "failed for Bearer [redacted]"
    assert "ValueError: refused rbscim_[redacted]" in str(line["exception"])
    assert "0123456789abcdef" not in lines.getvalue()
