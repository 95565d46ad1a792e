"""Request bodies of the admin API (pydantic, at the edge only); the OpenAPI document
takes their JSON schemas from here."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

__all__ = [
    "BODIES",
    "KeyCreate",
    "Rotation",
    "SourceCreate",
    "SourceEdit",
    "SourcePatch",
    "TokenCreate",
    "MappingDraft",
    "MemberRoles",
    "PlanApproval",
    "PlanRequest",
    "WorkspaceCreate",
]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WorkspaceCreate(_Body):
    """A new workspace."""

    name: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9 _.-]*$")
    credits: int = Field(default=0, ge=0)


class MemberRoles(_Body):
    """A member's org role and workspace roles: a new manual member, or a change to one."""

    email: str = Field(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")
    org_role: str | None = None
    workspaces: dict[str, list[str]] | None = None


class MappingDraft(_Body):
    """A mapping document (YAML text)."""

    document: str = Field(min_length=1, max_length=1_000_000)


class PlanRequest(_Body):
    """Create a plan from the saved mapping against the live directory (optionally for
    some users only, by email or IdP id)."""

    users: list[str] | None = Field(default=None, max_length=10_000)


class PlanApproval(_Body):
    """Approve a plan: the fingerprint the approver saw must still be the plan's."""

    fingerprint: str = Field(min_length=1, max_length=80)


class TokenCreate(_Body):
    """A new SCIM token: a name saying which IdP uses it, and an optional expiry."""

    name: str = Field(default="", max_length=200)
    expires_at: AwareDatetime | None = None


class KeyCreate(_Body):
    """A new admin API key carrying ``role`` (the caller's own or one it manages)."""

    role: str = Field(min_length=1, max_length=100)
    name: str = Field(default="", max_length=200)
    expires_at: AwareDatetime | None = None


class SourceEdit(_Body):
    """A pulled source's settings; ``secret`` is write-only (omit it to keep the stored one)."""

    kind: Literal["okta", "graph", "scim-pull"]
    config: dict[str, str | bool | int | None] = Field(default_factory=dict, max_length=20)
    secret: str | None = Field(default=None, min_length=1, max_length=20_000)
    schedule: str | None = Field(default=None, max_length=100)


class SourceCreate(SourceEdit):
    """A new pulled source: its name, kind, settings and secret."""

    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9 _.-]*$")


class SourcePatch(_Body):
    """Some of a pulled source's settings: what is left out stays. A setting set to null
    is removed; ``schedule`` null means on request only; ``secret`` is write-only."""

    config: dict[str, str | bool | int | None] = Field(default_factory=dict, max_length=20)
    schedule: str | None = Field(default=None, max_length=100)
    paused: bool | None = None
    secret: str | None = Field(default=None, min_length=1, max_length=20_000)


class Rotation(_Body):
    """Rotate a token or key: a new one, optionally with a new expiry."""

    expires_at: AwareDatetime | None = None


PlanFormat = Literal["json", "text", "markdown"]

BODIES: tuple[type[BaseModel], ...] = (
    WorkspaceCreate,
    MemberRoles,
    MappingDraft,
    PlanRequest,
    PlanApproval,
    TokenCreate,
    KeyCreate,
    Rotation,
    SourceCreate,
    SourceEdit,
    SourcePatch,
)
