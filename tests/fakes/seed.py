"""Small, readable directories seeded into the fakes (the same people in each IdP)."""

from __future__ import annotations

from typing import Any

from tests.fakes.graph import FakeGraph
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


def seed_graph(fake: FakeGraph) -> None:
    """The same five people; Editors nests a 'Contractors' group holding dan."""
    for i, (_, login) in enumerate(PEOPLE, start=1):
        fake.add_user(f"aad-{i}", login)
    fake.state.secrets["app-1"] = "s3cret-value"
    fake.add_group("g-owners", "SOM Owners", ["aad-1"])
    fake.add_group("g-contractors", "Contractors", ["aad-4"])
    fake.add_group("g-editors", "SOM Editors", ["aad-2", "aad-3", "g-contractors"])
    fake.add_group("g-viewers", "SOM Viewers", ["aad-5", "aad-4"])


def scim_directory() -> dict[str, Any]:
    """The five people and three groups as SCIM resources."""
    users = [
        {
            "id": f"s-{uid}",
            "userName": login,
            "active": True,
            "emails": [{"value": login, "primary": True}],
        }
        for uid, login in PEOPLE
    ]
    groups = [
        {"id": "sg-1", "displayName": "SOM Owners", "members": [{"value": "s-00u1"}]},
        {
            "id": "sg-2",
            "displayName": "SOM Editors",
            "members": [{"value": "s-00u2"}, {"value": "s-00u3"}, {"value": "s-00u4"}],
        },
        {"id": "sg-3", "displayName": "SOM Viewers", "members": [{"value": "s-00u5"}]},
    ]
    return {"users": users, "groups": groups}
