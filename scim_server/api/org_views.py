"""Org, workspaces and members of the admin API."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request
from sqlalchemy import select

from mappings.authority import (
    refusal_for_admin_action,
    refusal_for_member_change,
    refusal_for_workspace_change,
)
from mappings.state import Member, format_time
from scim_server.api import bp
from scim_server.api.bodies import MemberRoles, WorkspaceCreate
from scim_server.api.context import (
    OrgContext,
    caller,
    deny_unless_allowed,
    json_body,
    org_context,
    read_session,
    transaction,
)
from scim_server.api.problems import ApiProblem
from scim_server.api.responses import MemberList, reply
from sync.admin_store import count_members_by_role, record_audit, set_member
from sync.listings import members_page
from sync.models import Organisation, Workspace
from sync.orgs import check_member_roles, create_workspace
from sync.paging import parse_limit
from sync.platform import load_state

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


def _workspaces(session: Any, org_id: int) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(Workspace).where(Workspace.org_id == org_id).order_by(Workspace.name)
    )
    return [{"name": w.name, "credits": w.credits} for w in rows]


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
        row = s.get(Organisation, ctx.id)
        assert row is not None
        return jsonify(
            name=row.name,
            role_model=row.role_model,
            plan=row.plan,
            credits=row.credits,
            org_roles=list(ctx.role_model.org_roles),
            workspace_roles=list(ctx.role_model.workspace_roles),
            workspaces=_workspaces(s, ctx.id),
            members_by_role=count_members_by_role(s, ctx.id),
            caller={"role": ctx.caller.role, "key_id": ctx.caller.key_id},
        )


@bp.get("/orgs/<org>/workspaces")
def list_workspaces(org: str) -> Response:
    """The org's workspaces and their credits."""
    with read_session() as s:
        ctx = org_context(s, org)
        return jsonify(workspaces=_workspaces(s, ctx.id))


@bp.post("/orgs/<org>/workspaces")
def add_workspace(org: str) -> tuple[Response, int]:
    """Create a workspace within the org's plan and credit rules."""
    with transaction() as s:
        ctx = org_context(s, org)
        body = WorkspaceCreate.model_validate(json_body())
        deny_unless_allowed(refusal_for_admin_action(ctx.role_model, ctx.caller.role))
        ws = create_workspace(s, ctx.id, body.name, body.credits)
        created = {"op": "create_workspace", "workspace": ws.name, "credits": ws.credits}
        record_audit(s, ctx.id, ctx.caller.actor, "create_workspace", "", created)
        return jsonify(name=ws.name, credits=ws.credits), 201


@bp.get("/orgs/<org>/members")
def get_members(org: str) -> Response:
    """Members by email, a page at a time, with org role, status, workspace roles and origin."""
    args = request.args
    with read_session() as s:
        ctx = org_context(s, org)
        page = members_page(
            s,
            ctx.id,
            limit=parse_limit(args.get("limit")),
            cursor=args.get("cursor"),
            role=args.get("role"),
            status=args.get("status"),
            query=args.get("q"),
        )
        return reply(MemberList, members=page.items, next_cursor=page.next_cursor)


def _check_member_change(ctx: OrgContext, current: Member | None, body: MemberRoles) -> None:
    """422 for roles the role model refuses, 409 for an IdP-managed member, 403 beyond
    ``manages``."""
    model, acting = ctx.role_model, ctx.caller.role
    role = body.org_role or (current.org_role if current else model.default_org_role)
    check_member_roles(model, role, body.workspaces or {})
    if current is not None and current.origin == "idp":
        why = "the identity provider manages this member; change its groups instead"
        raise ApiProblem(409, "conflict", why, "email")
    before = current.org_role if current else None
    deny_unless_allowed(refusal_for_member_change(model, acting, before, body.org_role), "org_role")
    if body.workspaces is not None:
        now = current.workspaces if current else {}
        held = [r for ws in body.workspaces for r in now.get(ws, ())]
        given = [r for roles in body.workspaces.values() for r in roles]
        refusal = refusal_for_workspace_change(model, acting, held, given)
        deny_unless_allowed(refusal, "workspaces")


@bp.put("/orgs/<org>/members")
def put_member(org: str) -> tuple[Response, int]:
    """Add a manual member or change a member's roles, within what the key's role manages."""
    with transaction() as s:
        ctx = org_context(s, org)
        body = MemberRoles.model_validate(json_body())
        members = {m.key: m for m in load_state(s, ctx.id).members}
        current = members.get(body.email.strip().casefold())
        if current is None and body.org_role is None:
            body = body.model_copy(update={"org_role": ctx.role_model.default_org_role})
        _check_member_change(ctx, current, body)
        member, created = set_member(
            s, ctx.id, ctx.role_model, body.email, body.org_role, body.workspaces
        )
        detail: dict[str, object] = body.model_dump(exclude_none=True) | {"created": created}
        if current is not None:
            detail["from"] = current.org_role
        record_audit(s, ctx.id, ctx.caller.actor, "set_member", member.email, detail)
        after = {m.key: m for m in load_state(s, ctx.id).members}[member.email]
        return jsonify(member_json(after)), 201 if created else 200


@bp.get("/orgs/<org>/members/<path:email>")
def get_member(org: str, email: str) -> Response:
    """One member."""
    with read_session() as s:
        ctx = org_context(s, org)
        found = {m.key: m for m in load_state(s, ctx.id).members}.get(email.strip().casefold())
        if found is None:
            raise ApiProblem(404, "not found", f"no member {email!r}", "email")
        return jsonify(member_json(found))
