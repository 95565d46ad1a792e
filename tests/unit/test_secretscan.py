"""The suite-wide secret scan finds a minted token that reached a log, and nothing else."""

from __future__ import annotations

import logging
import secrets

from tests.secretscan import SCAN, SecretScan, find_leaks


def test_find_leaks_names_tokens_that_occur_in_the_text() -> None:
    """A token inside a log line is reported; one that is absent, or too short, is not."""
    texts = ["GET /scim/v2/Users ok", "token=rbscim_AAAAAAAAAAAAAAAAAAAA in a line", "id 1f2e"]
    tokens = ["rbscim_AAAAAAAAAAAAAAAAAAAA", "rbk_BBBBBBBBBBBBBBBBBBBB", "1f2e"]
    assert find_leaks(texts, tokens) == ["rbscim_AAAAAAAAAAAAAAAAAAAA"]


def test_a_minted_token_written_to_a_log_is_caught() -> None:
    """A token from ``secrets.token_urlsafe`` that a logger prints is reported at the end."""
    scan = SecretScan()
    scan.start()
    try:
        token = secrets.token_urlsafe(32)
        logging.getLogger("rolebridge.careless").debug("made %s", token)
        logging.getLogger("rolebridge.careful").debug("made a token")
    finally:
        leaks = scan.stop()
    SCAN.tokens.discard(token)  # the deliberate leak above is not the suite's
    assert leaks == [token]
