"""Prometheus metrics at ``/metrics`` (prometheus-client).

Two kinds, chosen so that any number of gunicorn workers and scheduler processes report
one truth:

- **Per request** (counted in the web process that served it): ``rolebridge_scim_requests_total``
  by resource, method and status, and ``rolebridge_scim_request_duration_seconds``
  (a histogram by resource and method). Under gunicorn with several workers set
  ``PROMETHEUS_MULTIPROC_DIR`` to an empty directory (``rolebridge serve`` and
  ``scim_server.gunicorn_conf`` do); every worker then writes its samples there and a
  scrape of any worker adds them all up (prometheus-client's multiprocess mode).
- **Read from the database at scrape time** (so the scheduler and outbox processes need
  no metrics endpoint of their own, and restarts lose nothing): reconcile runs by
  outcome, operations applied by kind (the audit log), plans held for approval, pull
  errors by kind (``transient``, ``configuration``, ``data``, ``internal``), the
  outbox backlog and the reconcile backlog (users of SCIM writes waiting for a pass,
  ``sync.backlog``: a pass takes them within milliseconds, so a lasting count means
  passes fail). These are totals over all organisations.

``ROLEBRIDGE_METRICS_TOKEN``, when set, makes ``/metrics`` want that bearer token.
"""

from __future__ import annotations

import hmac
import os
import time
from collections.abc import Iterator, Mapping

from flask import Flask, Response, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client import multiprocess as prometheus_multiprocess
from prometheus_client.exposition import generate_latest
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from sync.db import SessionFactory
from sync.store.totals import platform_totals

__all__ = ["DatabaseCollector", "SCIM_LATENCY", "SCIM_REQUESTS", "init_app", "scim_resource"]

SCIM_REQUESTS = Counter(
    "rolebridge_scim_requests",
    "SCIM requests served, by resource, method and status.",
    ["resource", "method", "status"],
    registry=None,
)
SCIM_LATENCY = Histogram(
    "rolebridge_scim_request_duration_seconds",
    "Time to serve a SCIM request, by resource and method.",
    ["resource", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=None,
)
_SCIM_PREFIX = "/scim/v2"
_RESOURCES = frozenset(
    {"Users", "Groups", "ServiceProviderConfig", "ResourceTypes", "Schemas", "Bulk", ".search"}
)


def scim_resource(path: str) -> str | None:
    """The resource label of a SCIM path (``Users``, ``Groups``...), ``other``, or None."""
    if not path.startswith(_SCIM_PREFIX):
        return None
    first = path.removeprefix(_SCIM_PREFIX).strip("/").split("/", 1)[0]
    if not first:
        return "root"
    return first if first in _RESOURCES else "other"


class DatabaseCollector(Collector):
    """Metrics derived from the database on each scrape (see the module docstring)."""

    def __init__(self, session_factory: SessionFactory) -> None:
        self._session_factory = session_factory

    def collect(self) -> Iterator[Metric]:
        """Read the totals in one short transaction (``sync.store.totals``)."""
        totals = platform_totals(self._session_factory)
        yield _counter(
            "rolebridge_reconcile_runs", "Reconcile runs by outcome.", "outcome", totals.runs
        )
        yield _counter(
            "rolebridge_operations_applied", "Operations applied by kind.", "op", totals.operations
        )
        yield _counter(
            "rolebridge_source_errors",
            "Failed or held pulls by error kind.",
            "kind",
            totals.source_errors,
        )
        yield GaugeMetricFamily(
            "rolebridge_plans_held", "Plans held for approval.", value=totals.plans_held
        )
        yield GaugeMetricFamily(
            "rolebridge_outbox_backlog",
            "Emails waiting in the outbox.",
            value=totals.outbox_backlog,
        )
        yield GaugeMetricFamily(
            "rolebridge_reconcile_backlog",
            "Users of SCIM writes waiting for a reconcile pass.",
            value=totals.reconcile_backlog,
        )


def _counter(name: str, doc: str, label: str, counts: Mapping[str, int]) -> CounterMetricFamily:
    family = CounterMetricFamily(name, doc, labels=[label])
    for key, count in counts.items():
        family.add_metric([key], count)
    return family


class _LocalRequests(Collector):
    """The request metrics of this process (single-process mode)."""

    def collect(self) -> Iterator[Metric]:
        yield from SCIM_REQUESTS.collect()
        yield from SCIM_LATENCY.collect()


def _registry(session_factory: SessionFactory) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        prometheus_multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry.register(_LocalRequests())
    registry.register(DatabaseCollector(session_factory))
    return registry


def init_app(app: Flask, session_factory: SessionFactory, token: str | None) -> None:
    """Serve ``/metrics`` and count every SCIM request."""
    registry = _registry(session_factory)

    def metrics() -> Response:
        if token is not None:
            sent = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
            if not hmac.compare_digest(sent.encode(), token.encode()):
                return Response("unauthorized\n", 401, {"WWW-Authenticate": "Bearer"})
        return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)

    app.add_url_rule("/metrics", "metrics", metrics, methods=["GET"])
    app.before_request(_start_timer)
    app.after_request(_count)


def _start_timer() -> None:
    g.rolebridge_started = time.perf_counter()


def _count(response: Response) -> Response:
    resource = scim_resource(request.path)
    started = g.get("rolebridge_started")
    if resource is not None and started is not None:
        method = request.method
        SCIM_REQUESTS.labels(resource, method, str(response.status_code)).inc()
        SCIM_LATENCY.labels(resource, method).observe(time.perf_counter() - started)
    return response
