"""Helpers for pull-run tests: an org on a preset with a mapping, and a pulled source."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from sync.credentials.secrets import seal_secret
from sync.models import DirectoryMembership, DirectoryUser, Source
from sync.store.mappings import save_mapping
from sync.store.orgs import create_org
from sync.store.platform import load_state

SECRET_KEY = "test-secret-key-for-source-credentials"

MAPPINGS = {
    "shareofmodel": """
role_model: shareofmodel
rules:
  - group: "SOM Owners"
    org_role: owner
  - group: "SOM Editors"
    org_role: editor
  - group: "SOM Viewers"
    org_role: viewer
policy:
  unmapped: remove
  max_removals: "100%"
""",
    "soterai": """
role_model: soterai
rules:
  - group: "SOM Owners"
    org_role: owner
  - group: "SOM Editors"
    org_role: manager
  - group: "SOM Viewers"
    org_role: member
policy:
  unmapped: remove
  max_removals: "100%"
""",
    "aihub": """
role_model: aihub
rules:
  - group: "SOM Owners"
    org_role: admin
  - group: "SOM Editors"
    org_role: user
  - group: "SOM Viewers"
    org_role: user
policy:
  unmapped: remove
  max_removals: "100%"
""",
}


def pull_org(
    factory: sessionmaker[Session],
    preset: str,
    kind: str,
    config: dict[str, Any],
    secret: str,
    mapping: str | None = None,
) -> tuple[int, int]:
    """An org on ``preset`` with the test mapping (or ``mapping``) and one pulled source;
    (org id, source id)."""
    with factory.begin() as s:
        org = create_org(s, f"{preset} {kind}", preset)
        save_mapping(s, org.id, mapping or MAPPINGS[preset], created_by="test")
        source = Source(
            org_id=org.id,
            name=kind,
            kind=kind,
            config=config,
            secret=seal_secret(secret, SECRET_KEY),
        )
        s.add(source)
        s.flush()
        return org.id, source.id


def roles(factory: sessionmaker[Session], org_id: int) -> dict[str, tuple[str, str]]:
    """Member email -> (org role, status)."""
    with factory() as s:
        return {m.email: (m.org_role, m.status) for m in load_state(s, org_id).members}


def mirror_size(factory: sessionmaker[Session], source_id: int) -> tuple[int, int]:
    """(users, memberships) in a source's mirror."""
    with factory() as s:
        users = s.scalar(
            select(func.count())
            .select_from(DirectoryUser)
            .where(DirectoryUser.source_id == source_id)
        )
        members = s.scalar(select(func.count()).select_from(DirectoryMembership))
        return int(users or 0), int(members or 0)
