"""The limiter's in-memory counters: swept in the request, no timer thread per hit."""

from __future__ import annotations

from limits import parse
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter

from scim_server.ops.hardening import SweptMemoryStorage


def test_the_limiter_uses_the_swept_storage_and_still_limits() -> None:
    """Three hits of a 2-per-minute limit: the third is refused."""
    storage = storage_from_string("rolebridge-memory://")
    assert isinstance(storage, SweptMemoryStorage)
    limiter = FixedWindowRateLimiter(storage)
    limit = parse("2/minute")
    assert [limiter.hit(limit, "token") for _ in range(3)] == [True, True, False]


def test_expired_counters_are_swept_without_a_thread_per_hit() -> None:
    """Hits start no timer thread; an expired counter is dropped at the next sweep."""
    storage = SweptMemoryStorage()
    timer = storage.timer
    storage.incr("gone", expiry=0)
    for _ in range(50):
        storage.incr("kept", expiry=60)
    assert storage.timer is timer  # no thread started by the hits
    storage._next_sweep = 0.0  # the next hit is due to sweep
    storage.incr("kept", expiry=60)
    assert "gone" not in storage.storage and "gone" not in storage.expirations
    assert storage.get("kept") == 51
