"""The fingerprint of a plan's inputs: a saved plan applies only while it still matches.

The hash covers the directory, the actual state, the mapping and the role model, each
in a canonical form (sorted, so the order a source lists things in does not matter).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from mappings.directory import Directory
from mappings.mapping import RoleMapping
from mappings.rolemodel import RoleModel, role_model_to_dict
from mappings.state import PlatformState, format_time

__all__ = ["fingerprint"]


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
            format_time(m.invited_at) or "",
            sorted((ws, sorted(r)) for ws, r in m.workspaces.items()),
        )
        for m in state.members
    )
    h.update(_canonical(members))
    for u in sorted(directory.users, key=lambda u: u.id):
        h.update(
            _canonical(
                [u.id, u.user_name, u.emails, u.external_id, u.active, u.display_name, u.roles]
            )
        )
    for g in sorted(directory.groups, key=lambda g: g.id):
        h.update(_canonical([g.id, g.display_name, g.external_id]))
        h.update("\x1f".join(sorted(f"{m.type or ''}:{m.value}" for m in g.members)).encode())
        h.update(b"\x1e")
    return f"sha256:{h.hexdigest()}"
