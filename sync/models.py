"""The database schema (SQLAlchemy 2.x typed ORM). Alembic migrations follow these models.

Everything is scoped to an organisation. The directory mirror is keyed by the source's
immutable ids (``ext_id``), so a renamed group or a changed email is an update.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar, Literal, TypeGuard, get_args

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

__all__ = [
    "AdminSession",
    "ApiKey",
    "ApiKeyWorkspace",
    "AuditEntry",
    "Base",
    "DirectoryGroup",
    "DirectoryMembership",
    "DirectoryUser",
    "Event",
    "EventCounter",
    "MappingVersion",
    "Member",
    "OidcPending",
    "OidcSettings",
    "Organisation",
    "OutboxMessage",
    "PLAN_STATUSES",
    "PlanStatus",
    "SavedPlan",
    "ScimToken",
    "Source",
    "SyncRun",
    "Workspace",
    "WorkspaceRole",
    "is_plan_status",
    "Webhook",
    "WebhookFailure",
    "utcnow",
]

# A saved plan waits (pending review, or held), is approved, applied, stale (its inputs
# moved on before it was applied; ``replaced_by`` names the plan made in its place), or
# discarded (an admin turned it down while it waited).
PlanStatus = Literal["pending", "held", "approved", "applied", "stale", "discarded"]
PLAN_STATUSES: tuple[PlanStatus, ...] = get_args(PlanStatus)


def is_plan_status(value: object) -> TypeGuard[PlanStatus]:
    """Whether ``value`` names a saved plan's status."""
    return value in PLAN_STATUSES


def utcnow() -> datetime:
    """Now, timezone-aware UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every database (SQLite stores no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Store UTC (naive values are taken as UTC)."""
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Read back as aware UTC."""
        if value is not None:
            value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return value


class Base(DeclarativeBase):
    """Declarative base; ``type_annotation_map`` keeps datetimes timezone-aware."""

    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON,
    }


class Organisation(Base):
    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    role_model: Mapped[str] = mapped_column(String(100))  # preset name
    plan: Mapped[str] = mapped_column(String(50), default="enterprise")
    credits: Mapped[int | None] = mapped_column(Integer, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Workspace(Base):
    __tablename__ = "workspaces"
    __table_args__ = (UniqueConstraint("org_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    credits: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Member(Base):
    """A platform member; ``email`` is the normalised (casefolded) key."""

    __tablename__ = "members"
    __table_args__ = (
        UniqueConstraint("org_id", "email"),
        Index("ix_members_org_idp", "org_id", "idp_id"),
        Index("ix_members_org_role", "org_id", "org_role", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(320))
    org_role: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20))  # invited | joined | suspended
    origin: Mapped[str] = mapped_column(String(20))  # idp | manual
    idp_id: Mapped[str | None] = mapped_column(String(255), default=None)
    invited_at: Mapped[datetime | None] = mapped_column(default=None)
    joined_at: Mapped[datetime | None] = mapped_column(default=None)
    invite_sent_at: Mapped[datetime | None] = mapped_column(default=None)  # last reminder
    invite_token_hash: Mapped[str | None] = mapped_column(String(64), default=None, unique=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class WorkspaceRole(Base):
    """One role of one member in one workspace (set-valued models have several rows)."""

    __tablename__ = "workspace_roles"

    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    workspace_id: Mapped[int] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    role: Mapped[str] = mapped_column(String(100), primary_key=True)


class ScimToken(Base):
    """A SCIM bearer token of one org; only its SHA-256 is stored."""

    __tablename__ = "scim_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    created_by: Mapped[str] = mapped_column(String(200), default="", server_default="")
    expires_at: Mapped[datetime | None] = mapped_column(default=None)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)  # to the minute


class ApiKey(Base):
    """An admin API key of one org, carrying a role of the org's role model."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    created_by: Mapped[str] = mapped_column(String(200), default="", server_default="")
    expires_at: Mapped[datetime | None] = mapped_column(default=None)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)  # to the minute


