"""The reconcile backlog: SCIM writes that found their org's lock taken plan together.

An org's writes run one at a time under its lock (docs/architecture.md section 7.3). A
write that takes the lock at once reconciles its users in its own transaction (section
3.1). A write that had to wait for it (another write or reconcile of the org held it:
an IdP pushing on several connections) commits its mirror change with its users queued
here instead, and then waits until they are planned: it takes the lock when it is free
and plans every user of the org queued by then, in one pass; when the lock is taken it
checks whether a pass has taken its users and committed, and waits a little longer if
not (1 ms, doubling to 8 ms; after 50 ms it waits in line for the lock). Writes that
queue meanwhile share one gather, one plan and one apply, and a write whose users an
earlier pass took answers without taking the lock again. So a burst of writes costs a
pass per turn of the lock, not a reconcile per write.

Each write answers once its users are reconciled, as an unqueued one does. A pass that
fails rolls back with its users still queued, and the write that ran it answers with the
error; planning a user again changes nothing a pass already did. PostgreSQL only: on
SQLite a write holds the database's write lock from its start, so nothing waits in a
way the org's lock could tell.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection

from sqlalchemy import Connection, bindparam, delete, exists, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session, sessionmaker

from sync.db import write_session
from sync.models import ReconcileBacklog
from sync.reconcile import lock_org, try_lock_with

__all__ = ["Pass", "drain", "queue", "queued", "take"]

Pass = Callable[[Session, list[str]], object]  # reconcile these users in this transaction

_FIRST_PAUSE = 0.001  # s: the first wait for a pass that holds the lock
_LAST_PAUSE = 0.008  # s: the longest single wait
_POLL_FOR = 0.05  # s: then the write waits in line for the lock instead


# built once, bound per call (building a statement costs about as much CPU as running it)
_QUEUE = pg_insert(ReconcileBacklog).on_conflict_do_nothing()
_TAKE = (
    delete(ReconcileBacklog)
    .where(ReconcileBacklog.org_id == bindparam("org"))
    .returning(ReconcileBacklog.idp_id)
)
_QUEUED = select(ReconcileBacklog.idp_id).where(ReconcileBacklog.org_id == bindparam("org"))
_STILL_QUEUED = (
    exists()
    .where(
        ReconcileBacklog.org_id == bindparam("org"), ReconcileBacklog.idp_id == bindparam("user")
    )
    .label("queued")
)


def queue(session: Session, org_id: int, users: Collection[str]) -> None:
    """Queue ``users`` (IdP ids) of the org for the next pass, in the write's transaction."""
    if not users:
        return
    rows = [{"org_id": org_id, "idp_id": user} for user in sorted(users)]
    session.connection().execute(_QUEUE, rows)


def take(session: Session, org_id: int) -> list[str]:
    """Every user queued for the org, taken off the backlog (under the org's lock)."""
    return sorted(session.connection().scalars(_TAKE, {"org": org_id}))


def queued(session: Session, org_id: int) -> list[str]:
    """The users queued for the org."""
    return sorted(session.scalars(_QUEUED, {"org": org_id}))


def drain(
    session_factory: sessionmaker[Session],
    org_id: int,
    mine: Collection[str],
    plan: Pass,
    bind: Connection | None = None,
) -> None:
    """Return once ``mine`` (queued and committed) are planned: by a pass of this call, which
    plans every user queued for the org, or by a pass another write made and committed.
    ``bind``: the write's connection, as for ``sync.db.write_session``."""
    pause, waited = _FIRST_PAUSE, 0.0
    # one transaction for the polls (READ COMMITTED: each statement sees what was committed
    # before it), so that a poll is one statement, not a connection's checkout, ping,
    # BEGIN and COMMIT each time
    with write_session(session_factory, bind) as session:
        while waited < _POLL_FOR:
            # the lock if it is free, and whether the first of ``mine`` is still queued, in
            # one statement; one of them tells: they were queued in one transaction, and a
            # pass takes every user queued (one queued again later only waits longer)
            taken, waiting = try_lock_with(session, org_id, _STILL_QUEUED, user=min(mine))
            if taken:
                _pass(session, org_id, plan)
                return
            if not waiting:
                return  # a pass took them and committed (its DELETE is visible)
            time.sleep(pause)
            waited += pause
            pause = min(pause * 2, _LAST_PAUSE)
        lock_org(session, org_id)
        _pass(session, org_id, plan)


def _pass(session: Session, org_id: int, plan: Pass) -> None:
    users = take(session, org_id)
    if users:
        plan(session, users)
