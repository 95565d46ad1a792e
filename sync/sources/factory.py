"""Build a source object from a ``sources`` row's kind, config and (resolved) secret."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sync.sources.base import Bounds, ConfigurationSourceError, RetryPolicy, Source
from sync.sources.graph import GraphConfig, GraphSource
from sync.sources.okta import OktaConfig, OktaSource
from sync.sources.scimpull import ScimPullConfig, ScimPullSource

__all__ = ["PULL_KINDS", "build_source"]

PULL_KINDS = ("okta", "graph", "scim-pull")


def build_source(
    kind: str, config: Mapping[str, Any], secret: str, retry: RetryPolicy | None = None
) -> Source:
    """A ready source; unknown kinds and bad settings are configuration errors.

    Every kind reads its run's bounds from the same settings: ``connect_timeout``,
    ``read_timeout``, ``body_timeout``, ``deadline`` (seconds) and ``max_pages``.
    """
    try:
        bounds = Bounds.from_config(config)
        if kind == "okta":
            return OktaSource(_okta(config, secret), retry=retry, bounds=bounds)
        if kind == "graph":
            return GraphSource(_graph(config, secret), retry=retry, bounds=bounds)
        if kind == "scim-pull":
            cfg = ScimPullConfig(
                base_url=str(config.get("base_url", "")),
                token=secret,
                page_size=int(config.get("page_size", 100)),
            )
            return ScimPullSource(cfg, retry=retry, bounds=bounds)
    except (TypeError, ValueError) as exc:
        raise ConfigurationSourceError(f"bad {kind} settings: {exc}") from None
    raise ConfigurationSourceError(
        f"source kind {kind!r} cannot be pulled; expected one of {', '.join(PULL_KINDS)}"
    )


def _okta(config: Mapping[str, Any], secret: str) -> OktaConfig:
    common = {
        "org_url": str(config.get("org_url", "")),
        "page_size": int(config.get("page_size", 200)),
        "concurrency": int(config.get("concurrency", 4)),
    }
    if config.get("auth", "token") == "token":
        return OktaConfig(api_token=secret, **common)  # type: ignore[arg-type]
    return OktaConfig(
        client_id=str(config.get("client_id", "")),
        private_key=secret,
        key_id=config.get("key_id"),
        scopes=str(config.get("scopes", "okta.users.read okta.groups.read")),
        **common,  # type: ignore[arg-type]
    )


def _graph(config: Mapping[str, Any], secret: str) -> GraphConfig:
    certificate = config.get("auth") == "certificate"
    return GraphConfig(
        tenant_id=str(config.get("tenant_id", "")),
        client_id=str(config.get("client_id", "")),
        client_secret=None if certificate else secret,
        certificate_key=secret if certificate else None,
        certificate_thumbprint=config.get("thumbprint"),
        authority=str(config.get("authority", "https://login.microsoftonline.com")),
        graph_url=str(config.get("graph_url", "https://graph.microsoft.com")),
        delta=bool(config.get("delta", False)),
        page_size=int(config.get("page_size", 999)),
        concurrency=int(config.get("concurrency", 4)),
    )
