"""SCIM filters (RFC 7644 §3.4.2.2) and sorting translated into SQL over indexed columns.

A filter tree is translated node by node. Each attribute that clients actually
filter on (``userName``, ``externalId``, ``id``, ``active``, ``meta.created``,
``meta.lastModified``, group ``displayName``, ``members.value``) maps to a column; a
node on any other attribute has no translation. The caller then keeps the
translatable part as a pre-filter and evaluates the whole filter on the narrowed
rows with scim2-models' own evaluator, so the answer is always the evaluator's.

Every translated clause is two-valued (never SQL NULL), so ``not`` behaves as SCIM
says: ``ne`` and ``not`` match resources that lack the attribute.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from typing import cast as typed

from scim2_models.path import (
    AttrPath,
    CompareOperator,
    Comparison,
    FilterNode,
    LogicalExpr,
    LogicalOperator,
    Not,
    Present,
    ValuePath,
)
from sqlalchemy import ColumnElement, Text, and_, cast, exists, false, func, not_, or_, true
from sqlalchemy.orm import InstrumentedAttribute

from mappings.directory import identity_key
from sync.models import DirectoryGroup, DirectoryMembership, DirectoryUser

__all__ = ["Translation", "comparison_key", "sort_column", "translate"]

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"


def comparison_key(value: str) -> str:
    """The form case-insensitive names (``userName``, group ``displayName``) are stored and
    compared in: the core's identity key, so a SCIM user's key is their member key."""
    return identity_key(value)


@dataclass(frozen=True, slots=True)
class _Column:
    column: InstrumentedAttribute[Any]
    kind: str  # "key" (stored as comparison_key), "exact", "bool", "datetime"
    nullable: bool


_USER_COLUMNS: dict[str, _Column] = {
    "username": _Column(DirectoryUser.user_name_key, "key", False),
    "externalid": _Column(DirectoryUser.external_id, "exact", True),
    "id": _Column(DirectoryUser.ext_id, "exact", False),
    "meta.created": _Column(DirectoryUser.created_at, "datetime", False),
    "meta.lastmodified": _Column(DirectoryUser.updated_at, "datetime", False),
}

_GROUP_COLUMNS: dict[str, _Column] = {
    "displayname": _Column(DirectoryGroup.display_name_key, "key", False),
    "externalid": _Column(DirectoryGroup.external_id, "exact", True),
    "id": _Column(DirectoryGroup.ext_id, "exact", False),
    "meta.created": _Column(DirectoryGroup.created_at, "datetime", False),
    "meta.lastmodified": _Column(DirectoryGroup.updated_at, "datetime", False),
}


@dataclass(frozen=True, slots=True)
class Translation:
    """A filter in SQL: ``clause`` keeps a superset of the matches, exactly them if ``exact``."""

    clause: ColumnElement[bool]
    exact: bool


Collate = Callable[[ColumnElement[Any]], ColumnElement[Any]]


def translate(node: FilterNode | None, resource: str, collate: Collate) -> Translation:
    """Translate a filter tree for ``resource`` ("User" or "Group")."""
    if node is None:
        return Translation(true(), True)
    exact = _exact(node, resource, collate)
    if exact is not None:
        return Translation(exact, True)
    return Translation(_prefilter(node, resource, collate), False)


def sort_column(path: str, resource: str) -> _Column | None:
    """The column a ``sortBy`` attribute sorts on in SQL, if it has one."""
    return _columns(resource).get(_name(path, resource))


def _columns(resource: str) -> dict[str, _Column]:
    return _USER_COLUMNS if resource == "User" else _GROUP_COLUMNS


def _name(path: str | AttrPath, resource: str) -> str:
    text = str(path)
    urn = USER if resource == "User" else GROUP
    if text.casefold().startswith(urn.casefold() + ":"):
        text = text[len(urn) + 1 :]
    return text.casefold()


def _prefilter(node: FilterNode, resource: str, collate: Collate) -> ColumnElement[bool]:
    """A superset of the matches: the exact parts of a conjunction, and ``active eq``."""
    terms = node.terms if isinstance(node, LogicalExpr) and node.op == LogicalOperator.and_ else ()
    parts = [_exact(term, resource, collate) for term in terms] if terms else []
    parts += [_narrowing(term, resource) for term in (terms or (node,))]
    kept = [part for part in parts if part is not None]
    return and_(*kept) if kept else true()


def _narrowing(node: FilterNode, resource: str) -> ColumnElement[bool] | None:
    """A clause that keeps every match of ``node`` (and some more) where no exact one exists.

    ``active eq true|false``: the mirror counts a user who never sent ``active`` as
    active, while the SCIM evaluator says such a user matches neither value.
    ``emails eq "x"`` / ``emails.value eq "x"``: the address appears, quoted, in the
    stored JSON list of the user's emails (ASCII addresses; any case).
    """
    if resource != "User" or not isinstance(node, Comparison):
        return None
    name, op, value = _name(node.attr_path, resource), node.op, node.value
    if name == "active" and op == CompareOperator.eq and isinstance(value, bool):
        return DirectoryUser.active == value
    plain = isinstance(value, str) and value.isascii() and not {'"', "\\"} & set(value)
    if name in ("emails", "emails.value") and op == CompareOperator.eq and plain:
        text = func.lower(cast(DirectoryUser.emails, Text))
        return text.like(_like(f'"{str(value).lower()}"', CompareOperator.co), escape="\\")
    return None


def _exact(node: FilterNode, resource: str, collate: Collate) -> ColumnElement[bool] | None:
    if isinstance(node, LogicalExpr):
        parts = [_exact(term, resource, collate) for term in node.terms]
        if any(part is None for part in parts):
            return None
        clauses = [part for part in parts if part is not None]
        return and_(*clauses) if node.op == LogicalOperator.and_ else or_(*clauses)
    if isinstance(node, Not):
        inner = _exact(node.expr, resource, collate)
        return None if inner is None else not_(inner)
    if isinstance(node, Present):
        return _present(node.attr_path, resource)
    if isinstance(node, Comparison):
        return _comparison(node, resource, collate)
    if isinstance(node, ValuePath):
        return _members_value_path(node, resource)
    return None


def _present(path: AttrPath, resource: str) -> ColumnElement[bool] | None:
    name = _name(path, resource)
    if resource == "Group" and name in ("members", "members.value"):
        return _has_member(None)
    column = _columns(resource).get(name)
    if column is None:
        return None
    if not column.nullable:
        return true()
    # an empty string is not a value either (RFC 7644 §3.4.2.2 "pr")
    return and_(column.column.is_not(None), column.column != "")


def _comparison(node: Comparison, resource: str, collate: Collate) -> ColumnElement[bool] | None:
    name = _name(node.attr_path, resource)
    if resource == "Group" and name in ("members", "members.value"):
        if node.op == CompareOperator.eq and isinstance(node.value, str):
            return _has_member(node.value)
        return None
    column = _columns(resource).get(name)
    if column is None:
        return None
    value = _operand(column, node.value)
    if value is _UNTRANSLATABLE:
        return None
    if value is None:
        return _null_comparison(column, node.op)
    return _compare(column, node.op, value, collate)


_UNTRANSLATABLE = object()


def _operand(column: _Column, value: Any) -> Any:
    if value is None:
        return None
    if column.kind == "bool":
        return value if isinstance(value, bool) else _UNTRANSLATABLE
    if column.kind == "datetime":
        return _datetime(value)
    if not isinstance(value, str):
        return _UNTRANSLATABLE
    return comparison_key(value) if column.kind == "key" else value


def _datetime(value: Any) -> Any:
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return _UNTRANSLATABLE
    else:
        return _UNTRANSLATABLE
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _null_comparison(column: _Column, op: CompareOperator) -> ColumnElement[bool] | None:
    """``eq null`` is "not present", ``ne null`` is "present"; ordering null matches nothing."""
    present = and_(column.column.is_not(None)) if column.nullable else true()
    if op == CompareOperator.eq:
        return not_(present) if column.nullable else false()
    if op == CompareOperator.ne:
        return present
    return false()


def _compare(
    column: _Column, op: CompareOperator, value: Any, collate: Collate
) -> ColumnElement[bool] | None:
    col: ColumnElement[Any] = typed(ColumnElement[Any], column.column)
    clause: ColumnElement[bool]
    if op in (CompareOperator.co, CompareOperator.sw, CompareOperator.ew):
        if column.kind != "key":
            return None  # LIKE is case-insensitive on SQLite, so only lower-cased keys
        pattern = _like(value, op)
        clause = col.like(pattern, escape="\\")
    elif op in (CompareOperator.eq, CompareOperator.ne):
        clause = col == value
    else:
        if column.kind == "bool":
            return None
        if column.kind in ("key", "exact"):
            col = collate(col)
        clause = {
            CompareOperator.gt: col > value,
            CompareOperator.ge: col >= value,
            CompareOperator.lt: col < value,
            CompareOperator.le: col <= value,
        }[op]
    if column.nullable:
        clause = and_(column.column.is_not(None), clause)
    return not_(clause) if op == CompareOperator.ne else clause


def _like(value: str, op: CompareOperator) -> str:
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    if op == CompareOperator.sw:
        return escaped + "%"
    if op == CompareOperator.ew:
        return "%" + escaped
    return "%" + escaped + "%"


def _members_value_path(node: ValuePath, resource: str) -> ColumnElement[bool] | None:
    """``members[value eq "id"]`` on groups."""
    if resource != "Group" or _name(node.attr_path, resource) != "members":
        return None
    inner = node.val_filter
    if (
        isinstance(inner, Comparison)
        and inner.attr_path.attr.casefold() == "value"
        and inner.attr_path.sub_attr is None
        and inner.op == CompareOperator.eq
        and isinstance(inner.value, str)
    ):
        return _has_member(inner.value)
    return None


def _has_member(value: str | None) -> ColumnElement[bool]:
    query = exists().where(DirectoryMembership.group_id == DirectoryGroup.id)
    if value is not None:
        query = query.where(DirectoryMembership.member_value == value.lower())
    return query
