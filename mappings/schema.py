"""The mapping format as a JSON Schema (draft 2020-12), for editors and CI.

The schema checks the shape (fields, types, enumerations, number and duration formats);
``parse_mapping`` checks the rest (roles of the role model, templates, what the acting
role may grant). A test keeps the schema's fields equal to the ones the parser accepts.
"""

from __future__ import annotations

from typing import Any

from mappings.mapping import APPLY, MAX_REMOVALS_MAX, UNMAPPED

__all__ = ["SCHEMA_ID", "mapping_schema"]

SCHEMA_ID = "https://rolebridge.invalid/mapping.schema.json"

_TEXT: dict[str, Any] = {"type": "string", "minLength": 1, "pattern": r"\S"}
_PERCENT = r"^\s*\d+(\.\d+)?\s*%\s*$"
_ROLES: dict[str, Any] = {
    "oneOf": [_TEXT, {"type": "array", "minItems": 1, "items": _TEXT}],
    "description": "a workspace role or a list of them",
}


def mapping_schema() -> dict[str, Any]:
    """The JSON Schema of a mapping document (YAML is checked as the JSON it loads to)."""
    rule = {
        "type": "object",
        "description": "one rule: exactly one of group, role or match, granting an org "
        "role and/or a workspace role",
        "additionalProperties": False,
        "properties": {
            "group": {**_TEXT, "description": "an IdP group name (or its path)"},
            "role": {**_TEXT, "description": "an IdP app role"},
            "match": {**_TEXT, "description": "an RE2 pattern over group names"},
            "org_role": {**_TEXT, "description": "a role, or a template such as {1}"},
            "workspace": {**_TEXT, "description": "a workspace name or template"},
            "workspace_role": _ROLES,
            "workspace_roles": _ROLES,
            "create_workspace": {"type": "boolean"},
            "credits": {"type": "integer", "minimum": 0},
            "description": {"type": "string"},
        },
        "oneOf": [
            {
                "required": ["group"],
                "not": {"anyOf": [{"required": ["role"]}, {"required": ["match"]}]},
            },
            {
                "required": ["role"],
                "not": {"anyOf": [{"required": ["group"]}, {"required": ["match"]}]},
            },
            {
                "required": ["match"],
                "not": {"anyOf": [{"required": ["group"]}, {"required": ["role"]}]},
            },
        ],
        "anyOf": [{"required": ["org_role"]}, {"required": ["workspace"]}],
    }
    policy = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "unmapped": {"enum": list(UNMAPPED)},
            "manage_manual_members": {"type": "boolean"},
            "max_removals": {
                "oneOf": [
                    {"type": "integer", "minimum": 0, "maximum": MAX_REMOVALS_MAX},
                    {"type": "string", "pattern": _PERCENT},
                    {"type": "string", "pattern": r"^\s*[0-9]{1,7}\s*$"},
                    {"type": "null"},
                ]
            },
            "removal_window": {
                "type": ["string", "null"],
                "pattern": r"^\s*\d{1,7}\s*[smhd]\s*$",
                "description": 'a duration like "24h", "30m" or "7d" (at most 366d)',
            },
            "max_group_drop": {"type": ["string", "null"], "pattern": _PERCENT},
            "acting_role": _TEXT,
            "apply": {"enum": list(APPLY)},
            "allow_protected": {"type": "boolean"},
            "default_role": _TEXT,
        },
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "rolebridge mapping",
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "role_model": {
                "description": "a preset name, or a role model of its own",
                "oneOf": [_TEXT, {"type": "object"}],
            },
            "scope": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "groups": {"oneOf": [_TEXT, {"type": "array", "items": _TEXT}]},
                },
            },
            "rules": {"type": "array", "items": {"$ref": "#/$defs/rule"}},
            "policy": {"$ref": "#/$defs/policy"},
        },
        "$defs": {"rule": rule, "policy": policy},
    }
