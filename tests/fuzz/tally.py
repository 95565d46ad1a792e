"""What the fuzzers sent and what came back wrong, summed over the run and printed at the end."""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass, field

__all__ = ["TALLY", "Tally", "examples", "is_error_body", "is_failure"]


def examples(normal: int) -> int:
    """Examples per test: ``normal`` in the test run, ``FUZZ_EXAMPLES`` under ``make fuzz``."""
    return int(os.environ.get("FUZZ_EXAMPLES", normal))


def is_error_body(content_type: str, body: bytes, *, scim: bool) -> bool:
    """Whether an error answer is a SCIM Error (``scim``) or a JSON problem document."""
    media = content_type.partition(";")[0].strip().lower()
    wanted = (
        ("application/scim+json", "application/json")
        if scim
        else ("application/problem+json", "application/json")
    )
    if media not in wanted:
        return False
    try:
        document = json.loads(body)
    except ValueError:
        return False
    if not isinstance(document, dict):
        return False
    if scim:
        return "urn:ietf:params:scim:api:messages:2.0:Error" in document.get("schemas", [])
    return isinstance(document.get("status"), int) and "title" in document


def is_failure(status: int, good_body: bool) -> bool:
    """A 5xx (but 501, RFC 7644's answer for an unsupported endpoint such as /Me), or an
    error whose body is not the expected error document."""
    return (status >= 500 and status != 501) or (status >= 400 and not good_body)


@dataclass
class Tally:
    """Cases run and problems found, per fuzzer."""

    cases: Counter[str] = field(default_factory=Counter)
    statuses: Counter[tuple[str, str]] = field(default_factory=Counter)
    server_errors: Counter[str] = field(default_factory=Counter)
    bad_bodies: Counter[str] = field(default_factory=Counter)

    def record(self, fuzzer: str, status: int, good_body: bool) -> None:
        """Count one case and whether its answer was acceptable."""
        self.cases[fuzzer] += 1
        self.statuses[(fuzzer, "501" if status == 501 else f"{status // 100}xx")] += 1
        if status >= 500 and status != 501:
            self.server_errors[fuzzer] += 1
        if status >= 400 and not good_body:
            self.bad_bodies[fuzzer] += 1

    def lines(self) -> list[str]:
        """The summary printed at the end of the run."""
        return [
            f"{name}: {self.cases[name]} cases, {self.server_errors[name]} 5xx (501 aside), "
            f"{self.bad_bodies[name]} error bodies that were not "
            f"{'SCIM Errors' if 'scim' in name.lower() else 'JSON problems'}; "
            + ", ".join(f"{k}={v}" for (f, k), v in sorted(self.statuses.items()) if f == name)
            for name in sorted(self.cases)
        ]


TALLY = Tally()
