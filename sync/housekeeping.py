"""Housekeeping: reconcile every org on an interval, so what only time changes happens on
time without any write.

Invite reminders are due some days after the invite, invites expire, an approval window
ends: nothing in the directory changes, so neither a SCIM write nor a pull would plan
them, and an org fed only by SCIM pushes would never see them. ``housekeep`` plans each
org (SCIM-only orgs included) and reconciles those whose plan has something to do; an
org being pulled right now is left to that pull, an org without a mapping is skipped.
The scheduler (``sync.scheduler``) runs it every ``ROLEBRIDGE_HOUSEKEEPING_INTERVAL``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from sync import logs
from sync.errors import NotFound
from sync.models import Organisation, utcnow
from sync.pull import org_pull_lock
from sync.reconcile import reconcile
from sync.stop import StopSignal

__all__ = ["TRIGGER", "housekeep"]

log = logging.getLogger(__name__)

TRIGGER = "housekeeping"


def housekeep(
    session_factory: sessionmaker[Session],
    *,
    now: datetime | None = None,
    stop: StopSignal | None = None,
) -> Mapping[str, str]:
    """Reconcile every org whose plan has operations; returns org name -> what happened:
    ``idle`` (nothing to do), ``no mapping``, ``busy`` (a pull holds the org), or the
    reconcile's status (``applied``, ``held``, ``pending``), or ``error: ...``."""
    with session_factory() as session:
        orgs = session.execute(select(Organisation.id, Organisation.name).order_by(Organisation.id))
        found = [(org_id, name) for org_id, name in orgs]
    done: dict[str, str] = {}
    for org_id, name in found:
        if stop is not None and stop.is_set:
            break
        logs.bind(org_id=org_id)
        done[name] = _one(session_factory, org_id, now or utcnow(), stop)
        if done[name] not in ("idle", "no mapping"):
            log.info("housekeeping of %s: %s", name, done[name])
    return done


def _one(
    session_factory: sessionmaker[Session], org_id: int, now: datetime, stop: StopSignal | None
) -> str:
    try:
        dry = reconcile(session_factory, org_id, dry_run=True, trigger=TRIGGER, now=now)
    except NotFound:
        return "no mapping"
    except Exception as exc:  # one org's failure never stops the others
        log.exception("housekeeping of org %s could not plan", org_id)
        return f"error: {type(exc).__name__}"
    if not dry.plan.operations:
        return "idle"
    with org_pull_lock(session_factory, org_id, wait=0, stop=stop) as acquired:
        if not acquired:
            return "busy"  # the running pull reconciles the org when it ends
        try:
            result = reconcile(session_factory, org_id, dry_run=False, trigger=TRIGGER, now=now)
        except Exception as exc:  # one org's failure never stops the others
            log.exception("housekeeping of org %s failed", org_id)
            return f"error: {type(exc).__name__}"
    return result.status
