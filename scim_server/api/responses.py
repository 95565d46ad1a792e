"""Response bodies of the admin API (pydantic, at the edge only).

Views answer through ``reply(Model, ...)``: the data is validated into the model and
dumped from it, so a response cannot hold a field its schema lacks. ``RESPONSES`` is the
one table of every endpoint's success status and model (the events and webhooks ones,
from ``event_schemas``, included); the OpenAPI document takes each response schema from
it, and a test validates real responses against the document.
"""

from __future__ import annotations

from typing import Any, Literal

from flask import Response, jsonify
from pydantic import BaseModel, ConfigDict, Field

from scim_server.api.event_schemas import (
    EventPageOut,
    FailuresOut,
    NewWebhookOut,
    ReplayOut,
    TestOut,
    WebhooksOut,
)

__all__ = [
    "RESPONSES",
    "ApiKeyCreated",
    "ApiKeyInfo",
    "ApiKeyList",
    "AuditEntryOut",
    "AuditList",
    "MappingOut",
    "MemberList",
    "MemberOut",
    "OidcOut",
    "PlanList",
    "PlanOut",
    "PlanSummary",
    "RunList",
    "RunOut",
    "SourceList",
    "SourceOut",
    "TokenCreated",
    "TokenInfo",
    "TokenList",
    "reply",
]

Time = str  # "2026-11-01T10:00:00Z"


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Paged(_Out):
    next_cursor: str | None = Field(
        description="pass as ?cursor= for the next page; null on the last page"
    )


class OrgRef(_Out):
    name: str
    role: str


class OrgList(_Out):
    orgs: list[OrgRef]


class WorkspaceOut(_Out):
    name: str
    credits: int


class WorkspaceList(_Out):
    workspaces: list[WorkspaceOut]


class CallerOut(_Out):
    role: str
    key_id: int | None
    workspaces: dict[str, str] = Field(
        default_factory=dict, description="a workspace-scoped key: its role in each workspace"
    )


class OrgOut(_Out):
    name: str
    role_model: str
    plan: str
    credits: int | None
    org_roles: list[str]
    workspace_roles: list[str]
    workspaces: list[WorkspaceOut]
    members_by_role: dict[str, int]
    caller: CallerOut


class MemberOut(_Out):
    email: str
    org_role: str
    status: str
    origin: str
    idp_id: str | None
    invited_at: Time | None
    workspaces: dict[str, list[str]]


class MemberList(_Paged):
    members: list[MemberOut]


class AuditEntryOut(_Out):
    id: int
    at: Time | None
    actor: str
    op: str
    user: str
    workspace: str | None
    detail: dict[str, Any]
    plan_id: int | None


class AuditList(_Paged):
    entries: list[AuditEntryOut]


class RunOut(_Out):
    id: int
    trigger: str
    started_at: Time | None
    finished_at: Time | None
    outcome: str
    error: str | None
    counts: dict[str, Any]
    plan_id: int | None


class RunList(_Paged):
    runs: list[RunOut]


class PlanSummary(_Out):
    id: int
    status: str
    fingerprint: str
    trigger: str
    created_at: Time | None
    approved_by: str | None
    approved_at: Time | None
    applied_at: Time | None
    summary: dict[str, Any]
    held: Any
    replaced_by: int | None = Field(
        default=None, description="a stale plan: the plan made from the current inputs in its place"
    )


class PlanList(_Paged):
    plans: list[PlanSummary]


class AppliedOut(_Out):
    operations: int
    summary: dict[str, Any]


class PlanOut(PlanSummary):
    plan: dict[str, Any]
    applied: AppliedOut | None = None


class MappingOut(_Out):
    version: int
    document: str


class SavedVersionOut(_Out):
    version: int


class MappingError(_Out):
    detail: str
    field: str


class ValidationOut(_Out):
    valid: bool
    errors: list[MappingError]
    rules: int | None = None


class VersionOut(_Out):
    version: int
    created_by: str
    created_at: Time | None


class VersionList(_Out):
    versions: list[VersionOut]


class DiffOut(_Out):
    base: int
    other: int
    diff: str


class PreviewOut(_Out):
    plan: dict[str, Any]
    text: str


class SourceOut(_Out):
    name: str
    kind: str
    schedule: str | None
    enabled: bool
    last_run: RunOut | None
    config: dict[str, Any] = Field(default_factory=dict, description="never a secret")
    has_secret: bool = False
    run_requested: bool = False


