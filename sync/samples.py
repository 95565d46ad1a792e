"""Synthetic sample organisations, one per role model preset: a mapping document and a
directory of made-up people. Used by ``rolebridge demo`` and by the tests."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from mappings.directory import Directory, DirectoryGroup, DirectoryUser, GroupMember

__all__ = ["SAMPLES", "Sample", "sample_directory"]


@dataclass(frozen=True, slots=True)
class Sample:
    """One preset's demo org: its plan, credits, mapping and groups (name -> user indexes
    as ``(start, stop, step)``, and nested group names)."""

    preset: str
    plan: str | None
    credits: int | None
    mapping: str
    groups: Mapping[str, tuple[tuple[int, int, int], tuple[str, ...]]]


SAMPLES: Mapping[str, Sample] = {
    "shareofmodel": Sample(
        "shareofmodel",
        "enterprise",
        10000,
        """\
role_model: shareofmodel
rules:
  - group: "SOM Owners"
    org_role: owner
  - group: "SOM Analysts"
    org_role: editor
  - match: '^ws-(?P<workspace>[a-z0-9-]+)-(?P<role>viewer|editor)$'
    org_role: guest
    workspace: "{workspace}"
    workspace_role: "{role}"
    create_workspace: true
    credits: 500
policy:
  unmapped: remove
  max_removals: "50%"
""",
        {
            "SOM Owners": ((0, 1, 1), ()),
            "SOM Analysts": ((1, 4, 1), ()),
            "ws-brand-a-viewer": ((4, 8, 1), ()),
            "ws-brand-b-editor": ((8, 12, 1), ()),
        },
    ),
    "aihub": Sample(
        "aihub",
        None,
        None,
        """\
role_model: aihub
rules:
  - group: "AI Admins"
    org_role: admin
  - group: "AI Users"
    org_role: user
  - match: '^ai-(?P<workspace>[a-z0-9-]+)-managers$'
    workspace: "{workspace}"
    workspace_role: manager
    create_workspace: true
  - match: '^ai-(?P<workspace>[a-z0-9-]+)-users$'
    workspace: "{workspace}"
    workspace_role: user
    create_workspace: true
policy:
  max_removals: "50%"
""",
        {
            "AI Admins": ((0, 2, 1), ()),
            "AI Users": ((2, 12, 1), ("ai-research-users",)),
            "ai-research-managers": ((2, 4, 1), ()),
            "ai-research-users": ((4, 9, 1), ()),
        },
    ),
    "soterai": Sample(
        "soterai",
        None,
        None,
        """\
role_model: soterai
rules:
  - group: "Owners"
    org_role: owner
  - group: "Managers"
    org_role: manager
  - group: "Staff"
    org_role: member
policy:
  max_removals: "50%"
""",
        {
            "Owners": ((0, 1, 1), ()),
            "Managers": ((1, 3, 1), ()),
            "Staff": ((3, 12, 1), ("Managers",)),
        },
    ),
    "annotation": Sample(
        "annotation",
        None,
        None,
        """\
role_model: annotation
rules:
  - group: "Labellers"
    org_role: member
    workspace: labelling
    workspace_role: member
    create_workspace: true
  - group: "Label Leads"
    workspace: labelling
    workspace_role: [annotation_manager, project_manager]
  - group: "Label Devs"
    workspace: labelling
    workspace_role: developer
policy:
  max_removals: "50%"
""",
        {
            "Labellers": ((0, 12, 1), ()),
            "Label Leads": ((0, 2, 1), ()),
            "Label Devs": ((2, 4, 1), ()),
        },
    ),
}


def sample_directory(sample: Sample, users: int = 12, domain: str = "example.com") -> Directory:
    """The sample's synthetic directory: ``users`` people, ids ``u000``..., in its groups."""
    people = tuple(
        DirectoryUser(
            id=f"u{i:03}",
            user_name=f"person{i}@{domain}",
            emails=(f"person{i}@{domain}",),
            external_id=f"ext-{i:03}",
            display_name=f"Person {i}",
        )
        for i in range(users)
    )
    ids = {name: f"g-{n}" for n, name in enumerate(sample.groups)}
    groups = []
    for name, ((start, stop, step), nested) in sample.groups.items():
        members = [GroupMember(f"u{i:03}", "User") for i in range(start, min(stop, users), step)]
        members += [GroupMember(ids[g], "Group") for g in nested]
        groups.append(DirectoryGroup(ids[name], name, members=tuple(members)))
    return Directory(users=people, groups=tuple(groups))
