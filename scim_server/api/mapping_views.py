"""Mapping (get, validate, save, versions, diff), draft preview and explain."""

from __future__ import annotations

import re
from typing import Any

from flask import Response, jsonify, request

from mappings.errors import InputError
from mappings.render import render_text
from mappings.state import format_time
from scim_server.api import bp
from scim_server.api.bodies import MappingDraft
from scim_server.api.context import (
    int_arg,
    json_body,
    org_context,
    read_session,
    session_factory,
)
from scim_server.api.problems import ApiProblem
from scim_server.api.responses import MappingOut, SavedVersionOut, reply
from sync.services.drafts import diff_versions, explain_user, explanation_json, preview_draft
from sync.services.mappings import save_mapping
from sync.store.mappings import current_mapping, list_versions, parse_document

__all__: list[str] = []


def _error(e: InputError) -> dict[str, Any]:
    return {"detail": e.message, "field": e.where or "$"}


def version_etag(version: int) -> str:
    """The ETag of a mapping version (``"v0"``: none saved yet)."""
    return f'"v{version}"'


def _expected_version() -> int | None:
    """The version ``If-Match`` names: 428 without one, 412 for one that is not ours;
    ``*`` saves over whatever is newest (None)."""
    header = request.headers.get("If-Match", "").strip()
    if not header:
        detail = "send If-Match with the ETag of the version you edited (GET the mapping)"
        raise ApiProblem(428, "precondition required", detail, "If-Match")
    if header == "*":
        return None
    match = re.fullmatch(r'(?:W/)?"v(\d{1,9})"', header)
    if match is None:
        raise ApiProblem(412, "precondition failed", "not an ETag of this mapping", "If-Match")
    return int(match[1])


@bp.get("/orgs/<org>/mapping")
def get_mapping(org: str) -> Response:
    """The current mapping: its version and YAML document (``ETag`` names the version)."""
    with read_session() as s:
        ctx = org_context(s, org)
        current = current_mapping(s, ctx.id)
        response = reply(MappingOut, version=current.version, document=current.document)
        response.headers["ETag"] = version_etag(current.version)
        return response


@bp.post("/orgs/<org>/mapping/validate")
def validate_mapping(org: str) -> Response:
    """Check a draft: ``valid`` and, when not, the error naming the rule and field."""
    with read_session() as s:
        ctx = org_context(s, org)
        body = MappingDraft.model_validate(json_body())
    try:
        mapping = parse_document(body.document, ctx.role_model.name)
    except InputError as e:
        return jsonify(valid=False, errors=[_error(e)])
    return jsonify(valid=True, errors=[], rules=len(mapping.rules))


@bp.put("/orgs/<org>/mapping")
def save_mapping_version(org: str) -> Response:
    """Save a draft as the next version (only within what the key's role manages);
    ``If-Match`` must name the version it was made from: 412 when someone saved since."""
    with read_session() as s:
        ctx = org_context(s, org)
    expected = _expected_version()
    body = MappingDraft.model_validate(json_body())
    saved = save_mapping(
        session_factory(), ctx.id, body.document, ctx.authority, expected_version=expected
    )
    response = reply(SavedVersionOut, 201, version=saved.version)
    response.headers["ETag"] = version_etag(saved.version)
    return response


@bp.get("/orgs/<org>/mapping/versions")
def get_mapping_versions(org: str) -> Response:
    """Every saved version, newest first."""
    with read_session() as s:
        ctx = org_context(s, org)
        versions = [
            {
                "version": v.version,
                "created_by": v.created_by,
                "created_at": format_time(v.created_at),
            }
            for v in list_versions(s, ctx.id)
        ]
        return jsonify(versions=versions)


@bp.get("/orgs/<org>/mapping/diff")
def get_mapping_diff(org: str) -> Response:
    """A unified diff between versions ``base`` and ``other``."""
    base, other = int_arg("base"), int_arg("other")
    with read_session() as s:
        ctx = org_context(s, org)
        d = diff_versions(s, ctx.id, base, other)
        return jsonify(base=d.base, other=d.other, diff=d.diff)


@bp.post("/orgs/<org>/preview")
def preview(org: str) -> Response:
    """The plan a draft mapping would make on the live directory; nothing is saved."""
    with read_session() as s:
        ctx = org_context(s, org)
        body = MappingDraft.model_validate(json_body())
        plan = preview_draft(s, ctx.id, body.document)
    return jsonify(plan=plan.to_dict(), text=render_text(plan))


@bp.get("/orgs/<org>/explain/<path:user>")
def explain(org: str, user: str) -> Response:
    """Why a user gets each role: every grant with its rule, group path and what it beat."""
    with read_session() as s:
        ctx = org_context(s, org)
        return jsonify(explanation_json(explain_user(s, ctx.id, user)))
