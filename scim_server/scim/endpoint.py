"""The SCIM 2.0 endpoint at ``/scim/v2``: scim2-server's protocol on rolebridge's storage.

scim2-flask mounts the protocol; rolebridge adds the token check before each
request, its ``ScimHandler``/``ScimService`` (``scim_server.scim.habits``), the SQL
storage scoped to the token's org, and the after-write hook that reconciles.
"""

from __future__ import annotations

from typing import Any, Union

from flask import Blueprint, Flask, g
from scim2_flask import ScimServer
from scim2_flask.extension import EXTENSION_NAME, METHODS
from scim2_models import ListResponse, PatchOp, ResponseParameters, SearchRequest
from scim2_models.path import Path
from scim2_server.service import ScimService
from scim2_server.utils import parametrize
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.routing import PathConverter

from scim_server.scim.auth import (
    close_read_connection,
    current_tenant,
    make_authenticator,
    read_connection,
)
from scim_server.scim.errors import internal_error
from scim_server.scim.habits import RolebridgeHandler, RolebridgeService
from scim_server.scim.provider import make_provider
from scim_server.scim.provisioning import is_write_request, reconcile_touched
from scim_server.scim.storage import AfterWrite, SqlScimStorage
from sync.planner_stats import StatisticsKeeper

__all__ = ["SCIM_PREFIX", "RolebridgeScim", "init_scim"]

SCIM_PREFIX = "/scim/v2"


class _AnyPath(PathConverter):
    """Like ``<path:...>``, but also across newlines (``%0A``) in the path."""

    regex = r"[^/][\s\S]*?"


class RolebridgeScim(ScimServer):
    """scim2-flask's extension with rolebridge's handler, authentication and 500 handler."""

    def __init__(self, session_factory: sessionmaker[Session], storage: SqlScimStorage) -> None:
        provider = storage.provider
        super().__init__(storage, provider, service=RolebridgeService(provider))
        self._session_factory = session_factory

    def init_app(self, app: Flask) -> None:
        """Register the blueprint, serving requests with ``RolebridgeHandler``."""
        self.service = self._service or self._create_service(app)
        self.handler = RolebridgeHandler(self.service, self.storage)
        self.generics = pinned_generics(self.service)
        app.url_map.converters.setdefault("scimpath", _AnyPath)
        app.register_blueprint(self.create_blueprint())
        app.extensions.setdefault(EXTENSION_NAME, {})[self.name] = self

    def create_blueprint(self) -> Blueprint:
        """scim2-flask's blueprint, plus the token check and the last-resort error handler."""
        blueprint = super().create_blueprint()
        # a path with a newline escapes werkzeug's <path:...>; this catch-all keeps such
        # requests on the blueprint, so they too are answered with SCIM Errors
        blueprint.add_url_rule(
            "/<scimpath:path>", "fallback_any", self._fallback_view, methods=METHODS
        )
        engine = self._session_factory.kw["bind"]
        blueprint.before_request(make_authenticator(engine, self.url_prefix, is_write_request))
        blueprint.teardown_request(close_read_connection)
        blueprint.register_error_handler(Exception, internal_error)
        return blueprint

    def get_subject(self) -> Any:
        """The tenant of the request's token."""
        return g.get("scim_tenant")


def pinned_generics(service: ScimService) -> list[type[Any]]:
    """The parametrised message classes the service builds on every request, made once.

    pydantic keeps parametrised generics (``ListResponse[User | Group]``...) in a
    weak-valued cache, so between requests the garbage collector drops them and the
    next request builds them again (about 5 ms each). Holding them here keeps them.
    """
    models = service.get_models()
    pinned: list[type[Any]] = [
        parametrize(ListResponse, Union[tuple(models)]),  # noqa: UP007
        parametrize(SearchRequest, Union[tuple(models)]),  # noqa: UP007
    ]
    for model in models:
        pinned += [parametrize(generic, model) for generic in _PER_MODEL]
    return pinned


_PER_MODEL: tuple[Any, ...] = (ListResponse, SearchRequest, ResponseParameters, PatchOp, Path)


def init_scim(
    app: Flask,
    session_factory: sessionmaker[Session],
    *,
    after_write: AfterWrite | None = reconcile_touched,
    max_scan: int = 20_000,
) -> RolebridgeScim:
    """Mount the SCIM endpoint on ``app``; by default each write reconciles what it touched."""
    storage = SqlScimStorage(
        session_factory,
        make_provider(),
        current_tenant,
        max_scan=max_scan,
        after_write=after_write,
        writes=is_write_request,
        reader=read_connection,
        after_commit=StatisticsKeeper(session_factory.kw["bind"]).wrote,
    )
    scim = RolebridgeScim(session_factory, storage)
    scim.init_app(app)
    return scim
