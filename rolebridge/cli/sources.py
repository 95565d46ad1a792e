"""``rolebridge source add|list|test``, ``sync`` and ``scheduler``: directories pulled from an
IdP's API.

Secrets are read from an environment variable or a file, never from the command line,
and are stored encrypted (``ROLEBRIDGE_SECRET_KEY``) or as a reference; they are never
printed. A source is added through the admin API's service
(``sync.services.sources.save_source``), with the same audit entry.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from mappings.completeness import DropLimit
from mappings.errors import InputError, RolebridgeError
from mappings.render import render_text
from rolebridge.cli.common import (
    OPERATOR,
    database,
    echo_json_lines,
    fail,
    format_option,
    one_line_errors,
    org_id,
    org_option,
    org_record,
    settings,
)
from sync.credentials.secrets import is_reference
from sync.db import SessionFactory
from sync.gcpause import cyclic_gc_paused
from sync.logs import configure_logging
from sync.pull import LOCK_WAIT_SECONDS, PullResult
from sync.scheduler import PullScheduler, parse_schedule
from sync.services.sources import (
    PullBusy,
    SourceSettings,
    run_source,
    save_source,
    test_source,
)
from sync.settings import Settings
from sync.sources.catalog import list_sources, pulled_sources
from sync.sources.kind import SourceKind
from sync.sources.probe import PROBE_TIMEOUT
from sync.sources.registry import KINDS
from sync.stop import DEFAULT_GRACE_SECONDS, StopSignal
from sync.store.orgs import get_org

__all__ = ["scheduler_command", "source_group", "sync_command"]


def _read_secret(env: str | None, file: str | None, reference: bool) -> str:
    """The secret given as --secret-env or --secret-file (or, with --reference, the
    env:/file: reference to store as it is)."""
    if bool(env) == bool(file):
        fail("give the secret as exactly one of --secret-env NAME or --secret-file PATH")
    if reference:
        return f"env:{env}" if env else f"file:{Path(str(file)).resolve()}"
    if env:
        value = os.environ.get(env, "")
        if not value:
            fail(f"environment variable {env} is empty or not set")
    else:
        try:
            value = Path(str(file)).read_text().strip()
        except OSError as exc:
            fail(f"{file}: {exc.strerror}")
    return value


@click.group("source")
def source_group() -> None:
    """Directory sources pulled from an IdP's API."""