class ApiKeyWorkspace(Base):
    """A workspace role an admin API key carries in one workspace (a scoped key)."""

    __tablename__ = "api_key_workspaces"

    key_id: Mapped[int] = mapped_column(
        ForeignKey("api_keys.id", ondelete="CASCADE"), primary_key=True
    )
    workspace_id: Mapped[int] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    role: Mapped[str] = mapped_column(String(100))


class AdminSession(Base):
    """A signed-in admin page session of one API key, or of one member signed in through
    the org's OpenID provider (``member_id``); only the SHA-256 of its id is stored."""

    __tablename__ = "admin_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    key_id: Mapped[int | None] = mapped_column(
        ForeignKey("api_keys.id", ondelete="CASCADE"), index=True
    )
    member_id: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), index=True, default=None
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]


class OidcSettings(Base):
    """An org's OpenID Connect provider for admin page sign-in; the client secret sealed
    (``sync.credentials.secrets``), never shown again."""

    __tablename__ = "oidc_settings"

    org_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), primary_key=True
    )
    issuer: Mapped[str] = mapped_column(String(500))
    client_id: Mapped[str] = mapped_column(String(500))
    client_secret: Mapped[str] = mapped_column(Text)  # sealed, or env:/file:
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    updated_by: Mapped[str] = mapped_column(String(200), default="")


class OidcPending(Base):
    """An OpenID sign-in under way: the SHA-256 of its ``state`` (single use), its nonce
    and PKCE verifier, kept server-side until the callback or the expiry."""

    __tablename__ = "oidc_pending"

    state_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    nonce: Mapped[str] = mapped_column(String(100))
    code_verifier: Mapped[str] = mapped_column(String(200))
    target: Mapped[str] = mapped_column(String(500), default="")
    expires_at: Mapped[datetime] = mapped_column(index=True)


