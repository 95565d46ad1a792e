"""What rolebridge's SCIM service is: its schemas, resource types, capabilities and policy.

The discovery endpoints (RFC 7644 §4) publish exactly this, so it says what is
really supported: PATCH, filtering (``maxResults``), sorting and ETags; no bulk,
no password change, index paging only.
"""

from __future__ import annotations

from scim2_models import (
    AuthenticationScheme,
    Bulk,
    ChangePassword,
    ETag,
    External,
    Filter,
    Patch,
    Reference,
    ScimPolicy,
    ScimProvider,
    ServiceProviderConfig,
    Sort,
)
from scim2_server.utils import load_default_resource_types, load_default_schemas

__all__ = ["MAX_RESULTS", "TOLERANT_POLICY", "make_provider"]

MAX_RESULTS = 1000
"""The largest page a search returns (``filter.maxResults``)."""

TOLERANT_POLICY = ScimPolicy(
    # Entra creates groups with its own schema URN next to the core one (RFC 7643
    # §3 would refuse an undeclared schema); unknown attributes are dropped.
    unknown=ScimPolicy.Unknown.ignore,
    # Entra removes members with {"op": "remove", "path": "members", "value": [...]}.
    remove_value_as_filter=ScimPolicy.RemoveValue.apply,
    # Entra adds to ``emails[type eq "work"].value`` on a user without a work email.
    unmatched_path_filter=ScimPolicy.UnmatchedPathFilter.create,
)
"""The policy that lets Okta's and Entra's documented requests through."""


def service_provider_config() -> ServiceProviderConfig:
    """The capabilities rolebridge announces (RFC 7643 §5)."""
    return ServiceProviderConfig(
        documentation_uri=None,
        patch=Patch(supported=True),
        bulk=Bulk(supported=False, max_operations=0, max_payload_size=0),
        filter=Filter(supported=True, max_results=MAX_RESULTS),
        change_password=ChangePassword(supported=False),
        sort=Sort(supported=True),
        etag=ETag(supported=True),
        authentication_schemes=[
            AuthenticationScheme(
                type=AuthenticationScheme.Type.oauthbearertoken,
                name="OAuth Bearer Token",
                description="A bearer token made with `rolebridge token create`, one org each",
                spec_uri=Reference[External]("https://www.rfc-editor.org/rfc/rfc6750"),
                primary=True,
            )
        ],
    )


def make_provider() -> ScimProvider:
    """The SCIM service description: core User with the enterprise extension, and Group."""
    return ScimProvider.from_discovery(
        load_default_schemas().values(),
        load_default_resource_types().values(),
        config=service_provider_config(),
        policy=TOLERANT_POLICY,
    )
