"""The one place where rolebridge helps Okta and Microsoft Entra ID past RFC 7644.

scim2-server does the protocol; its tolerant policy (``provider.TOLERANT_POLICY``)
already accepts Entra's group schema URN, remove-by-value and filtered adds on a
missing entry, and scim2-models reads op names in any case and ``"True"`` /
``"False"`` strings as booleans. What remains is here, as a ``ScimService``
subclass and a ``ScimHandler`` subclass:

- Entra sends the enterprise ``manager`` as a bare id string (in POST, PUT and
  PATCH); it becomes ``{"value": id}`` before validation.
- Entra's member value objects carry ``displayName`` beside ``value`` (SCIM's
  sub-attribute is ``display``); it is dropped before validation, so a remove by
  value matches the member.
- Entra puts value-path filters such as ``emails[type eq "work"].value`` in the
  keys of a path-less PATCH value; each becomes its own operation with that path.
- A User PATCH answers 200 with the user (Okta's deactivation reads it back). A Group
  PATCH answers 204 No Content, as Okta's Group Push and Entra expect, unless the request
  asks ``attributes`` or ``excludedAttributes`` (RFC 7644 §3.5.2): so adding one member
  to a group of 100,000 neither reads nor serialises its members.
- A group PATCH that only touches members goes straight to the membership rows
  (``SqlScimStorage.patch_members``) instead of a read-modify-write of the whole
  group, so adding 1,000 members costs 1,000 rows, not the group's size.

Unique group ``displayName`` per org (Entra relies on it) is the storage's. The
limits (``scim_server.ops.limits``) are checked here, before anything is parsed or stored:
filter size and paging integers before the search is parsed, stored lengths on every
resource a POST, PUT or PATCH would write.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any, cast

from scim2_models import (
    Context,
    InvalidValueException,
    PatchOp,
    Resource,
    ResourceType,
    ResponseParameters,
    SearchRequest,
    TooManyException,
)
from scim2_models.path import AttrPath, CompareOperator, Comparison, ValuePath
from scim2_server.conditions import Conditions
from scim2_server.handler import ScimHandler
from scim2_server.requests import ScimRequest
from scim2_server.responses import ScimResponse
from scim2_server.routing import Operation
from scim2_server.service import ScimService

from scim_server.ops import limits
from scim_server.scim import records
from scim_server.scim.storage import MemberChange, SqlScimStorage, wants_members

__all__ = [
    "RolebridgeHandler",
    "RolebridgeService",
    "check_lengths",
    "check_search",
    "member_change",
    "no_content",
    "normalise_manager",
    "drop_member_display_names",
    "split_filtered_keys",
]

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"


def normalise_manager(payload: Any) -> Any:
    """Turn Entra's ``"manager": "id"`` into ``{"value": "id"}`` in a User or PatchOp body."""
    if not isinstance(payload, dict):
        return payload
    for key, value in payload.items():
        if key.casefold() == ENTERPRISE.casefold() and isinstance(value, dict):
            _wrap_manager(value)
        elif key.casefold() == f"{ENTERPRISE}:manager".casefold() and isinstance(value, str):
            payload[key] = {"value": value}
    for operation in _operations(payload):
        path = str(operation.get("path") or "")
        if path.casefold().endswith("manager") and isinstance(operation.get("value"), str):
            operation["value"] = {"value": operation["value"]}
        elif isinstance(operation.get("value"), dict):
            normalise_manager(operation["value"])
    return payload


def _wrap_manager(extension: dict[str, Any]) -> None:
    for key, value in extension.items():
        if key.casefold() == "manager" and isinstance(value, str):
            extension[key] = {"value": value}


def _operations(payload: dict[str, Any]) -> list[dict[str, Any]]:
    operations = next((v for k, v in payload.items() if k.casefold() == "operations"), None)
    if not isinstance(operations, list):
        return []
    return [operation for operation in operations if isinstance(operation, dict)]


def drop_member_display_names(payload: Any) -> Any:
    """Drop Entra's ``displayName`` from the member value objects of a PatchOp body."""
    if not isinstance(payload, dict):
        return payload
    for operation in _operations(payload):
        path = str(operation.get("path") or "").casefold()
        value = operation.get("value")
        if path in ("members", f"{GROUP}:members".casefold()):
            _drop_display_names(value)
        elif not path and isinstance(value, dict):
            for key, members in value.items():
                if key.casefold() == "members":
                    _drop_display_names(members)
    return payload


def _drop_display_names(members: Any) -> None:
    for member in members if isinstance(members, list) else [members]:
        if isinstance(member, dict):
            for key in [k for k in member if k.casefold() == "displayname"]:
                del member[key]