def _common(fn: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        org_option(),
        click.option("--name", default=None, help="Source name (default: the kind)."),
        click.option("--schedule", default=None, help="'15m', '6h' or a cron line (UTC)."),
        click.option(
            "--max-user-drop",
            default="10%",
            show_default=True,
            help="Hold a snapshot that loses more users than this (a count or a percentage).",
        ),
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
    configured = settings()
    with one_line_errors():
        if opts["schedule"]:
            parse_schedule(opts["schedule"])
        DropLimit.parse(opts["max_user_drop"])
    secret = _read_secret(opts["secret_env"], opts["secret_file"], opts["reference"])
    config = {k: v for k, v in config.items() if v is not None}
    config["max_user_drop"] = opts["max_user_drop"]
    name = opts["name"] or kind
    wanted = SourceSettings(name, kind, config, secret, opts["schedule"])
    with database(configured) as factory:
        found = org_record(factory, opts["org"])
        with one_line_errors():
            save_source(
                factory, found.id, OPERATOR, wanted, secret_key=configured.secret_key, create=True
            )
    form = secret if is_reference(secret) else "encrypted"
    click.echo(f"added {kind} source {name!r} to {found.name!r} (secret: {form})")


_COMMON_KEYS = (
    "org",
    "name",
    "schedule",
    "max_user_drop",
    "secret_env",
    "secret_file",
    "reference",
)


def _add_command(kind: SourceKind) -> click.Command:
    """``source add <kind>``: the common options, then the kind's own settings."""

    def command(**values: Any) -> None:
        opts = {key: values.pop(key) for key in _COMMON_KEYS}
        _add(kind.name, kind.settle(values), opts)

    for f in reversed(kind.fields):
        if f.flag:
            option = click.option(f.option_name, f.name, is_flag=True, help=f.help)
        else:
            option = click.option(f.option_name, f.name, required=f.required, help=f.help)
        command = option(command)
    return click.command(kind.name, help=kind.summary)(_common(command))


for _kind in KINDS.values():
    add_group.add_command(_add_command(_kind))


@source_group.command("list")
@org_option(required=False, help="Only this organisation (name or id).")
@format_option
def list_command(org: str | None, fmt: str) -> None:
    """Sources with their schedule and last run (secrets are never shown)."""
    rows: list[dict[str, Any]] = []
    with database() as factory:
        only = org_id(factory, org) if org else None
        with factory() as session:
            for listed in list_sources(session, only):
                last = listed.last_run
                rows.append(
                    {
                        "org": listed.org,
                        "id": listed.id,
                        "name": listed.name,
                        "kind": listed.kind,
                        "schedule": listed.schedule,
                        "enabled": listed.enabled,
                        "secret": listed.secret_form or None,
                        "last_run": last and {
                            "started_at": last.started_at.isoformat(),
                            "outcome": last.outcome,
                        },
                    }
                )  # fmt: skip
    if fmt == "json":
        echo_json_lines(rows)
        return
    table = Table("org", "id", "name", "kind", "schedule", "enabled", "secret", "last run")
    for row in rows:
        last = row["last_run"]
        ran = f"{last['started_at'][:16].replace('T', ' ')} {last['outcome']}" if last else "never"
        table.add_row(
            row["org"], str(row["id"]), row["name"], row["kind"], row["schedule"] or "-",
            "yes" if row["enabled"] else "no", row["secret"] or "-", ran,
        )  # fmt: skip
    Console().print(table)


@source_group.command("test")
@org_option()
@click.argument("source_name", metavar="SOURCE")
@click.option(
    "--timeout",
    default=PROBE_TIMEOUT,
    show_default=True,
    type=click.FloatRange(min=0.1, max=120),
    help="Seconds to wait for the IdP at each step.",
)
def test_command(org: str, source_name: str, timeout: float) -> None:
    """Test a source's connection: one authenticated request (exit 1 when it fails)."""
    configured = settings()
    with database(configured) as factory:
        found = org_id(factory, org)
        with one_line_errors():
            result = test_source(
                factory,
                found,
                OPERATOR,
                source_name,
                secret_key=configured.secret_key,
                timeout=timeout,
            )
    if not result.ok:
        fail(f"{source_name}: {result.detail}")
    click.echo(f"{source_name}: ok, {result.detail}")


_DONE = frozenset({"applied", "empty", "planned"})  # anything else exits 1


@click.command("sync")
@org_option()
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
@format_option
@cyclic_gc_paused()
def sync_command(
    org: str, source_name: str | None, dry_run: bool, force: bool, wait: float, fmt: str
) -> None:
    """Pull the org's sources now, reconcile, print the plan.

    Exit status 0 when every run applied its plan or had nothing to do (with --dry-run:
    planned); 1 when a run failed, was suspicious, was held or pending (approve the plan
    it names), was stopped, or could not start. SIGTERM stops it within seconds.
    """
    configured = settings()
    stop = StopSignal(DEFAULT_GRACE_SECONDS)
    with database(configured) as factory, stop.on_signals(factory, exit_code=1):
        run = _Run(factory, configured, dry_run, force, stop, fmt == "json")
        done = run.all(org, source_name, wait)
    if not done:
        raise SystemExit(1)


class _Run:
    """One ``sync`` command: its sources pulled in turn, each reported as it ends."""

    def __init__(
        self,
        factory: SessionFactory,
        configured: Settings,
        dry_run: bool,
        force: bool,
        stop: StopSignal,
        as_json: bool,
    ) -> None:
        self.factory, self.settings, self.stop = factory, configured, stop
        self.dry_run, self.force, self.as_json = dry_run, force, as_json
        self.console = Console(soft_wrap=True)  # long errors and plan lines stay whole lines

    def all(self, org: str, source_name: str | None, wait: float) -> bool:
        """Pull each source of the org; True when every run ended well."""
        found = org_id(self.factory, org)
        with self.factory() as session:
            names = [s.name for s in pulled_sources(session, found, source_name)]
            org_name = get_org(session, found).name
        if not names:
            fail(f"no pulled source {source_name or ''} in {org!r}".replace("  ", " "))
        done = True
        for name in names:
            if self.stop.is_set:
                fail(f"{name}: not started: {self.stop.reason}")
            try:
                result = self.pull(found, name, wait)
            except PullBusy:
                fail(_not_acquired(org_name, wait, self.stop))
            except RolebridgeError as exc:
                fail(exc)
            self.report(name, result, org_name)
            done = done and result.outcome in _DONE
        return done

    def pull(self, org: int, name: str, wait: float) -> PullResult:
        """Run one pull, with a progress display in text mode."""
        if self.as_json:
            return self._run_pull(org, name, wait, None)
        columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
        with Progress(*columns, console=self.console, transient=True) as bar:
            kinds = ("pages", "users", "groups")
            tasks = {k: bar.add_task(f"{name}: 0 {k}", total=None) for k in kinds}
            seen = dict.fromkeys(tasks, 0)

            def progress(kind: str, n: int) -> None:
                if kind in tasks:
                    seen[kind] += n
                    description = f"{name}: {seen[kind]} {kind}"
                    bar.update(tasks[kind], advance=n, description=description)

            return self._run_pull(org, name, wait, progress)

    def _run_pull(
        self, org: int, name: str, wait: float, progress: Callable[[str, int], None] | None
    ) -> PullResult:
        return run_source(
            self.factory,
            org,
            name,
            OPERATOR,
            secret_key=self.settings.secret_key,
            wait=wait,
            dry_run=self.dry_run,
            force=self.force,
            progress=progress,
            stop=self.stop,
            quarantine_after=self.settings.quarantine_after,
        )

    def report(self, name: str, result: PullResult, org_name: str) -> None:
        """Print how the run ended (a JSON line with --format json)."""
        if self.as_json:
            echo_json_lines([_result_json(name, result)])
            return
        _report(self.console, name, result, org_name)


def _result_json(name: str, result: PullResult) -> dict[str, Any]:
    return {
        "source": name,
        "outcome": result.outcome,
        "run": result.run_id,
        "counts": dict(result.counts),
        "error": result.error,
        "plan_id": result.plan_id,
        "plan": result.plan.to_dict() if result.plan is not None else None,
    }


def _not_acquired(org_name: str, wait: float, stop: StopSignal) -> str:
    if stop.is_set:
        return f"not started: {stop.reason}"
    return (
        f"another pull of {org_name!r} is running (waited {wait:g} s for it); "
        "try again later or give --wait more seconds"
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
@click.option("--workers", default=4, show_default=True, help="Pulls run at the same time.")
@click.option(
    "--housekeeping",
    default=None,
    help="How often every org is reconciled (e.g. 15m, a cron line, or off); "
    "default: ROLEBRIDGE_HOUSEKEEPING_INTERVAL, else 1h.",
)
def scheduler_command(
    refresh: float, max_runtime: float | None, workers: int, housekeeping: str | None
) -> None:
    """Run scheduled pulls and the housekeeping reconcile of every org until interrupted."""
    configured = settings()
    configure_logging(configured.log_level, configured.log_format)
    interval = configured.housekeeping_interval
    if housekeeping is not None:
        interval = None if housekeeping.strip().lower() in ("off", "0", "") else housekeeping
    try:
        if interval is not None:
            parse_schedule(interval)
    except InputError as exc:
        fail(f"--housekeeping: {exc.message}")
    with database(configured) as factory:
        PullScheduler(
            factory,
            secret_key=configured.secret_key,
            refresh_seconds=refresh,
            workers=workers,
            housekeeping=interval,
            quarantine_after=configured.quarantine_after,
        ).run(max_runtime)
