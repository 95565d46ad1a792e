"""The demo's data: an org per role model preset with its sample directory and mapping,
a change to that directory, and the credentials to sign in to the demo org."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy.orm import Session, sessionmaker

from mappings import PRESETS
from mappings.directory import Directory, GroupMember
from sync import mirror
from sync.credentials.apikeys import create_api_key
from sync.credentials.tokens import create_token
from sync.samples import Sample
from sync.store.mappings import save_mapping
from sync.store.orgs import create_org, get_org

__all__ = ["DEMO_ORG", "demo_credentials", "promote", "replace_directory", "seed_sample"]

DEMO_ORG = "shareofmodel-demo"  # the org the served demo signs in to


def promote(directory: Directory, user_id: str) -> tuple[Directory, str]:
    """The directory with ``user_id`` added to the first group it is not in yet (the
    samples list their highest role first), and that group's name."""
    groups = list(directory.groups)
    for i, group in enumerate(groups):
        if all(m.value != user_id for m in group.members):
            groups[i] = replace(group, members=(*group.members, GroupMember(user_id, "User")))
            return replace(directory, groups=tuple(groups)), group.display_name
    return directory, ""


def seed_sample(
    factory: sessionmaker[Session], preset: str, sample: Sample, directory: Directory
) -> tuple[int, int, str]:
    """Create the preset's demo org with its sample mapping and directory: (org id,
    source id, org name)."""
    with factory.begin() as s:
        org = create_org(s, f"{preset}-demo", preset, plan=sample.plan, credits=sample.credits)
        save_mapping(s, org.id, sample.mapping, created_by="demo")
        source = mirror.ensure_source(s, org.id, "okta", "demo-okta")
        mirror.replace_snapshot(s, org.id, source.id, directory)
        return org.id, source.id, org.name


def replace_directory(
    factory: sessionmaker[Session], org_id: int, source_id: int, directory: Directory
) -> None:
    """Replace the demo source's directory (the IdP changed)."""
    with factory.begin() as s:
        mirror.replace_snapshot(s, org_id, source_id, directory)


def demo_credentials(factory: sessionmaker[Session]) -> tuple[str, str]:
    """A new owner API key and SCIM token for the demo org: (key, token), shown once."""
    with factory.begin() as s:
        org = get_org(s, DEMO_ORG)
        _, key = create_api_key(s, org.id, "owner", PRESETS["shareofmodel"].org_roles, "demo")
        _, token = create_token(s, DEMO_ORG, "demo")
    return key, token