def split_filtered_keys(payload: Any) -> Any:
    """Give each ``emails[type eq "work"].value``-like key of a path-less value its own operation.

    Entra (with aadOptscim062020) puts value-path filters in the keys of a path-less
    ``value`` object; scim2-models reads plain attribute paths there but not filters,
    so those keys become operations with that ``path``, in the same place.
    """
    if not isinstance(payload, dict):
        return payload
    for key, operations in payload.items():
        if key.casefold() != "operations" or not isinstance(operations, list):
            continue
        expanded: list[Any] = []
        for operation in operations:
            expanded.extend(_split(operation))
        payload[key] = expanded
    return payload


def _split(operation: Any) -> list[Any]:
    if not isinstance(operation, dict) or operation.get("path") is not None:
        return [operation]
    value = operation.get("value")
    if not isinstance(value, dict) or not any("[" in key for key in value):
        return [operation]
    plain = {key: item for key, item in value.items() if "[" not in key}
    split = [{**operation, "value": plain}] if plain else []
    split += [
        {**operation, "path": key, "value": item} for key, item in value.items() if "[" in key
    ]
    return split


def _normalised(body: bytes) -> bytes:
    try:
        payload = json.loads(body)
    except ValueError:
        return body  # the library answers invalidSyntax
    _check_paths(payload)
    payload = drop_member_display_names(normalise_manager(payload))
    return json.dumps(split_filtered_keys(payload)).encode()


def _check_paths(payload: Any) -> None:
    """A PATCH path's value filter is held to the search filter's limits, before it is parsed."""
    for operation in _operations(payload) if isinstance(payload, dict) else []:
        path = operation.get("path")
        refusal = limits.filter_refusal(path) if isinstance(path, str) else None
        if refusal is not None:
            raise TooManyException(detail=refusal.replace("filter:", "path:", 1))


def check_lengths(resource: Resource[Any]) -> Resource[Any]:
    """400 ``invalidValue`` naming the attribute when a value is longer than its column."""
    schemas = {urn.casefold() for urn in resource.schemas}
    if USER.casefold() in schemas:
        refusal = limits.length_refusal("User", records.user_columns(resource))
    elif GROUP.casefold() in schemas:
        refusal = limits.length_refusal("Group", records.group_columns(resource))
        members = getattr(resource, "members", None) or []
        refusal = refusal or limits.members_refusal((m.value or "", m.display) for m in members)
    else:
        refusal = None
    if refusal is not None:
        raise InvalidValueException(detail=refusal)
    return resource


def check_search(payload: Any) -> None:
    """Refuse a search whose filter is too big to parse or whose paging is out of range."""
    if not isinstance(payload, dict):
        return
    named = {str(key).casefold(): value for key, value in payload.items()}
    text = named.get("filter")
    refusal = limits.filter_refusal(text) if isinstance(text, str) else None
    if refusal is not None:
        raise TooManyException(detail=refusal)
    for name in ("startIndex", "count"):
        refusal = limits.integer_refusal(name, named.get(name.casefold()))
        if refusal is not None:
            raise InvalidValueException(detail=refusal)


class RolebridgeService(ScimService):
    """scim2-server's service with Entra's habits and PATCH answered with the resource."""

    def read_creation(
        self, resource_type: ResourceType, body: bytes, content_type: str | None
    ) -> Resource[Any]:
        """Validate a POST body after normalising ``manager``."""
        created = super().read_creation(resource_type, _normalised(body), content_type)
        return check_lengths(created)

    def apply_replacement(
        self, current: Resource[Any], replacement: Resource[Any], conditions: Conditions
    ) -> Resource[Any] | None:
        """The library's replacement, refused when a value is longer than its column."""
        replaced = super().apply_replacement(current, replacement, conditions)
        return None if replaced is None else check_lengths(replaced)

    def apply_patch(
        self, current: Resource[Any], patch_op: PatchOp[Any], conditions: Conditions
    ) -> Resource[Any] | None:
        """The library's PATCH, refused when a value is longer than its column."""
        patched = super().apply_patch(current, patch_op, conditions)
        return None if patched is None else check_lengths(patched)

    def read_search(
        self, resource_types: list[ResourceType], payload: Any
    ) -> tuple[SearchRequest[Any], Any]:
        """The library's search, after refusing an oversized filter or out-of-range paging."""
        check_search(payload)
        return super().read_search(resource_types, payload)

    def read_replacement(
        self, resource_type: ResourceType, body: bytes, content_type: str | None
    ) -> Resource[Any]:
        """Validate a PUT body after normalising ``manager``."""
        return super().read_replacement(resource_type, _normalised(body), content_type)

    def read_patch(
        self, resource_type: ResourceType, body: bytes, content_type: str | None
    ) -> PatchOp[Any]:
        """Validate a PATCH body after normalising ``manager``."""
        return super().read_patch(resource_type, _normalised(body), content_type)

    def patch_response(
        self,
        base_url: str,
        resource: Resource[Any],
        response_parameters: ResponseParameters[Any],
    ) -> ScimResponse:
        """A Group PATCH answers 204 unless attributes are asked (``no_content``); a User
        PATCH answers 200 with the user (RFC 7644 §3.5.2 allows either)."""
        if no_content(resource.meta.resource_type if resource.meta else None, response_parameters):
            assert resource.meta is not None
            version = resource.meta.version
            return ScimResponse(HTTPStatus.NO_CONTENT, None, {"ETag": version} if version else {})
        return self.resource_response(
            self.publish(base_url, resource),
            Context.RESOURCE_REPLACEMENT_RESPONSE,
            response_parameters,
            HTTPStatus.OK,
        )


