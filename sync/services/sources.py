"""Running a pulled source now, as a use case: the admin API's and the admin pages' "run
now" and ``rolebridge sync`` (docs/architecture.md section 3.2).

The caller's role must manage someone; the source must be one the org pulls; the org's
pull lock is held for the whole run (``wait`` seconds to get it, else ``PullBusy``).
The run itself (``sync.pull.run_pull``) opens and closes its one ``sync_runs`` row and
reconciles in the org's locked transaction, writing the audit entries of what it
applies.

The cyclic garbage collector is paused by the process entry point, not here: a CLI
command or scheduler job pauses it around the run; a web worker, which serves several
requests at once, raises its threshold once at start instead (section 2.3)."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from mappings.authority import Caller
from sync.errors import Conflict
from sync.orgs import get_org, role_model_for
from sync.pull import PullResult, org_pull_lock, run_pull
from sync.services.common import allow_admin_action
from sync.sources.base import Progress
from sync.sources.catalog import pullable_source
from sync.stop import StopSignal

__all__ = ["PullBusy", "run_source"]


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
