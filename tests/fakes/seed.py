"""Small, readable directories seeded into the fakes (the same people in each IdP)."""

from __future__ import annotations

from tests.fakes.okta import FakeOkta

PEOPLE = [
    ("00u1", "ann@acme.com"),
    ("00u2", "bob@acme.com"),
    ("00u3", "cat@acme.com"),
    ("00u4", "dan@acme.com"),
    ("00u5", "eve@acme.com"),
]


def seed_okta(fake: FakeOkta) -> None:
    """Five users, three groups (Owners: ann; Editors: bob, cat, dan; Viewers: eve, dan)."""
    for uid, login in PEOPLE:
        fake.add_user(uid, login, first=login.split("@")[0].title())
    fake.add_group("00gOwners", "SOM Owners", ["00u1"])
    fake.add_group("00gEditors", "SOM Editors", ["00u2", "00u3", "00u4"])
    fake.add_group("00gViewers", "SOM Viewers", ["00u5", "00u4"])
