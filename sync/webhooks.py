"""Webhook endpoints of an org: add (the secret is shown once), list, remove, replay, and
the checks every endpoint URL passes.

The signing secret (``whsec_`` + base64 of 32 random bytes, as the Standard Webhooks
specification has it) is needed in clear to sign, so it is stored sealed like a source's
credentials (``sync.credentials.secrets``: Fernet with a key derived from
``ROLEBRIDGE_SECRET_KEY``), never hashed, and never logged. A new endpoint starts at the
org's newest event: it gets what happens from then on (the events API has the history).

URL checks: ``https`` in production (a ``ROLEBRIDGE_BASE_URL`` that is ``https://``),
``http`` or ``https`` otherwise; the host is resolved and every address must be a public
one unless ``ROLEBRIDGE_WEBHOOK_ALLOW_PRIVATE=1``, so a tenant cannot make rolebridge call
the services beside it. Delivery checks again each time it leases the endpoint
(``sync.delivery``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import secrets
import socket
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mappings.errors import InputError
from mappings.state import format_time
from sync.credentials.secrets import resolve_secret, seal_secret
from sync.errors import NotFound
from sync.models import Webhook, WebhookFailure, utcnow
from sync.settings import Settings
from sync.store.events import last_seq, parse_types

__all__ = [
    "MAX_URL",
    "add_webhook",
    "check_endpoint",
    "check_url",
    "failures",
    "get_webhook",
    "list_webhooks",
    "new_secret",
    "remove_webhook",
    "replay_webhook",
    "sign",
    "signing_secret",
    "webhook_json",
]

MAX_URL = 2000
SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    """A fresh signing secret, ``whsec_`` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value: ``v1,`` + base64 HMAC-SHA256 of ``id.timestamp.body``
    keyed with the secret's bytes."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def _private(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def check_url(url: str, *, allow_private: bool, production: bool) -> str:
    """The URL if an endpoint may have it; ``InputError`` (field ``url``) says why not."""
    url = url.strip()
    if not url or len(url) > MAX_URL:
        raise InputError(f"must be a URL of at most {MAX_URL} characters", "url")
    parts = urlsplit(url)
    schemes = ("https",) if production else ("http", "https")
    if parts.scheme not in schemes:
        raise InputError(f"must be an {' or '.join(schemes)} URL", "url")
    if not parts.hostname or parts.username or parts.password:
        raise InputError("must name a host (and no user or password)", "url")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        infos = socket.getaddrinfo(parts.hostname, port, proto=socket.IPPROTO_TCP)
    except (OSError, ValueError):
        raise InputError(f"the host {parts.hostname!r} does not resolve", "url") from None
    addresses = sorted({str(info[4][0]) for info in infos})
    if not allow_private:
        for address in addresses:
            if _private(address):
                raise InputError(
                    f"{parts.hostname} resolves to {address}, a loopback or private address "
                    "(refused unless ROLEBRIDGE_WEBHOOK_ALLOW_PRIVATE=1)",
                    "url",
                )
    return url


def check_endpoint(url: str, settings: Settings) -> str:
    """``check_url`` under the settings' rules."""
    return check_url(
        url, allow_private=settings.webhook_allow_private, production=settings.production
    )


