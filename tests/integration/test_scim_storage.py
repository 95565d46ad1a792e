"""rolebridge's SCIM storage checked by scim2-server's own storage contract, on both databases."""

from __future__ import annotations

from typing import Any

import pytest
from scim2_models import ScimProvider
from scim2_server.testing import ScimStorageContract
from sqlalchemy.orm import Session, sessionmaker

from scim_server.scim.provider import make_provider
from scim_server.scim.storage import SqlScimStorage
from sync.credentials.tokens import Tenant, scim_source
from sync.models import Organisation


def make_tenant(session_factory: sessionmaker[Session], name: str) -> Tenant:
    """An organisation with its scim source."""
    with session_factory.begin() as session:
        org = Organisation(name=name, role_model="aihub")
        session.add(org)
        session.flush()
        return Tenant(org_id=org.id, source_id=scim_source(session, org.id).id)


class TestSqlScimStorage(ScimStorageContract):
    """The ScimStorage contract (scim2-server) on rolebridge's SQL storage."""

    supports_root_search = False

    @pytest.fixture
    def provider(self) -> ScimProvider:
        """rolebridge's own service description."""
        return make_provider()

    @pytest.fixture
    def storage(self, session_factory: sessionmaker[Session], provider: ScimProvider) -> Any:
        """A fresh storage for a fresh organisation."""
        tenant = make_tenant(session_factory, "contract")
        return SqlScimStorage(session_factory, provider, lambda: tenant)
