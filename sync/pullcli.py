"""CLI for pulled sources: ``source add``, ``source list``, ``sync`` and ``scheduler``.

Secrets are read from an environment variable or a file, never from the command line,
and are stored encrypted (``ROLEBRIDGE_SECRET_KEY``) or as a reference; they are never
printed. Errors leave as one line and exit code 1.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from mappings.errors import RolebridgeError
from mappings.snapshot import DropLimit
from sync.db import make_engine_for, make_session_factory
from sync.gcpause import cyclic_gc_paused
from sync.models import Organisation, Source, SyncRun
from sync.pull import LOCK_WAIT_SECONDS, PullResult, org_pull_lock, run_pull
from sync.scheduler import PullScheduler, parse_schedule
from sync.secrets import seal_secret
from sync.settings import Settings
from sync.sources.factory import PULL_KINDS
from sync.stop import DEFAULT_GRACE_SECONDS, StopSignal

__all__ = ["scheduler_command", "source_group", "sync_command"]


@contextmanager
def _database(settings: Settings) -> Iterator[sessionmaker[Session]]:
    """A session factory whose engine is disposed when the command ends."""
    engine = make_engine_for(settings)
    try:
        yield make_session_factory(engine)
    finally:
        engine.dispose()


def _fail(message: str) -> click.ClickException:
    return click.ClickException(message)  # one line, exit status 1


def _org(session: Session, ref: str) -> Organisation:
    query = select(Organisation).where(Organisation.name == ref)
    org = session.scalar(query)
    if org is None and ref.isdigit():
        org = session.get(Organisation, int(ref))
    if org is None:
        raise _fail(f"no organisation {ref!r}")
    return org


def _read_secret(env: str | None, file: str | None, reference: bool, key: str) -> str:
    """The value to store for a secret given as --secret-env or --secret-file."""
    if bool(env) == bool(file):
        raise _fail("give the secret as exactly one of --secret-env NAME or --secret-file PATH")
    if reference:
        return f"env:{env}" if env else f"file:{Path(str(file)).resolve()}"
    if env:
        value = os.environ.get(env, "")
        if not value:
            raise _fail(f"environment variable {env} is empty or not set")
    else:
        try:
            value = Path(str(file)).read_text().strip()
        except OSError as exc:
            raise _fail(f"{file}: {exc.strerror}") from None
    try:
        return seal_secret(value, key)
    except RolebridgeError as exc:
        raise _fail(str(exc)) from None


@click.group("source")
def source_group() -> None:
    """Directory sources pulled from an IdP's API."""


