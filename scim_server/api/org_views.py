"""Org, workspaces and members of the admin API."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request

from mappings.state import Member, format_time
from mappings.visibility import visible_roles
from scim_server.api import bp
from scim_server.api.bodies import MemberRoles, WorkspaceCreate
from scim_server.api.context import (
    caller,
    json_body,
    org_context,
    read_session,
    session_factory,
)
from scim_server.api.problems import ApiProblem
from scim_server.api.responses import MemberList, reply
from sync.listings import members_page
from sync.paging import parse_limit
from sync.services.members import remove_member, resend_invite, revoke_invite, set_member
from sync.services.workspaces import create_workspace
from sync.store.orgs import WorkspaceView, count_members_by_role, org_view, workspace_names
from sync.store.orgs import list_workspaces as workspaces_of

__all__ = ["member_json"]


def member_json(m: Member) -> dict[str, Any]:
    """The API's member shape."""
    return {
        "email": m.email,
        "org_role": m.org_role,
        "status": m.status,
        "origin": m.origin,
        "idp_id": m.idp_id,
        "invited_at": format_time(m.invited_at),
        "workspaces": {ws: list(r) for ws, r in m.workspaces.items()},
    }


def _workspaces(listed: list[WorkspaceView]) -> list[dict[str, Any]]:
    return [{"name": w.name, "credits": w.credits} for w in listed]


@bp.get("/orgs")
def list_orgs() -> Response:
    """The organisations this key sees: its own."""
    who = caller()
    return jsonify(orgs=[{"name": who.org_name, "role": who.role}])


@bp.get("/orgs/<org>")
def get_org(org: str) -> Response:
    """The org: role model, plan, credits, workspaces and members per role."""
    with read_session() as s:
        ctx = org_context(s, org)
        row = org_view(s, ctx.id)
        return jsonify(
            name=row.name,
            role_model=row.role_model,
            plan=row.plan,
            credits=row.credits,
            org_roles=list(ctx.role_model.org_roles),
            workspace_roles=list(ctx.role_model.workspace_roles),
            workspaces=_workspaces(workspaces_of(s, ctx.id)),
            members_by_role=count_members_by_role(s, ctx.id),
            caller={
                "role": ctx.caller.role,
                "key_id": ctx.caller.key_id,
                "workspaces": dict(ctx.caller.workspaces),
            },
        )


@bp.get("/orgs/<org>/workspaces")
def list_workspaces(org: str) -> Response:
    """The org's workspaces and their credits."""
    with read_session() as s:
        ctx = org_context(s, org)
        return jsonify(workspaces=_workspaces(workspaces_of(s, ctx.id)))


@bp.post("/orgs/<org>/workspaces")
def add_workspace(org: str) -> tuple[Response, int]:
    """Create a workspace within the org's plan and credit rules."""
    with read_session() as s:
        ctx = org_context(s, org)
    body = WorkspaceCreate.model_validate(json_body())
    made = create_workspace(session_factory(), ctx.id, body.name, body.credits, ctx.authority)
    return jsonify(name=made.workspace.name, credits=made.workspace.credits), 201


@bp.get("/orgs/<org>/members")
def get_members(org: str) -> Response:
    """Members by email, a page at a time, with org role, status, workspace roles and origin."""
    args = request.args
    with read_session() as s:
        ctx = org_context(s, org)
        visible = None
        if ctx.role_model.visibility_per_workspace:
            # the query keeps only the members (and workspace roles) the caller may see
            names = workspace_names(s, ctx.id)
            visible = visible_roles(ctx.role_model, ctx.authority, names)
        page = members_page(
            s,
            ctx.id,
            limit=parse_limit(args.get("limit")),
            cursor=args.get("cursor"),
            role=args.get("role"),
            status=args.get("status"),
            query=args.get("q"),
            visible=visible,
        )
        return reply(MemberList, members=page.items, next_cursor=page.next_cursor)


@bp.put("/orgs/<org>/members")
def put_member(org: str) -> tuple[Response, int]:
    """Invite a member by hand or change a member's roles, as a plan of the role model."""
    with read_session() as s:
        ctx = org_context(s, org)
    body = MemberRoles.model_validate(json_body())
    done = set_member(
        session_factory(),
        ctx.id,
        body.email,
        body.org_role,
        body.workspaces,
        caller=ctx.authority,
    )
    assert done.member is not None
    return jsonify(member_json(done.member)), 201 if done.created else 200


@bp.delete("/orgs/<org>/members/<path:email>")
def delete_member(org: str, email: str) -> Response:
    """Remove a member (a pending invite is revoked); access ends at once."""
    with read_session() as s:
        ctx = org_context(s, org)
    done = remove_member(session_factory(), ctx.id, email, caller=ctx.authority)
    return jsonify(email=done.email, operations=[o.to_dict() for o in done.plan.operations])


@bp.post("/orgs/<org>/members/<path:email>/resend")
def resend_member_invite(org: str, email: str) -> Response:
    """Send a pending invite again (an expired one is renewed)."""
    with read_session() as s:
        ctx = org_context(s, org)
    done = resend_invite(session_factory(), ctx.id, email, caller=ctx.authority)
    assert done.member is not None
    return jsonify(member_json(done.member))


@bp.post("/orgs/<org>/members/<path:email>/revoke")
def revoke_member_invite(org: str, email: str) -> Response:
    """Withdraw a pending invite: its link stops working."""
    with read_session() as s:
        ctx = org_context(s, org)
    done = revoke_invite(session_factory(), ctx.id, email, caller=ctx.authority)
    return jsonify(email=done.email, operations=[o.to_dict() for o in done.plan.operations])


@bp.get("/orgs/<org>/members/<path:email>")
def get_member(org: str, email: str) -> Response:
    """One member."""
    with read_session() as s:
        ctx = org_context(s, org)
        visible = None
        if ctx.role_model.visibility_per_workspace:
            visible = visible_roles(ctx.role_model, ctx.authority, workspace_names(s, ctx.id))
        found = members_page(s, ctx.id, limit=1, cursor=None, email=email, visible=visible)
        if not found.items:
            raise ApiProblem(404, "not found", f"no member {email!r}", "email")
        return jsonify(found.items[0])
