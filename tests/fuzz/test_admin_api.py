"""schemathesis against the admin API's own OpenAPI document, through the WSGI app.

For every operation it sends cases that fit the schema and cases that do not (negative
mode), half of them aimed at the real org. Whatever comes in, the API must answer below
500, and every error must be a JSON problem document. The operations tenants' admins run
themselves (SCIM tokens, API keys, webhooks, identity provider sign-in) must also answer
what their documented response schema says.
"""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.fuzz.conftest import Target
from tests.fuzz.tally import TALLY, examples, is_error_body, is_failure

FUZZER = "admin API (schemathesis)"
SELF_SERVICE = ("/tokens", "/keys", "/webhooks", "/oidc")  # answers checked against the schema


def test_no_admin_api_case_gets_a_5xx_or_a_non_json_error(target: Target) -> None:
    """Every operation of /api/v1/openapi.json, valid and invalid input: no 5xx, JSON errors."""
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", target.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10, "the OpenAPI document lists the API's operations"
    paths = {operation.path for operation in operations}
    for part in SELF_SERVICE:
        assert any(part in path for path in paths), f"{part} is not in the OpenAPI document"
    auth = {"Authorization": f"Bearer {target.api_key}"}
    failures: list[str] = []
    for operation in operations:
        org = {"org": "acme"} if "{org}" in operation.path else None
        cases = st.one_of(
            [
                operation.as_strategy(mode, path_parameters=params)
                for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
                for params in (None, org)
            ]
        )

        @given(case=cases)
        @settings(
            max_examples=examples(6),
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case: Any) -> None:
            response = case.call(headers=auth)
            content_type = ";".join(response.headers.get("content-type", []))
            good = is_error_body(content_type, response.content, scim=False)
            TALLY.record(FUZZER, response.status_code, good)
            if is_failure(response.status_code, good):
                failures.append(
                    f"{case.method} {case.formatted_path} -> {response.status_code} "
                    f"{content_type}: {response.content[:200]!r}"
                )
            elif any(part in case.operation.path for part in SELF_SERVICE):
                try:
                    case.validate_response(response, checks=[response_schema_conformance])
                except (AssertionError, BaseExceptionGroup) as exc:  # schemathesis failures
                    failures.append(f"{case.method} {case.formatted_path}: {exc}"[:600])

        check()
    assert failures == []
