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
from mappings.state import Member, PlatformState

__all__ = ["fingerprint"]

_ID = attrgetter("id")
_VALUE = attrgetter("value")


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str).encode()


def _member_row(m: Member) -> str:
    """One member as text; control characters separate fields (names never hold them)."""
    ws = (
        "\x1d".join(
            [
                f"{k}\x1c{','.join(sorted(r)) if len(r) > 1 else ''.join(r)}"
                for k, r in sorted(m.workspaces.items())
            ]
        )
        if m.workspaces
        else ""
    )
    invited = int(m.invited_at.timestamp()) if m.invited_at else ""
    return (
        f"{m.email}\x1f{m.org_role}\x1f{m.status}\x1f{m.origin}\x1f"
        f"{m.idp_id or ''}\x1f{invited}\x1f{ws}"
    )


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
    rows = sorted([_member_row(m) for m in state.members])
    h.update("\x1e".join(rows).encode())
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
