"""The OpenAPI 3.1 document of the admin API, built from the routes that exist.

Paths come from the app's URL map (so the document cannot list a route that is not
there, nor miss one), summaries from the views' docstrings, request bodies from the
pydantic models in ``bodies.py`` and ``event_schemas.py``, response bodies from the one
table of the models the views answer with (``responses.RESPONSES``), query parameters
of the lists from ``QUERIES``.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Response, current_app, jsonify
from pydantic import BaseModel

from scim_server.api import bp
from scim_server.api.bodies import (
    KeyCreate,
    MappingDraft,
    MemberRoles,
    PlanApproval,
    PlanRequest,
    Rotation,
    SourceCreate,
    SourceEdit,
    SourcePatch,
    TokenCreate,
    WorkspaceCreate,
)
from scim_server.api.event_schemas import WebhookCreate, WebhookReplay
from scim_server.api.oidc_views import OIDC_BODIES
from scim_server.api.responses import RESPONSES

__all__ = ["openapi_document"]

# endpoint -> request body model
_BODIES: dict[str, type[BaseModel]] = {
    "api.add_workspace": WorkspaceCreate,
    "api.put_member": MemberRoles,
    "api.validate_mapping": MappingDraft,
    "api.save_mapping_version": MappingDraft,
    "api.preview": MappingDraft,
    "api.post_plan": PlanRequest,
    "api.post_approve": PlanApproval,
    "api.post_token": TokenCreate,
    "api.rotate_token": Rotation,
    "api.post_api_key": KeyCreate,
    "api.rotate_api_key": Rotation,
    "api.post_source": SourceCreate,
    "api.put_source": SourceEdit,
    "api.patch_source": SourcePatch,
    "api.post_webhook": WebhookCreate,
    "api.replay_webhook": WebhookReplay,
}
_BODIES.update(OIDC_BODIES)
_PAGING = (
    ("limit", {"type": "integer", "minimum": 1, "maximum": 500}, "page size (default 50)"),
    ("cursor", {"type": "string"}, "next_cursor of the previous page"),
)
_TEXT: dict[str, Any] = {"type": "string"}
# endpoint -> its query parameters (name, schema, description)
QUERIES: dict[str, tuple[tuple[str, dict[str, Any], str], ...]] = {
    "api.get_members": (
        *_PAGING,
        ("role", _TEXT, "only members with this org role"),
        ("status", _TEXT, "only invited, joined or suspended members"),
        ("q", _TEXT, "only emails containing this"),
    ),
    "api.get_audit": (
        *_PAGING,
        ("user", _TEXT, "only entries about this user (email)"),
        ("op", _TEXT, "only this operation"),
        ("actor", _TEXT, "only entries by this actor"),
        ("since", {"type": "string", "format": "date-time"}, "from this time"),
        ("until", {"type": "string", "format": "date-time"}, "before this time"),
    ),
    "api.get_plans": (*_PAGING, ("status", _TEXT, "comma-separated plan statuses")),
    "api.get_runs": (*_PAGING, ("outcome", _TEXT, "only runs with this outcome")),
    "api.get_events": (
        ("after", _TEXT, "next_cursor of the previous page (default: from the first event)"),
        ("limit", {"type": "integer", "minimum": 1}, "page size (default 100)"),
        ("types", _TEXT, "comma-separated event types (default: all)"),
    ),
    "api.get_tokens": _PAGING,
    "api.get_api_keys": _PAGING,
}
_CONVERTER_SCHEMAS: dict[str, dict[str, Any]] = {
    "int": {"type": "integer"},
    "id": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1},  # a row id
}
_PARAM = re.compile(r"<(?:(?P<conv>[a-z]+):)?(?P<name>[a-z_]+)>")
_PROBLEM = {
    "description": "a problem document naming the field (and the rule, in reason, when a "
    "rule of the role model refused the change)",
    "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
}


def _path_and_params(rule: str) -> tuple[str, list[dict[str, Any]]]:
    params = [
        {
            "name": m["name"],
            "in": "path",
            "required": True,
            "schema": _CONVERTER_SCHEMAS.get(m["conv"] or "", {"type": "string"}),
        }
        for m in _PARAM.finditer(rule)
    ]
    return _PARAM.sub(lambda m: "{" + m["name"] + "}", rule), params


def _operation(endpoint: str, method: str, params: list[dict[str, Any]]) -> dict[str, Any]:
    view = current_app.view_functions[endpoint]
    doc = (view.__doc__ or "").strip().splitlines()
    query = [
        {"name": n, "in": "query", "required": False, "schema": schema, "description": d}
        for n, schema, d in QUERIES.get(endpoint, ())
    ]
    status, model = RESPONSES.get(endpoint, (200, None))
    success: dict[str, Any] = {"description": "success"}
    if model is not None:
        ref = {"$ref": f"#/components/schemas/{model.__name__}"}
        success["content"] = {"application/json": {"schema": ref}}
    elif status == 204:
        success["description"] = "done; no body"
    else:
        success["content"] = {"application/json": {}}
    op: dict[str, Any] = {
        "operationId": endpoint.removeprefix("api."),
        "summary": doc[0] if doc else endpoint,
        "parameters": params + query,
        "responses": {
            str(status): success,
            "401": _PROBLEM,
            "403": _PROBLEM,
            "404": _PROBLEM,
            "409": _PROBLEM,
            "422": _PROBLEM,
        },
    }
    body = _BODIES.get(endpoint)
    if body is not None and method in ("post", "put", "patch"):
        name = body.__name__
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}},
        }
    if endpoint == "api.save_mapping_version":
        op["parameters"].append(
            {
                "name": "If-Match",
                "in": "header",
                "required": True,
                "schema": {"type": "string"},
                "description": "the ETag of the version the draft was made from (GET mapping)",
            }
        )
        op["responses"]["412"] = _PROBLEM
        op["responses"]["428"] = _PROBLEM
    if endpoint in ("api.get_openapi", "api.get_mapping_schema"):
        op["security"] = []
    return op


def openapi_document() -> dict[str, Any]:
    """The document for the current app."""
    paths: dict[str, dict[str, Any]] = {}
    for rule in current_app.url_map.iter_rules():
        if not rule.endpoint.startswith("api."):
            continue
        path, params = _path_and_params(rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            paths.setdefault(path, {})[method.lower()] = _operation(
                rule.endpoint, method.lower(), params
            )
    models = set(_BODIES.values()) | {m for _, m in RESPONSES.values() if m is not None}
    schemas: dict[str, Any] = {}
    for model in sorted(models, key=lambda m: m.__name__):
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    schemas["Problem"] = {
        "type": "object",
        "required": ["title", "status"],
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "field": {"type": "string", "description": "the field or place the problem is about"},
            "reason": {
                "type": "string",
                "description": "the rule that refused a change: not_permitted, last_owner, "
                "protected_role, idp_managed, covered_by_org_role, plan_limit, credit_limit...",
            },
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "rolebridge admin API", "version": "1"},
        "servers": [{"url": "/"}],
        "security": [{"apiKey": []}],
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "apiKey": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "a key from `rolebridge apikey create --org X --role ROLE`",
                }
            },
        },
    }


@bp.get("/openapi.json")
def get_openapi() -> Response:
    """This document (no key needed)."""
    return jsonify(openapi_document())