class SourceList(_Out):
    sources: list[SourceOut]


class SourceTest(_Out):
    ok: bool = Field(description="true when the source answered as it should")
    detail: str = Field(description="what happened, in words an admin can act on")


class TokenInfo(_Out):
    id: int
    name: str
    created_at: Time | None
    created_by: str
    expires_at: Time | None
    last_used_at: Time | None
    revoked_at: Time | None


class TokenList(_Paged):
    tokens: list[TokenInfo]


class TokenCreated(TokenInfo):
    token: str = Field(description="shown once; only its hash is stored")
    tenant_url: str
    okta: dict[str, str] = Field(description='Okta\'s field names: "Base URL", "API Token"')
    entra: dict[str, str] = Field(description='Entra\'s field names: "Tenant URL", "Secret Token"')


class ApiKeyInfo(_Out):
    id: int
    name: str
    role: str
    created_at: Time | None
    created_by: str
    expires_at: Time | None
    last_used_at: Time | None
    revoked_at: Time | None


class ApiKeyList(_Paged):
    keys: list[ApiKeyInfo]


class ApiKeyCreated(ApiKeyInfo):
    key: str = Field(description="shown once; only its hash is stored")


class OidcOut(_Out):
    """The org's provider as shown: never the client secret, only whether it is set."""

    configured: bool
    issuer: str | None
    client_id: str | None
    client_secret: Literal["set"] | None = Field(description='"set" when a secret is stored')
    enabled: bool
    updated_at: str | None
    updated_by: str | None
    redirect_uri: str = Field(description="the redirect URI to register at the provider")


def reply(model: type[BaseModel], status: int = 200, **data: Any) -> Response:
    """A JSON response of ``data`` validated into and dumped from ``model``."""
    response = jsonify(model.model_validate(data).model_dump(mode="json"))
    response.status_code = status
    return response


# endpoint -> (success status, response model; None: no body); the OpenAPI document reads this
RESPONSES: dict[str, tuple[int, type[BaseModel] | None]] = {
    "api.list_orgs": (200, OrgList),
    "api.get_org": (200, OrgOut),
    "api.list_workspaces": (200, WorkspaceList),
    "api.add_workspace": (201, WorkspaceOut),
    "api.get_members": (200, MemberList),
    "api.put_member": (200, MemberOut),
    "api.get_member": (200, MemberOut),
    "api.get_runs": (200, RunList),
    "api.get_audit": (200, AuditList),
    "api.get_sources": (200, SourceList),
    "api.run_source": (200, RunOut),
    "api.get_mapping": (200, MappingOut),
    "api.validate_mapping": (200, ValidationOut),
    "api.save_mapping_version": (201, SavedVersionOut),
    "api.get_mapping_versions": (200, VersionList),
    "api.get_mapping_diff": (200, DiffOut),
    "api.preview": (200, PreviewOut),
    "api.get_plans": (200, PlanList),
    "api.post_plan": (201, PlanOut),
    "api.show_plan": (200, PlanOut),
    "api.post_approve": (200, PlanOut),
    "api.post_apply": (200, PlanOut),
    "api.post_source": (201, SourceOut),
    "api.put_source": (200, SourceOut),
    "api.patch_source": (200, SourceOut),
    "api.test_source": (200, SourceTest),
    "api.pause_source": (200, SourceOut),
    "api.resume_source": (200, SourceOut),
    "api.request_source_run": (202, SourceOut),
    "api.get_tokens": (200, TokenList),
    "api.post_token": (201, TokenCreated),
    "api.rotate_token": (201, TokenCreated),
    "api.delete_token": (200, TokenInfo),
    "api.get_api_keys": (200, ApiKeyList),
    "api.post_api_key": (201, ApiKeyCreated),
    "api.rotate_api_key": (201, ApiKeyCreated),
    "api.delete_api_key": (200, ApiKeyInfo),
    "api.get_events": (200, EventPageOut),
    "api.get_webhooks": (200, WebhooksOut),
    "api.post_webhook": (201, NewWebhookOut),
    "api.remove_webhook": (204, None),
    "api.get_webhook_failures": (200, FailuresOut),
    "api.replay_webhook": (200, ReplayOut),
    "api.test_webhook_now": (200, TestOut),
    "api.get_oidc": (200, OidcOut),
    "api.put_oidc": (200, OidcOut),
    "api.delete_oidc": (200, OidcOut),
}