def no_content(resource_type: str | None, response_parameters: ResponseParameters[Any]) -> bool:
    """Whether a PATCH answers 204 No Content: a Group's, when the client asks no
    ``attributes`` or ``excludedAttributes``."""
    return (
        resource_type == "Group"
        and not response_parameters.attributes
        and not response_parameters.excluded_attributes
    )


def member_change(patch_op: PatchOp[Any]) -> MemberChange | None:
    """The members-only change a group PATCH makes, or None when it does anything else."""
    add: list[tuple[str, str | None]] = []
    remove: set[str] = set()
    replace: list[tuple[str, str | None]] | None = None
    for operation in patch_op.operations or []:
        op = str(operation.op.value if hasattr(operation.op, "value") else operation.op).lower()
        node = operation.path.ast if operation.path is not None else None
        if isinstance(node, ValuePath) and op == "remove" and operation.value is None:
            value = _member_filter_value(node)
            if value is None:
                return None
            remove.add(value)
            continue
        if not (isinstance(node, AttrPath) and _is_members(node)):
            return None
        entries = _entries(operation.value)
        if entries is None or (replace is not None and op != "replace"):
            return None
        if op == "add":
            add.extend(entries)
        elif op == "remove":
            remove.update(value for value, _ in entries)
        elif op == "replace" and not add and not remove:
            replace = entries
        else:
            return None
    if replace is not None:
        return MemberChange(replace=tuple(replace))
    if remove & {value for value, _ in add}:
        return None  # order matters; let the library apply it
    return MemberChange(add=tuple(add), remove=frozenset(remove))


def _is_members(node: AttrPath) -> bool:
    return (
        node.attr.casefold() == "members"
        and node.sub_attr is None
        and node.uri
        in (
            None,
            "urn:ietf:params:scim:schemas:core:2.0:Group",
        )
    )


def _member_filter_value(node: ValuePath) -> str | None:
    inner = node.val_filter
    if (
        _is_members(node.attr_path)
        and node.sub_attr is None
        and isinstance(inner, Comparison)
        and inner.attr_path.attr.casefold() == "value"
        and inner.attr_path.sub_attr is None
        and inner.op == CompareOperator.eq
        and isinstance(inner.value, str)
    ):
        return inner.value
    return None


def _entries(value: Any) -> list[tuple[str, str | None]] | None:
    items = value if isinstance(value, list) else [value]
    entries: list[tuple[str, str | None]] = []
    for item in items:
        if not isinstance(item, dict):
            return None
        member = {str(k).casefold(): v for k, v in item.items()}
        if not isinstance(member.get("value"), str) or set(member) - {
            "value",
            "display",
            "type",
            "$ref",
        }:
            return None
        display = member.get("display")
        entries.append((member["value"], display if isinstance(display, str) else None))
    return entries


class RolebridgeHandler(ScimHandler):
    """scim2-server's handler with the group member fast path."""

    def patch(self, request: ScimRequest) -> ScimResponse:
        """Modify a resource (RFC 7644 §3.5.2); members-only group PATCHes take the fast path."""
        with self.service.provider:
            target = self.service.route(request, Operation.patch)
            resource_type = self.service.resource_type_at(cast(str, target.endpoint))
            self.service.authorize(request, target, resource_type)
            response_parameters = self.service.read_response_parameters(
                resource_type, request.query
            )
            patch_op = self.service.read_patch(
                resource_type, request.body, request.header("Content-Type")
            )
            conditions = self.service.read_conditions(request)
            change = self._fast(resource_type, patch_op, conditions)
            if change is not None:
                given = (*change.add, *(change.replace or ()))
                refusal = limits.members_refusal(given)
                if refusal is not None:
                    raise InvalidValueException(detail=refusal)
            with self.storage.operation():
                if change is not None:
                    storage = cast(SqlScimStorage, self.storage)
                    resource = storage.patch_members(
                        resource_type,
                        cast(str, target.resource_id),
                        change,
                        members=wants_members(response_parameters)
                        and not no_content(resource_type.id, response_parameters),
                    )
                else:
                    resource = self.patch_resource(
                        resource_type, cast(str, target.resource_id), patch_op, conditions
                    )
            return self.service.patch_response(request.base_url, resource, response_parameters)

    def _fast(
        self, resource_type: ResourceType, patch_op: PatchOp[Any], conditions: Conditions
    ) -> MemberChange | None:
        if resource_type.id != "Group" or not isinstance(self.storage, SqlScimStorage):
            return None
        if conditions.if_match is not None or conditions.if_none_match is not None:
            return None  # preconditions go through the library
        return member_change(patch_op)
