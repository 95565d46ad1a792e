"""Helpers that set up a sample org (preset, mapping, directory) in a test database."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from mappings.directory import Directory
from sync import mirror
from sync.samples import SAMPLES, sample_directory
from sync.store.mappings import save_mapping
from sync.store.orgs import create_org


def sample_org(
    session_factory: sessionmaker[Session], preset: str, *, users: int = 12, mapping: str = ""
) -> tuple[int, Directory]:
    """Create the preset's sample org with its mapping and directory; returns (org id, dir)."""
    sample = SAMPLES[preset]
    directory = sample_directory(sample, users)
    with session_factory.begin() as s:
        org = create_org(s, f"{preset} org", preset, plan=sample.plan, credits=sample.credits)
        save_mapping(s, org.id, mapping or sample.mapping, created_by="test")
        source = mirror.ensure_source(s, org.id, "okta", "okta")
        mirror.replace_snapshot(s, org.id, source.id, directory)
        return org.id, directory


def set_directory(
    session_factory: sessionmaker[Session], org_id: int, directory: Directory
) -> None:
    """Replace the org's okta snapshot."""
    with session_factory.begin() as s:
        source = mirror.ensure_source(s, org_id, "okta", "okta")
        mirror.replace_snapshot(s, org_id, source.id, directory)
