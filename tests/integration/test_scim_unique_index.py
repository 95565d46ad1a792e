"""The unique index, not only the check before it, decides a userName race (PostgreSQL).

A writer that does not take the org's lock (the storage outside a SCIM request) checks,
finds no user, and inserts; when another transaction inserted the same userName first,
PostgreSQL's unique index makes it wait, then refuse, and the storage answers 409
``uniqueness``.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from scim2_models import UniquenessException
from sqlalchemy.orm import Session, sessionmaker

from scim_server.scim.provider import make_provider
from scim_server.scim.storage import SqlScimStorage
from tests.integration.test_scim_storage import make_tenant


@pytest.mark.parametrize("engine", ["postgresql"], indirect=True)
@pytest.mark.postgres
def test_the_loser_of_a_race_past_the_check_gets_a_uniqueness_error(
    session_factory: sessionmaker[Session],
) -> None:
    """Two unlocked creates of one userName: the first commits, the second is refused."""
    tenant = make_tenant(session_factory, "acme")
    storage = SqlScimStorage(session_factory, make_provider(), lambda: tenant)
    user_type = next(t for t in storage.provider.resource_types if t.id == "User")
    model: Any = storage.provider.model_for(user_type)
    outcome: list[BaseException | None] = []

    def second() -> None:
        try:
            storage.create(user_type, model(user_name="Ann@acme.com"))
            outcome.append(None)
        except BaseException as exc:  # the test looks at what it was
            outcome.append(exc)

    with storage.operation():
        storage.create(user_type, model(user_name="ann@acme.com"))  # inserted, not committed
        racer = threading.Thread(target=second)
        racer.start()
        racer.join(timeout=1)  # it checked (nothing committed yet) and waits on the index
        assert racer.is_alive()
    racer.join(timeout=30)
    assert len(outcome) == 1 and isinstance(outcome[0], UniquenessException)
