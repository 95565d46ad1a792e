"""Request context of the admin API: the database session, the caller and their org."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from flask import current_app, g, request
from werkzeug.exceptions import BadRequest

from mappings.authority import Caller
from mappings.rolemodel import RoleModel
from scim_server.api.problems import ApiProblem
from scim_server.ops.limits import INTEGER_MAX, parse_integer
from sync.credentials.apikeys import ApiPrincipal
from sync.db import Session, SessionFactory
from sync.errors import NotFound
from sync.store.orgs import org_view, role_model_for

__all__ = [
    "SESSION_FACTORY_KEY",
    "OrgContext",
    "caller",
    "deny_unless_allowed",
    "int_arg",
    "json_body",
    "json_object",
    "org_context",
    "read_session",
    "session_factory",
    "transaction",
]

SESSION_FACTORY_KEY = "rolebridge.session_factory"


@dataclass(frozen=True, slots=True)
class OrgContext:
    """The org a request is about, seen by a caller of that org."""

    id: int
    name: str
    role_model: RoleModel
    caller: ApiPrincipal

    @property
    def authority(self) -> Caller:
        """The caller as the services take it: its audit name, its role and the workspace
        roles it carries (an admin page session signed in with the key alike)."""
        return Caller(self.caller.actor, self.caller.role, dict(self.caller.workspaces))


def session_factory() -> SessionFactory:
    """The app's unit-of-work factory."""
    factory: SessionFactory = current_app.extensions[SESSION_FACTORY_KEY]
    return factory


@contextmanager
def read_session() -> Iterator[Session]:
    """A session for reads (committed at the end; nothing is written)."""
    with session_factory().begin() as s:
        yield s


@contextmanager
def transaction() -> Iterator[Session]:
    """A transaction for a request's writes: committed on success, rolled back on any error."""
    with session_factory().begin() as s:
        yield s


def caller() -> ApiPrincipal:
    """The authenticated caller (set by the blueprint's auth hook)."""
    principal: ApiPrincipal = g.rolebridge_principal
    return principal


def org_context(session: Session, org_name: str) -> OrgContext:
    """The named org if it is the caller's own; 404 otherwise (no cross-org hints)."""
    who = caller()
    try:
        org = org_view(session, who.org_id)
    except NotFound:
        org = None
    if org is None or org.name != org_name:
        raise ApiProblem(404, "not found", f"no organisation named {org_name!r}", "org")
    return OrgContext(org.id, org.name, role_model_for(org.role_model), who)


def deny_unless_allowed(refusal: str | None, field: str | None = None) -> None:
    """Raise a 403 problem when an ``authority`` decision refused."""
    if refusal is not None:
        raise ApiProblem(403, "forbidden", refusal, field)


def json_body() -> Any:
    """The request's JSON body; a 422 problem when it is not JSON."""
    data = request.get_json(silent=True)
    if data is None:
        raise ApiProblem(422, "invalid input", "the body must be a JSON object", "$")
    return data


def json_object() -> dict[str, Any]:
    """The request's JSON body where it must be an object (a page's fetch); 400 otherwise."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise BadRequest("$: the body must be a JSON object")
    return data


def int_arg(name: str, low: int = 1) -> int:
    """A query parameter holding a number from ``low`` to the database's integer range."""
    value = parse_integer(request.args.get(name, ""), low, INTEGER_MAX)
    if value is None:
        detail = f"must be a whole number from {low} to {INTEGER_MAX}"
        raise ApiProblem(422, "invalid input", detail, name)
    return value
