"""Pulled sources as use cases: running one now (the admin API's and the admin pages'
"run now" and ``rolebridge sync``, docs/architecture.md section 3.2), and adding, editing,
pausing and queueing one for the org's admins.

Running: the caller's role must manage someone; the source must be one the org pulls;
the org's pull lock is held for the whole run (``wait`` seconds to get it, else
``PullBusy``). The run itself (``sync.pull.run_pull``) opens and closes its one
``sync_runs`` row and reconciles in the org's locked transaction, writing the audit
entries of what it applies. The cyclic garbage collector is paused by the process entry
point, not here (section 2.3).

Administering: a secret is write-only: it is sealed (encrypted with
``ROLEBRIDGE_SECRET_KEY``) on the way in and never returned; an edit without one keeps
the stored secret. ``env:`` and ``file:`` references are the host operator's alone (they
read the server's environment and files): stored as they are for the command line
(``rolebridge source add``), refused for everyone else. "Run now" from the
web only records a request; the scheduler (``sync.scheduler``) picks it up and runs the
pull, never the web request. Each change is one transaction under the org lock with one
audit entry naming who did it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from mappings.authority import Caller
from mappings.completeness import DropLimit
from mappings.errors import InputError
from sync.credentials.secrets import is_reference, resolve_secret, seal_secret
from sync.db import write_session
from sync.errors import Conflict, NotFound
from sync.models import Source, utcnow
from sync.pull import PullResult, org_pull_lock, run_pull
from sync.reconcile import lock_org
from sync.scheduler import parse_schedule
from sync.services.common import allow_admin_action
from sync.sources.base import ConfigurationSourceError, Progress
from sync.sources.catalog import SourceDetail, detail_of, pullable_source
from sync.sources.factory import PULL_KINDS
from sync.sources.probe import PROBE_TIMEOUT, ProbeResult, probe_source
from sync.sources.registry import find_kind
from sync.stop import StopSignal
from sync.store.audit import record_audit
from sync.store.orgs import get_org, role_model_for

__all__ = [
    "PullBusy",
    "SourceChanges",
    "SourceSettings",
    "edit_source",
    "editable_settings",
    "request_run",
    "run_source",
    "save_source",
    "set_paused",
    "test_source",
]


class PullBusy(Conflict):
    """Another pull of the org holds its pull lock."""


def run_source(
    session_factory: sessionmaker[Session],
    org: int | str,
    name: str,
    caller: Caller,
    *,
    secret_key: str,
    wait: float = 0.0,
    dry_run: bool = False,
    force: bool = False,
    progress: Progress | None = None,
    stop: StopSignal | None = None,
    quarantine_after: int = 3,
) -> PullResult:
    """Pull the org's source called ``name`` now and reconcile; the caller's name is the
    run's trigger. ``NotFound`` (no such source), ``InputError`` (a pushed source),
    ``Forbidden`` (a role that manages no one), ``PullBusy`` (another pull runs)."""
    with session_factory() as session:
        org_row = get_org(session, org)
        allow_admin_action(role_model_for(org_row.role_model), caller)
        source = pullable_source(session, org_row.id, name)
    with org_pull_lock(session_factory, source.org_id, wait=wait, stop=stop) as acquired:
        if not acquired:
            raise PullBusy("a pull of this organisation is running", "name")
        return run_pull(
            session_factory,
            source.id,
            secret_key=secret_key,
            dry_run=dry_run,
            force=force,
            trigger=caller.actor,
            progress=progress,
            stop=stop,
            quarantine_after=quarantine_after,
        )


# the settings each kind takes from an admin (never a secret)
_FIELDS: Mapping[str, frozenset[str]] = {
    "okta": frozenset({"org_url", "auth", "client_id", "key_id", "max_user_drop"}),
    "graph": frozenset(
        {"tenant_id", "client_id", "auth", "thumbprint", "delta", "authority", "graph_url"}
        | {"max_user_drop"}
    ),
    "scim-pull": frozenset({"base_url", "max_user_drop"}),
}
_REQUIRED: Mapping[str, tuple[str, ...]] = {
    "okta": ("org_url",),
    "graph": ("tenant_id", "client_id"),
    "scim-pull": ("base_url",),
}


@dataclass(frozen=True, slots=True)
class SourceSettings:
    """A source as an admin gives it; ``secret`` None keeps the stored one on an edit."""

    name: str
    kind: str
    config: Mapping[str, Any]
    secret: str | None = None
    schedule: str | None = None


def _authority(session: Session, org_id: int, caller: Caller) -> None:
    allow_admin_action(role_model_for(get_org(session, org_id).role_model), caller)


def _check(settings: SourceSettings, caller: Caller) -> dict[str, Any]:
    if settings.kind not in PULL_KINDS:
        raise InputError(f"must be one of {', '.join(PULL_KINDS)}", "kind")
    unknown = sorted(set(settings.config) - _FIELDS[settings.kind])
    if unknown:
        raise InputError(f"a {settings.kind} source has no setting {unknown[0]!r}", "config")
    for field in _REQUIRED[settings.kind]:
        value = settings.config.get(field)
        if not isinstance(value, str) or not value.strip():
            raise InputError(f"a {settings.kind} source needs {field}", f"config.{field}")
    for field in ("org_url", "base_url", "authority", "graph_url"):
        value = settings.config.get(field)
        if value is not None and not str(value).startswith(("https://", "http://")):
            raise InputError("must be an http(s) URL", f"config.{field}")
    if settings.schedule:
        parse_schedule(settings.schedule)
    if settings.secret is not None and is_reference(settings.secret) and not caller.operator:
        raise InputError(
            "env: and file: references are for the host's operator; paste the secret itself",
            "secret",
        )
    return {k: v for k, v in settings.config.items() if v is not None}


def _source(session: Session, org_id: int, name: str) -> Source:
    row = session.scalar(select(Source).where(Source.org_id == org_id, Source.name == name))
    if row is None:
        raise NotFound(f"no source named {name!r}")
    if row.kind not in PULL_KINDS:
        raise InputError("a pushed (SCIM) source is not set up here; make a SCIM token", "name")
    return row


def save_source(
    factory: sessionmaker[Session],
    org_id: int,
    caller: Caller,
    settings: SourceSettings,
    *,
    secret_key: str,
    create: bool,
) -> SourceDetail:
    """Add a source (``create``) or change one; a new source needs its secret. The source
    as it now is, read in the same transaction."""
    config = _check(settings, caller)
    name = settings.name.strip()
    if not name or len(name) > 100:
        raise InputError("a name of 1 to 100 characters", "name")
    with write_session(factory) as session:
        lock_org(session, org_id)
        _authority(session, org_id, caller)
        if create:
            if settings.secret is None or not settings.secret.strip():
                raise InputError("a new source needs its secret", "secret")
            taken = select(Source.id).where(Source.org_id == org_id, Source.name == name)
            if session.scalar(taken) is not None:
                raise Conflict(f"there is already a source named {name!r}")
            row = Source(org_id=org_id, name=name, kind=settings.kind, config={})
            session.add(row)
        else:
            row = _source(session, org_id, name)
            if row.kind != settings.kind:
                raise InputError(f"source {name!r} is a {row.kind} source", "kind")
        row.config = config
        row.schedule = settings.schedule or None
        if settings.secret:
            row.secret = seal_secret(settings.secret, secret_key)
        session.flush()
        detail: dict[str, object] = {
            "source": name,
            "kind": settings.kind,
            "config": config,
            "schedule": row.schedule,
            "secret_changed": bool(settings.secret),
        }
        op = "create_source" if create else "update_source"
        record_audit(session, org_id, caller.actor, op, "", detail)
        return detail_of(session, row)


def set_paused(
    factory: sessionmaker[Session], org_id: int, caller: Caller, name: str, paused: bool
) -> SourceDetail:
    """Pause a source (no scheduled or requested pulls) or resume it; the source as it
    now is."""
    with write_session(factory) as session:
        lock_org(session, org_id)
        _authority(session, org_id, caller)
        row = _source(session, org_id, name)
        if row.enabled == paused:
            row.enabled = not paused
            op = "pause_source" if paused else "resume_source"
            record_audit(session, org_id, caller.actor, op, "", {"source": name})
        session.flush()
        return detail_of(session, row)


def request_run(
    factory: sessionmaker[Session], org_id: int, caller: Caller, name: str
) -> SourceDetail:
    """Queue a pull of the source for the scheduler; a request already waiting stands.
    The source as it now is."""
    with write_session(factory) as session:
        lock_org(session, org_id)
        _authority(session, org_id, caller)
        row = _source(session, org_id, name)
        if not row.enabled:
            raise InputError(f"source {name!r} is paused; resume it first", "name")
        if row.run_requested_at is None:
            row.run_requested_at = utcnow()
            row.run_requested_by = caller.actor
            record_audit(session, org_id, caller.actor, "request_source_run", "", {"source": name})
        session.flush()
        return detail_of(session, row)


def test_source(
    factory: sessionmaker[Session],
    org_id: int,
    caller: Caller,
    name: str,
    *,
    secret_key: str,
    timeout: float = PROBE_TIMEOUT,
) -> ProbeResult:
    """Test the source's connection with one cheap authenticated request (no pull, no
    lock); the outcome, in words, is one ``test_source`` audit entry."""
    with factory() as session:
        _authority(session, org_id, caller)
        row = _source(session, org_id, name)
        kind, config, stored = row.kind, dict(row.config), row.secret
    try:
        secret = resolve_secret(stored, secret_key)
    except ConfigurationSourceError as exc:
        result = ProbeResult(False, str(exc))
    else:
        result = probe_source(kind, config, secret, timeout)
    with write_session(factory) as session:
        detail = {"source": name, "ok": result.ok, "detail": result.detail}
        record_audit(session, org_id, caller.actor, "test_source", "", detail)
    return result


@dataclass(frozen=True, slots=True)
class SourceChanges:
    """What an admin changes on a source; what is left None stays as it is.

    ``config`` sets settings (a None value removes an optional one); ``schedule`` ""
    means "on request only"; ``secret`` replaces the stored one (write-only)."""

    config: Mapping[str, Any] | None = None
    schedule: str | None = None
    paused: bool | None = None
    secret: str | None = None


_NOT_CONFIG = frozenset({"schedule", "paused", "secret"})


def editable_settings(kind: str) -> tuple[str, ...]:
    """The settings of a kind an admin may change, in the kind's order (never a secret)."""
    found = find_kind(kind)
    declared = [f.name for f in found.fields] if found is not None else []
    allowed = _FIELDS.get(kind, frozenset())
    return (*(n for n in declared if n in allowed), "max_user_drop")


