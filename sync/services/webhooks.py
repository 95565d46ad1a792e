"""An org's webhook endpoints as use cases: add, list, remove, replay and test, the same
from the CLI, the admin API and the admin pages. Each change checks the caller's
authority (an admin action: a role that manages someone; the CLI's operator always),
runs in one transaction under the org lock and writes its audit entry."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from mappings.authority import Caller, refusal_for_admin_action
from sync.db import write_session
from sync.delivery import send_test
from sync.errors import Forbidden
from sync.models import AuditEntry, utcnow
from sync.reconcile import lock_org
from sync.settings import Settings
from sync.store.orgs import get_org, role_model_for
from sync.webhooks import (
    add_webhook as store_webhook,
)
from sync.webhooks import (
    failures,
    list_webhooks,
    remove_webhook,
    replay_webhook,
    webhook_json,
)

__all__ = [
    "NewWebhook",
    "add_webhook",
    "delete_webhook",
    "replay",
    "test_webhook",
    "webhook_failures",
    "webhooks_of",
]


@dataclass(frozen=True, slots=True)
class NewWebhook:
    """An endpoint just added, with its signing secret in clear (shown once)."""

    webhook: dict[str, Any]
    secret: str


def _authorised(session: Session, org: int | str, caller: Caller) -> int:
    row = get_org(session, org)
    if caller.role is not None:
        refusal = refusal_for_admin_action(role_model_for(row.role_model), caller.role)
        if refusal is not None:
            raise Forbidden(refusal)
    return row.id


def _audit(session: Session, org_id: int, caller: Caller, op: str, detail: dict[str, Any]) -> None:
    session.add(AuditEntry(org_id=org_id, at=utcnow(), actor=caller.actor, op=op, detail=detail))


def add_webhook(
    factory: sessionmaker[Session],
    org: int | str,
    caller: Caller,
    url: str,
    settings: Settings,
    types: str | Sequence[str] | None = None,
) -> NewWebhook:
    """Add an endpoint; its secret is returned once and stored sealed."""
    with write_session(factory) as session:
        org_id = _authorised(session, org, caller)
        lock_org(session, org_id)
        row, secret = store_webhook(session, org_id, url, settings, types)
        _audit(session, org_id, caller, "add_webhook", {"id": row.id, "url": row.url})
        return NewWebhook(webhook_json(row), secret)


def webhooks_of(factory: sessionmaker[Session], org: int | str) -> list[dict[str, Any]]:
    """The org's endpoints (never their secrets)."""
    with factory() as session:
        return list_webhooks(session, get_org(session, org).id)


def webhook_failures(
    factory: sessionmaker[Session], org: int | str, webhook_id: int
) -> list[dict[str, Any]]:
    """The events an endpoint gave up on."""
    with factory() as session:
        return failures(session, get_org(session, org).id, webhook_id)


def delete_webhook(
    factory: sessionmaker[Session], org: int | str, caller: Caller, webhook_id: int
) -> None:
    """Remove an endpoint; nothing more is sent to it."""
    with write_session(factory) as session:
        org_id = _authorised(session, org, caller)
        lock_org(session, org_id)
        remove_webhook(session, org_id, webhook_id)
        _audit(session, org_id, caller, "remove_webhook", {"id": webhook_id})


def replay(
    factory: sessionmaker[Session],
    org: int | str,
    caller: Caller,
    webhook_id: int,
    from_seq: int | None = None,
) -> int:
    """Send an endpoint's events again from ``from_seq`` (default: its oldest failed
    event), enabling it if it was disabled; returns the sequence number it restarts at."""
    with write_session(factory) as session:
        org_id = _authorised(session, org, caller)
        lock_org(session, org_id)
        start = replay_webhook(session, org_id, webhook_id, from_seq=from_seq)
        _audit(session, org_id, caller, "replay_webhook", {"id": webhook_id, "from_seq": start})
        return start


def test_webhook(
    factory: sessionmaker[Session],
    org: int | str,
    caller: Caller,
    webhook_id: int,
    settings: Settings,
) -> str:
    """Send a signed test message to an endpoint now; what it answered, in words."""
    with factory() as session:
        org_id = _authorised(session, org, caller)
        return send_test(session, org_id, webhook_id, settings)
