"""What a caller sees of the org's members, as data a query can filter by.

``mappings.authority.visible_members`` filters members in memory. A list read a page at a
time filters in its query instead, by what ``visible_roles`` returns: per workspace, the
workspace roles the caller sees members hold there. It is asked of ``visible_members``
itself, on two members made for the question (one in no workspace, one holding every
workspace role in every workspace), so the rule stays in one place (docs/architecture.md
section 4.4).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from mappings.authority import Acting, visible_members
from mappings.rolemodel import RoleModel
from mappings.state import Member

__all__ = ["visible_roles"]

_NOWHERE = "nowhere"  # the made-up members' emails (never a real address: no @)
_EVERYWHERE = "everywhere"


def visible_roles(
    model: RoleModel, acting: Acting, workspaces: Iterable[str]
) -> Mapping[str, frozenset[str]] | None:
    """Per workspace of ``workspaces`` (the org's), the workspace roles the caller sees
    members hold there; a member is seen when it holds one of them, with only those. None:
    the caller sees every member whole (the operator, or visibility is org-wide)."""
    every = tuple(model.workspace_roles)
    probes = [
        Member(email=_NOWHERE, org_role=model.default_org_role),
        Member(
            email=_EVERYWHERE,
            org_role=model.default_org_role,
            workspaces={ws: every for ws in workspaces},
        ),
    ]
    seen = {m.email: m for m in visible_members(model, acting, probes)}
    if _NOWHERE in seen:  # a member in no workspace is seen: nothing is filtered
        return None
    found = seen.get(_EVERYWHERE)
    if found is None:
        return {}
    return {ws: frozenset(roles) for ws, roles in found.workspaces.items()}
