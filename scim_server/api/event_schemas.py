"""Request bodies and response shapes of the events and webhooks API (pydantic, at the
edge only): the views answer through these models (``responses.reply``), and
``responses.RESPONSES`` names them for the OpenAPI document."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from sync.store.events import EventType

__all__ = [
    "EventOut",
    "EventPageOut",
    "FailureOut",
    "FailuresOut",
    "NewWebhookOut",
    "ReplayOut",
    "TestOut",
    "WebhookCreate",
    "WebhookOut",
    "WebhookReplay",
    "WebhooksOut",
]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WebhookCreate(_Body):
    """A new webhook endpoint and the event types it wants (all when left out)."""

    url: str = Field(min_length=1, max_length=2000)
    types: list[EventType] | None = Field(default=None, max_length=50)


class WebhookReplay(_Body):
    """Send an endpoint's events again from ``from_seq`` (default: its oldest failed one)."""

    from_seq: int | None = Field(default=None, ge=1, le=2**31 - 1)


class EventOut(_Out):
    """One event of the org's feed (also the body of a webhook delivery)."""

    id: str = Field(description="evt_...; the webhook-id header of its deliveries")
    type: EventType
    org: str
    seq: int = Field(description="the org's sequence number: 1, 2, 3... with no gaps")
    time: str = Field(description="when the change was made, ISO 8601 UTC")
    email: str | None = Field(description="the member's email (identity key)")
    idp_id: str | None = Field(description="the member's id at the identity provider")
    workspace: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    plan_id: int | None
    audit_id: int | None = Field(description="the audit entry written with the change")
    detail: dict[str, Any]


class EventPageOut(_Out):
    """A page of events in sequence order and the cursor of the next page."""

    events: list[EventOut]
    next_cursor: str = Field(description="pass as ?after= for the events after this page")
    has_more: bool


class WebhookOut(_Out):
    """A webhook endpoint and where its delivery stands (never its secret)."""

    id: int
    url: str
    types: list[EventType] | None
    status: Literal["active", "disabled"]
    disabled_reason: str | None
    delivered_through_seq: int
    attempts: int = Field(description="failed tries of the event being delivered")
    next_attempt_at: str | None
    last_status: int | None
    last_error: str | None
    delivered_at: str | None
    failed_events: int = Field(description="events given up on and not replayed")
    created_at: str | None


class WebhooksOut(_Out):
    """The org's webhook endpoints."""

    webhooks: list[WebhookOut]


class NewWebhookOut(_Out):
    """An endpoint just added; ``secret`` is shown this once."""

    webhook: WebhookOut
    secret: str = Field(description="whsec_... : the signing secret, shown once")


class FailureOut(_Out):
    """An event an endpoint gave up on."""

    event_id: str
    seq: int
    attempts: int
    error: str
    failed_at: str | None
    replayed_at: str | None


class FailuresOut(_Out):
    """The events an endpoint gave up on, oldest first."""

    failures: list[FailureOut]


class ReplayOut(_Out):
    """Where the endpoint's delivery starts again."""

    from_seq: int


class TestOut(_Out):
    """What the endpoint answered to a test message."""

    result: str