def edit_source(
    factory: sessionmaker[Session],
    org_id: int,
    caller: Caller,
    name: str,
    changes: SourceChanges,
    *,
    secret_key: str,
) -> tuple[SourceDetail, list[str]]:
    """Change some of a source's settings, its schedule, pause or secret: the source (as
    it now is) and the names of what changed (one ``update_source`` audit entry naming them, never a
    secret's value). Bad input changes nothing."""
    with write_session(factory) as session:
        lock_org(session, org_id)
        _authority(session, org_id, caller)
        row = _source(session, org_id, name)
        kind = row.kind
        config = dict(row.config)
        allowed = set(editable_settings(kind))
        for key, value in sorted((changes.config or {}).items()):
            if key not in allowed:
                raise InputError(f"a {kind} source has no setting {key!r}", f"config.{key}")
            if value is None or value == "":
                config.pop(key, None)
            else:
                config[key] = value.strip() if isinstance(value, str) else value
        if "max_user_drop" in config:
            DropLimit.parse(config["max_user_drop"])
        found = find_kind(kind)
        before = dict(row.config)
        if found is not None:  # which way it signs in follows from the settings
            config, before = found.settle(config), found.settle(before)
        if config.get("auth") != before.get("auth") and not changes.secret:
            raise InputError(
                "these settings sign in another way: give the new secret too", "secret"
            )
        if changes.secret is not None and not changes.secret.strip():
            raise InputError("a blank secret: leave it out to keep the stored one", "secret")
        schedule = row.schedule if changes.schedule is None else (changes.schedule.strip() or None)
        checked = {k: v for k, v in config.items() if k in _FIELDS[kind]}
        _check(SourceSettings(name, kind, checked, changes.secret, schedule), caller)
        changed = sorted(k for k in config.keys() | before.keys() if config.get(k) != before.get(k))
        if schedule != row.schedule:
            changed.append("schedule")
        if changes.paused is not None and changes.paused == row.enabled:
            changed.append("paused")
            row.enabled = not changes.paused
        if changes.secret:
            changed.append("secret")
            row.secret = seal_secret(changes.secret, secret_key)
        if any(k not in _NOT_CONFIG for k in changed):
            row.config = config
        row.schedule = schedule
        session.flush()
        if changed:
            detail: dict[str, object] = {
                "source": name,
                "kind": kind,
                "changed": changed,
                "config": {k: config.get(k) for k in changed if k not in _NOT_CONFIG},
                "schedule": schedule,
                "paused": not row.enabled,
                "secret_changed": bool(changes.secret),
            }
            record_audit(session, org_id, caller.actor, "update_source", "", detail)
        return detail_of(session, row), changed
