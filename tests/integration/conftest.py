"""Fixtures of the integration tests: the loopback fake IdPs, seeded."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.okta import FakeOkta
from tests.fakes.seed import seed_okta


@pytest.fixture
def okta() -> Iterator[FakeOkta]:
    """A fake Okta org on a loopback port, seeded with the standard directory."""
    fake = FakeOkta()
    seed_okta(fake)
    yield fake
    fake.close()
