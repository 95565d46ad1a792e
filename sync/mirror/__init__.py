"""The directory mirror: what each source (SCIM push, Okta, Graph, SCIM pull) says, per org.

The one module family that reads and writes the directory tables; the SCIM service, the
pulls, the demo and the tests all go through it:

- ``sync.mirror.values``: the columns of a user or group (every key through
  ``identity_key``) and the type of a group member
- ``sync.mirror.rows``: per-row writes (a SCIM create, replace, PATCH or delete)
- ``sync.mirror.replace``: a source's whole snapshot replaced in bulk statements (a pull)
- ``sync.mirror.read``: ``load_directory``, the org's sources merged, or one source's
"""

from __future__ import annotations

from sync.mirror.read import load_directory, source_directory
from sync.mirror.replace import SnapshotChanges, replace_snapshot
from sync.mirror.rows import (
    SOURCE_KINDS,
    add_group_members,
    delete_group,
    delete_user,
    ensure_source,
    remove_group_members,
    upsert_group,
    upsert_user,
)
from sync.mirror.values import group_values, member_type, user_values

__all__ = [
    "SOURCE_KINDS",
    "SnapshotChanges",
    "add_group_members",
    "delete_group",
    "delete_user",
    "ensure_source",
    "group_values",
    "load_directory",
    "member_type",
    "remove_group_members",
    "replace_snapshot",
    "source_directory",
    "upsert_group",
    "upsert_user",
    "user_values",
]
