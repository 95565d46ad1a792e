"""The mapping format's JSON Schema (no key needed), for editors and CI."""

from __future__ import annotations

from flask import Response, jsonify

from mappings.schema import mapping_schema
from scim_server.api import bp

__all__: list[str] = []


@bp.get("/mapping.schema.json")
def get_mapping_schema() -> Response:
    """The JSON Schema of a mapping document (no key needed)."""
    response = jsonify(mapping_schema())
    response.mimetype = "application/schema+json"
    return response
