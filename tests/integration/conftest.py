"""Fixtures of the integration tests: the loopback fake IdPs, bare or seeded with the
standard directory (``tests.fakes.seed``). A test module that needs another directory
overrides ``okta`` or ``graph`` with a fixture taking ``bare_okta`` or ``bare_graph``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.graph import FakeGraph
from tests.fakes.okta import FakeOkta
from tests.fakes.scim import FakeScim
from tests.fakes.seed import scim_directory, seed_graph, seed_okta


@pytest.fixture
def bare_okta() -> Iterator[FakeOkta]:
    """A fake Okta org on a loopback port, with no one in it."""
    fake = FakeOkta()
    yield fake
    fake.close()


@pytest.fixture
def okta(bare_okta: FakeOkta) -> FakeOkta:
    """A fake Okta org seeded with the standard directory."""
    seed_okta(bare_okta)
    return bare_okta


@pytest.fixture
def bare_graph() -> Iterator[FakeGraph]:
    """A fake Microsoft Graph tenant on a loopback port, with no one in it."""
    fake = FakeGraph()
    yield fake
    fake.close()


@pytest.fixture
def graph(bare_graph: FakeGraph) -> FakeGraph:
    """A fake Graph tenant seeded with the standard directory."""
    seed_graph(bare_graph)
    return bare_graph


@pytest.fixture
def scim() -> Iterator[FakeScim]:
    """A loopback SCIM server holding the standard directory."""
    fake = FakeScim()
    fake.load(scim_directory())
    yield fake
    fake.close()
