"""The fingerprint of a plan's inputs: a saved plan applies only while it still matches.

The hash covers the directory, the actual state, the mapping and the role model, each
in a canonical form (sorted, so the order a source lists things in does not matter).
"""

from __future__ import annotations

import hashlib
import json
from operator import attrgetter
from typing import Any

from mappings.directory import Directory
from mappings.mapping import RoleMapping
from mappings.rolemodel import RoleModel, role_model_to_dict
from mappings.state import PlatformState

__all__ = ["fingerprint"]

_ID = attrgetter("id")
_VALUE = attrgetter("value")


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str).encode()


def fingerprint(
    directory: Directory, state: PlatformState, mapping: RoleMapping, role_model: RoleModel
) -> str:
    """``sha256:<hex>`` of the canonical inputs."""
    h = hashlib.sha256()
    h.update(_canonical(role_model_to_dict(role_model)))
    h.update(_canonical(mapping.to_dict()))
    org = state.organisation
    h.update(_canonical([org.name, org.plan, org.credits]))
    h.update(_canonical(sorted((w.name, w.credits) for w in state.workspaces)))
    members = sorted(
        (
            m.key,
            m.email,
            m.org_role,
            m.status,
            m.origin,
            m.idp_id or "",
            m.invited_at.timestamp() if m.invited_at else 0,
            [(ws, r if len(r) < 2 else sorted(r)) for ws, r in sorted(m.workspaces.items())]
            if m.workspaces
            else (),
        )
        for m in state.members
    )
    h.update(_canonical(members))
    users = sorted(
        (u.id, u.user_name, u.emails, u.external_id or "", u.active, u.display_name or "", u.roles)
        for u in directory.users
    )
    h.update(_canonical(users))
    for g in sorted(directory.groups, key=_ID):
        nested = sorted([m.value for m in g.members if m.type == "Group"])
        h.update(_canonical([g.id, g.display_name, g.external_id or "", nested]))
        h.update("\x1f".join(sorted(map(_VALUE, g.members))).encode())
        h.update(b"\x1e")
    return f"sha256:{h.hexdigest()}"