def _common(fn: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option("--org", "org_ref", required=True, help="Organisation name or id."),
        click.option("--name", default=None, help="Source name (default: the kind)."),
        click.option("--schedule", default=None, help="'15m', '6h' or a cron line (UTC)."),
        click.option("--max-user-drop", default="10%", show_default=True),
        click.option("--secret-env", default=None, help="Read the secret from this variable."),
        click.option("--secret-file", default=None, help="Read the secret from this file."),
        click.option(
            "--reference", is_flag=True, help="Store env:/file: reference, not the value."
        ),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


@source_group.group("add")
def add_group() -> None:
    """Add a pulled source to an organisation."""


def _add(kind: str, config: dict[str, Any], opts: dict[str, Any]) -> None:
    settings = Settings.from_env()
    try:
        if opts["schedule"]:
            parse_schedule(opts["schedule"])
        DropLimit.parse(opts["max_user_drop"])
    except RolebridgeError as exc:
        raise _fail(str(exc)) from None
    secret = _read_secret(
        opts["secret_env"], opts["secret_file"], opts["reference"], settings.secret_key
    )
    config = {k: v for k, v in config.items() if v is not None}
    config["max_user_drop"] = opts["max_user_drop"]
    name = opts["name"] or kind
    with _database(settings) as factory, factory.begin() as session:
        org = _org(session, opts["org_ref"])
        taken = select(Source.id).where(Source.org_id == org.id, Source.name == name)
        if session.scalar(taken) is not None:
            raise _fail(f"organisation {org.name!r} already has a source named {name!r}")
        session.add(
            Source(
                org_id=org.id,
                name=name,
                kind=kind,
                config=config,
                secret=secret,
                schedule=opts["schedule"],
            )
        )
    form = secret if secret.startswith(("env:", "file:")) else "encrypted"
    click.echo(f"added {kind} source {name!r} to {org.name!r} (secret: {form})")


@add_group.command("okta")
@_common
@click.option("--org-url", required=True, help="https://acme.okta.com")
@click.option("--client-id", default=None, help="OAuth service app (secret = its private key).")
@click.option("--key-id", default=None)
def add_okta(org_url: str, client_id: str | None, key_id: str | None, **opts: Any) -> None:
    """Okta: an API token, or a service app's private key with --client-id."""
    auth = "private_key_jwt" if client_id else "token"
    config = {"org_url": org_url, "auth": auth, "client_id": client_id, "key_id": key_id}
    _add("okta", config, opts)


@add_group.command("graph")
@_common
@click.option("--tenant", "tenant_id", required=True)
@click.option("--client-id", required=True)
@click.option("--thumbprint", default=None, help="Certificate x5t (secret = its private key).")
@click.option("--delta", is_flag=True, help="Use delta queries after the first pull.")
@click.option("--authority", default=None)
@click.option("--graph-url", default=None)
def add_graph(
    tenant_id: str,
    client_id: str,
    thumbprint: str | None,
    delta: bool,
    authority: str | None,
    graph_url: str | None,
    **opts: Any,
) -> None:
    """Microsoft Graph: a client secret, or a certificate key with --thumbprint."""
    config = {
        "tenant_id": tenant_id,
        "client_id": client_id,
        "auth": "certificate" if thumbprint else "secret",
        "thumbprint": thumbprint,
        "delta": delta,
        "authority": authority,
        "graph_url": graph_url,
    }
    _add("graph", config, opts)


@add_group.command("scim-pull")
@_common
@click.option("--base-url", required=True, help="The SCIM base, e.g. https://x/scim/v2")
def add_scim_pull(base_url: str, **opts: Any) -> None:
    """Any SCIM 2.0 server (secret = its bearer token)."""
    _add("scim-pull", {"base_url": base_url}, opts)


@source_group.command("list")
@click.option("--org", "org_ref", default=None, help="Only this organisation.")
def list_sources(org_ref: str | None) -> None:
    """Sources with their schedule and last run (secrets are never shown)."""
    table = Table("org", "id", "name", "kind", "schedule", "enabled", "secret", "last run")
    with _database(Settings.from_env()) as factory, factory() as session:
        query = select(Source, Organisation.name).join(Organisation)
        if org_ref:
            query = query.where(Source.org_id == _org(session, org_ref).id)
        for source, org_name in session.execute(query.order_by(Source.id)):
            last = session.scalar(
                select(SyncRun)
                .where(SyncRun.source_id == source.id)
                .order_by(SyncRun.id.desc())
                .limit(1)
            )
            secret = source.secret or ""
            form = secret if secret.startswith(("env:", "file:")) else (secret and "encrypted")
            ran = f"{last.started_at:%Y-%m-%d %H:%M} {last.outcome}" if last else "never"
            table.add_row(
                org_name, str(source.id), source.name, source.kind, source.schedule or "-",
                "yes" if source.enabled else "no", form or "-", ran,
            )  # fmt: skip
    Console().print(table)


_DONE = frozenset({"applied", "empty", "planned"})  # anything else exits 1


@click.command("sync")
@click.option("--org", "org_ref", required=True, help="Organisation name or id.")
@click.option("--source", "source_name", default=None, help="Only this source.")
@click.option("--dry-run", is_flag=True, help="Fetch and plan; change nothing.")
@click.option("--force", is_flag=True, help="Use a snapshot the completeness gate holds.")
@click.option(
    "--wait",
    type=click.FloatRange(min=0),
    default=LOCK_WAIT_SECONDS,
    show_default=True,
    help="Seconds to wait for another pull of the org to finish.",
)
@cyclic_gc_paused()
def sync_command(
    org_ref: str, source_name: str | None, dry_run: bool, force: bool, wait: float
) -> None:
    """Pull the org's sources now, reconcile, print the plan.

    Exit status 0 when every run applied its plan or had nothing to do (with --dry-run:
    planned); 1 when a run failed, was suspicious, was held or pending (approve the plan
    it names), was stopped, or could not start. SIGTERM stops it within seconds.
    """
    settings = Settings.from_env()
    stop = StopSignal(DEFAULT_GRACE_SECONDS)
    with _database(settings) as factory, stop.on_signals(factory, exit_code=1):
        done = _sync(factory, settings, org_ref, source_name, dry_run, force, wait, stop)
    if not done:
        raise SystemExit(1)


def _sync(
    factory: sessionmaker[Session],
    settings: Settings,
    org_ref: str,
    source_name: str | None,
    dry_run: bool,
    force: bool,
    wait: float,
    stop: StopSignal,
) -> bool:
    with factory() as session:
        org = _org(session, org_ref)
        query = select(Source).where(Source.org_id == org.id, Source.kind.in_(PULL_KINDS))
        if source_name:
            query = query.where(Source.name == source_name)
        sources = [(s.id, s.name) for s in session.scalars(query.order_by(Source.id))]
        org_id, org_name = org.id, org.name
    if not sources:
        raise _fail(f"no pulled source {source_name or ''} in {org_ref!r}".replace("  ", " "))
    console = Console(soft_wrap=True)  # long errors and plan lines stay whole lines
    done = True
    for source_id, name in sources:
        if stop.is_set:
            raise _fail(f"{name}: not started: {stop.reason}")
        with org_pull_lock(factory, org_id, wait=wait, stop=stop) as acquired:
            if not acquired:
                raise _fail(_not_acquired(org_name, wait, stop))
            result = _run_with_progress(
                factory, source_id, name, settings, dry_run, force, console, stop
            )
        _report(console, name, result, org_name)
        done = done and result.outcome in _DONE
    return done


def _not_acquired(org_name: str, wait: float, stop: StopSignal) -> str:
    if stop.is_set:
        return f"not started: {stop.reason}"
    return (
        f"another pull of {org_name!r} is running (waited {wait:g} s for it); "
        "try again later or give --wait more seconds"
    )


def _run_with_progress(
    factory: sessionmaker[Session],
    source_id: int,
    name: str,
    settings: Settings,
    dry_run: bool,
    force: bool,
    console: Console,
    stop: StopSignal,
) -> PullResult:
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        tasks = {
            k: bar.add_task(f"{name}: 0 {k}", total=None) for k in ("pages", "users", "groups")
        }
        seen = dict.fromkeys(tasks, 0)

        def progress(kind: str, n: int) -> None:
            if kind in tasks:
                seen[kind] += n
                bar.update(tasks[kind], advance=n, description=f"{name}: {seen[kind]} {kind}")

        return run_pull(
            factory,
            source_id,
            secret_key=settings.secret_key,
            dry_run=dry_run,
            force=force,
            trigger="cli",
            progress=progress,
            stop=stop,
        )


def _report(console: Console, name: str, result: PullResult, org_name: str) -> None:
    counts = result.counts
    console.print(
        f"{name}: {result.outcome} (run {result.run_id}; {counts.get('pages', 0)} pages, "
        f"{counts.get('users', 0)} users, {counts.get('groups', 0)} groups)",
        markup=False,
        soft_wrap=True,
    )
    if result.error:  # one line, never wrapped: operators grep for it
        console.print(f"{name}: {result.error}", markup=False, soft_wrap=True)
    if result.plan is not None:
        from mappings.render import render_text

        console.print(render_text(result.plan), markup=False, highlight=False, soft_wrap=True)
    if result.outcome in ("held", "pending") and result.plan_id is not None:
        command = f"rolebridge approve --org {shlex.quote(org_name)} {result.plan_id}"
        console.print(
            f"{name}: plan {result.plan_id} waits for approval; approve and apply it with: "
            f"{command}",
            markup=False,
            soft_wrap=True,
        )


@click.command("scheduler")
@click.option("--refresh", default=30.0, show_default=True, help="Seconds between re-reads.")
@click.option("--max-runtime", default=None, type=float, help="Stop after this many seconds.")
@click.option("--workers", default=4, show_default=True)
def scheduler_command(refresh: float, max_runtime: float | None, workers: int) -> None:
    """Run scheduled pulls in this process until interrupted."""
    from sync.logs import configure_logging

    settings = Settings.from_env()
    configure_logging(settings.log_level, settings.log_format)
    with _database(settings) as factory:
        PullScheduler(
            factory,
            secret_key=settings.secret_key,
            refresh_seconds=refresh,
            workers=workers,
        ).run(max_runtime)
