"""Okta's and Entra's documented SCIM request sequences, replayed end to end."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from sync.models import DirectoryUser
from tests.e2e.conftest import Scim
from tests.e2e.replay import replay

SAMPLES = [
    "okta-users.json",
    "okta-group-push.json",
    "entra-users.json",
    "entra-users-aadOptscim062020.json",
    "entra-groups.json",
    "entra-groups-aadOptscim062020.json",
    "entra-groups-remove-members.json",
    "entra-app-roles.json",
]


@pytest.mark.parametrize("sample", SAMPLES)
def test_the_clients_documented_requests_get_the_documented_answers(
    scim: Scim, sample: str
) -> None:
    """Every step answers with the status and fields the client expects."""
    replay(scim, sample)


def test_okta_deactivation_lands_in_the_mirror_as_an_inactive_user(
    scim: Scim, session_factory: sessionmaker[Session]
) -> None:
    """Okta never deletes: PATCH active:false leaves an inactive mirrored user."""
    saved = replay(scim, "okta-users.json")
    scim.patch(
        f"/Users/{saved['user']}",
        {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "value": {"active": False}}],
        },
    )
    with session_factory() as session:
        row = session.scalars(
            select(DirectoryUser).where(DirectoryUser.ext_id == saved["user"])
        ).one()
    assert (row.user_name, row.external_id, row.active) == (
        "test.user@okta.local",
        "00ujl29u0le5T6Aj10h7",
        False,
    )
    assert row.emails == ["test.user@okta.local"]


def test_entra_app_roles_are_stored_by_their_value_for_mapping_rules(
    scim: Scim, session_factory: sessionmaker[Session]
) -> None:
    """AppRoleAssignmentsComplex values become role names: Admin, Reader."""
    saved = replay(scim, "entra-app-roles.json")
    with session_factory() as session:
        row = session.scalars(
            select(DirectoryUser).where(DirectoryUser.ext_id == saved["user"])
        ).one()
    assert row.roles == ["Admin", "Reader"]