def add_webhook(
    session: Session,
    org_id: int,
    url: str,
    settings: Settings,
    types: str | Sequence[str] | None = None,
    *,
    now: datetime | None = None,
) -> tuple[Webhook, str]:
    """Add an endpoint; returns it and its secret in clear (shown to the caller once)."""
    checked = check_endpoint(url, settings)
    wanted = parse_types(types)
    secret = new_secret()
    try:
        sealed = seal_secret(secret, settings.secret_key)
    except Exception as exc:  # no ROLEBRIDGE_SECRET_KEY: say so, as for sources
        raise InputError(str(exc).replace("source secrets", "webhook secrets"), "secret") from None
    now = now or utcnow()
    row = Webhook(
        org_id=org_id,
        url=checked,
        secret=sealed,
        types=list(wanted) if wanted else None,
        status="active",
        cursor_seq=last_seq(session, org_id),
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row, secret


def signing_secret(row: Webhook, settings: Settings) -> str:
    """The endpoint's secret in clear, to sign with."""
    return resolve_secret(row.secret, settings.secret_key)


def get_webhook(session: Session, org_id: int, webhook_id: int) -> Webhook:
    """An endpoint of the org; ``NotFound`` otherwise."""
    row = session.get(Webhook, webhook_id)
    if row is None or row.org_id != org_id:
        raise NotFound(f"no webhook {webhook_id} in this organisation")
    return row


def webhook_json(row: Webhook, failed: int = 0) -> dict[str, Any]:
    """The public shape of an endpoint (never its secret)."""
    return {
        "id": row.id,
        "url": row.url,
        "types": row.types,
        "status": row.status,
        "disabled_reason": row.disabled_reason,
        "delivered_through_seq": row.cursor_seq,
        "attempts": row.attempts,
        "next_attempt_at": format_time(row.next_attempt_at) if row.attempts else None,
        "last_status": row.last_status,
        "last_error": row.last_error,
        "delivered_at": format_time(row.delivered_at),
        "failed_events": failed,
        "created_at": format_time(row.created_at),
    }


def list_webhooks(session: Session, org_id: int) -> list[dict[str, Any]]:
    """The org's endpoints with the count of events each gave up on (not replayed)."""
    failed = dict(
        session.execute(
            select(WebhookFailure.webhook_id, func.count())
            .join(Webhook, Webhook.id == WebhookFailure.webhook_id)
            .where(Webhook.org_id == org_id, WebhookFailure.replayed_at.is_(None))
            .group_by(WebhookFailure.webhook_id)
        ).all()
    )
    rows = session.scalars(select(Webhook).where(Webhook.org_id == org_id).order_by(Webhook.id))
    return [webhook_json(r, int(failed.get(r.id, 0))) for r in rows]


def failures(session: Session, org_id: int, webhook_id: int) -> list[dict[str, Any]]:
    """The events an endpoint gave up on, oldest first."""
    get_webhook(session, org_id, webhook_id)
    rows = session.scalars(
        select(WebhookFailure)
        .where(WebhookFailure.webhook_id == webhook_id)
        .order_by(WebhookFailure.seq)
    )
    return [
        {
            "event_id": f.event_id,
            "seq": f.seq,
            "attempts": f.attempts,
            "error": f.error,
            "failed_at": format_time(f.failed_at),
            "replayed_at": format_time(f.replayed_at),
        }
        for f in rows
    ]


def remove_webhook(session: Session, org_id: int, webhook_id: int) -> None:
    """Delete an endpoint (and its failure records)."""
    session.delete(get_webhook(session, org_id, webhook_id))
    session.flush()


def replay_webhook(
    session: Session,
    org_id: int,
    webhook_id: int,
    *,
    from_seq: int | None = None,
    now: datetime | None = None,
) -> int:
    """Send the endpoint's events again from ``from_seq`` (by default its oldest failed
    event), in order, and enable it if it was disabled; returns the sequence number it
    restarts from. The receiver may see events again: the ``webhook-id`` tells it."""
    row = get_webhook(session, org_id, webhook_id)
    if from_seq is None:
        from_seq = session.scalar(
            select(func.min(WebhookFailure.seq)).where(
                WebhookFailure.webhook_id == webhook_id, WebhookFailure.replayed_at.is_(None)
            )
        )
        if from_seq is None:
            if row.status == "active":
                raise InputError("this webhook has no failed events to replay", "from_seq")
            from_seq = row.cursor_seq + 1  # a disabled endpoint resumes where it stopped
    if from_seq < 1:
        raise InputError("must be 1 or more", "from_seq")
    now = now or utcnow()
    for failure in session.scalars(
        select(WebhookFailure).where(
            WebhookFailure.webhook_id == webhook_id,
            WebhookFailure.seq >= from_seq,
            WebhookFailure.replayed_at.is_(None),
        )
    ):
        failure.replayed_at = now
    row.cursor_seq = from_seq - 1
    row.status, row.disabled_reason = "active", None
    row.attempts, row.first_failure_at, row.next_attempt_at = 0, None, now
    session.flush()
    return from_seq