class Source(Base):
    """Where a directory comes from: ``scim`` (pushed), ``okta``, ``graph``, ``scim-pull``."""

    __tablename__ = "sources"
    __table_args__ = (UniqueConstraint("org_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)  # no secrets in here
    secret: Mapped[str | None] = mapped_column(Text, default=None)  # encrypted or env:/file:
    schedule: Mapped[str | None] = mapped_column(String(100), default=None)  # "15m" or cron
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    delta_link: Mapped[str | None] = mapped_column(Text, default=None)
    last_user_count: Mapped[int | None] = mapped_column(Integer, default=None)
    force_next: Mapped[bool] = mapped_column(Boolean, default=False)  # admin override
    last_pull_at: Mapped[datetime | None] = mapped_column(default=None)  # scheduler tick claim
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    run_requested_at: Mapped[datetime | None] = mapped_column(default=None)  # "run now", queued
    run_requested_by: Mapped[str | None] = mapped_column(String(200), default=None)


class DirectoryUser(Base):
    """A mirrored IdP user. ``resource`` keeps the full SCIM document for the SCIM source.

    ``scim_key`` repeats ``user_name_key`` on the rows the SCIM service owns (the org's
    ``scim`` source) and is NULL on pulled rows; its unique index is what makes a userName
    unique among SCIM-pushed users, in the database, whoever wins a race. Pulled rows are
    left out because a pull mirrors whatever its source says (a SCIM peer may repeat a
    userName) and must never fail on it; a nullable key keeps them out on SQLite and
    PostgreSQL alike (NULLs never collide in a unique index), where a partial index would
    need the source's kind, which lives in another table.
    """

    __tablename__ = "directory_users"
    __table_args__ = (
        UniqueConstraint("source_id", "ext_id"),
        Index("uq_dir_users_source_scim_key", "source_id", "scim_key", unique=True),
        Index("ix_dir_users_org_username", "org_id", "user_name_key"),
        Index("ix_dir_users_org_external", "org_id", "external_id"),
        Index("ix_dir_users_org_modified", "org_id", "updated_at"),
        Index("ix_dir_users_org_key", "org_id", "user_key"),
        Index("ix_dir_users_org_ext", "org_id", "ext_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    ext_id: Mapped[str] = mapped_column(String(255))  # the source's immutable id
    user_name: Mapped[str] = mapped_column(String(320))
    user_name_key: Mapped[str] = mapped_column(String(320))  # casefolded, for eq / uniqueness
    user_key: Mapped[str | None] = mapped_column(String(320), default=None)  # DirectoryUser.key
    scim_key: Mapped[str | None] = mapped_column(String(320), default=None)  # see the docstring
    external_id: Mapped[str | None] = mapped_column(String(255), default=None)
    display_name: Mapped[str | None] = mapped_column(String(320), default=None)
    emails: Mapped[list[str]] = mapped_column(JSON, default=list)  # primary first
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    resource: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class DirectoryGroup(Base):
    """A mirrored IdP group (members live in ``directory_memberships``).

    ``scim_key`` repeats ``display_name_key`` on SCIM-pushed rows only, unique per source,
    as for users: Microsoft Graph legitimately has groups with one displayName, and its
    pulled snapshots must keep them.
    """

    __tablename__ = "directory_groups"
    __table_args__ = (
        UniqueConstraint("source_id", "ext_id"),
        Index("uq_dir_groups_source_scim_key", "source_id", "scim_key", unique=True),
        Index("ix_dir_groups_org_name", "org_id", "display_name_key"),
        Index("ix_dir_groups_org_external", "org_id", "external_id"),
        Index("ix_dir_groups_org_ext", "org_id", "ext_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    ext_id: Mapped[str] = mapped_column(String(255))
    display_name: Mapped[str] = mapped_column(String(400))
    display_name_key: Mapped[str] = mapped_column(String(400))  # casefolded
    scim_key: Mapped[str | None] = mapped_column(String(400), default=None)  # see the docstring
    external_id: Mapped[str | None] = mapped_column(String(255), default=None)
    resource: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class DirectoryMembership(Base):
    """A direct member (user or nested group, by the source's id) of a mirrored group."""

    __tablename__ = "directory_memberships"
    __table_args__ = (Index("ix_dir_members_value", "member_value"),)

    group_id: Mapped[int] = mapped_column(
        ForeignKey("directory_groups.id", ondelete="CASCADE"), primary_key=True
    )
    member_type: Mapped[str] = mapped_column(String(10), primary_key=True)  # User | Group
    member_value: Mapped[str] = mapped_column(String(255), primary_key=True)
    display: Mapped[str | None] = mapped_column(String(400), default=None)  # as the IdP sent it


class MappingVersion(Base):
    """One saved version of an org's mapping document (YAML text)."""

    __tablename__ = "mappings"
    __table_args__ = (UniqueConstraint("org_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    document: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SavedPlan(Base):
    """A stored plan: pending review, held, approved, applied, stale or discarded."""

    __tablename__ = "plans"
    __table_args__ = (Index("ix_plans_org_status", "org_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    fingerprint: Mapped[str] = mapped_column(String(80))
    status: Mapped[PlanStatus] = mapped_column(String(20))
    body: Mapped[dict[str, Any]] = mapped_column(JSON)  # Plan.to_dict()
    trigger: Mapped[str] = mapped_column(String(200), default="")
    mapping_version: Mapped[int | None] = mapped_column(Integer, default=None)
    users: Mapped[list[str] | None] = mapped_column(JSON, default=None)  # None = whole org
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    approved_by: Mapped[str | None] = mapped_column(String(200), default=None)
    approved_at: Mapped[datetime | None] = mapped_column(default=None)
    applied_at: Mapped[datetime | None] = mapped_column(default=None)
    # the plan made from the current inputs when this one went stale (None: nothing to do)
    replaced_by: Mapped[int | None] = mapped_column(Integer, default=None)


class SyncRun(Base):
    """One reconcile or pull run: when, what triggered it, counts and outcome."""

    __tablename__ = "sync_runs"
    __table_args__ = (Index("ix_runs_org_started", "org_id", "started_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    source_id: Mapped[int | None] = mapped_column(
        ForeignKey("sources.id", ondelete="SET NULL"), default=None
    )
    trigger: Mapped[str] = mapped_column(String(200))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    outcome: Mapped[str] = mapped_column(String(20), default="running")
    error: Mapped[str | None] = mapped_column(Text, default=None)
    counts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    plan_id: Mapped[int | None] = mapped_column(
        ForeignKey("plans.id", ondelete="SET NULL"), default=None
    )


class AuditEntry(Base):
    """One applied operation: who/what triggered it, the op, the reason."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_org_at", "org_id", "at"),
        Index("ix_audit_org_user", "org_id", "user"),
        Index("ix_audit_org_op_at", "org_id", "op", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(200))
    op: Mapped[str] = mapped_column(String(40))
    user: Mapped[str] = mapped_column(String(320), default="")
    workspace: Mapped[str | None] = mapped_column(String(200), default=None)
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)  # Operation.to_dict()
    plan_id: Mapped[int | None] = mapped_column(
        ForeignKey("plans.id", ondelete="SET NULL"), default=None
    )


class OutboxMessage(Base):
    """An email to send, written in the same transaction as the change that causes it."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_pending", "sent_at", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(40))  # welcome | invite_resend | alert:<type>
    recipient: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(400))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)


class EventCounter(Base):
    """The last sequence number given to an org's events (gapless: taken in the change's
    transaction, so a rollback gives it back)."""

    __tablename__ = "event_counters"

    org_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), primary_key=True
    )
    last_seq: Mapped[int] = mapped_column(Integer, default=0)


class ReconcileBacklog(Base):
    """A user a SCIM write touched whose reconcile waits: the write found its org's lock
    taken, so it committed its mirror change and queued its users; the next reconcile of
    the backlog plans them all in one pass (``sync.backlog``)."""

    __tablename__ = "reconcile_backlog"

    org_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), primary_key=True
    )
    idp_id: Mapped[str] = mapped_column(String(255), primary_key=True)


class Event(Base):
    """One event of an org's feed, written in the transaction of the change it tells of."""

    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint("org_id", "seq", name="uq_events_org_seq"),
        Index("ix_events_org_type_seq", "org_id", "type", "seq"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # evt_...
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(40))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    email: Mapped[str | None] = mapped_column(String(320), default=None)
    idp_id: Mapped[str | None] = mapped_column(String(255), default=None)
    workspace: Mapped[str | None] = mapped_column(String(200), default=None)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    plan_id: Mapped[int | None] = mapped_column(Integer, default=None)
    audit_id: Mapped[int | None] = mapped_column(Integer, default=None)
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Webhook(Base):
    """An org's webhook endpoint and where its delivery stands: every event up to
    ``cursor_seq`` is done; the next one is being tried (``attempts``, ``next_attempt_at``)."""

    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    url: Mapped[str] = mapped_column(Text)
    secret: Mapped[str] = mapped_column(Text)  # sealed (sync.credentials.secrets), never in clear
    types: Mapped[list[str] | None] = mapped_column(JSON, default=None)  # None: every type
    status: Mapped[str] = mapped_column(String(20), default="active")  # active | disabled
    disabled_reason: Mapped[str | None] = mapped_column(Text, default=None)
    cursor_seq: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    first_failure_at: Mapped[datetime | None] = mapped_column(default=None)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    lease_until: Mapped[datetime | None] = mapped_column(default=None)
    lease_token: Mapped[str | None] = mapped_column(String(40), default=None)
    last_status: Mapped[int | None] = mapped_column(Integer, default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    delivered_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookFailure(Base):
    """An event a webhook gave up on after retrying for the whole window; a replay sends
    the endpoint's events again from it."""

    __tablename__ = "webhook_failures"

    id: Mapped[int] = mapped_column(primary_key=True)
    webhook_id: Mapped[int] = mapped_column(
        ForeignKey("webhooks.id", ondelete="CASCADE"), index=True
    )
    event_id: Mapped[str] = mapped_column(String(40))
    seq: Mapped[int] = mapped_column(Integer)
    attempts: Mapped[int] = mapped_column(Integer)
    error: Mapped[str] = mapped_column(Text)
    failed_at: Mapped[datetime] = mapped_column(default=utcnow)
    replayed_at: Mapped[datetime | None] = mapped_column(default=None)
