"""The README's "Limits" table says what the code enforces."""

from __future__ import annotations

import re
from pathlib import Path

from mappings import mapping, regex, template
from scim_server.ops import limits
from scim_server.scim.provider import MAX_RESULTS
from sync import regex_engine, webhooks
from sync.settings import Settings
from sync.store import events

README = Path(__file__).resolve().parents[2] / "README.md"
_NUMBER = re.compile(r"(?<![A-Za-z])\d[\d,]*")  # not the 2 of RE2


def _table() -> dict[str, list[int]]:
    """Row label -> the numbers in its "limit" cell, from the README's Limits section."""
    section = README.read_text().split("\n## Limits\n", 1)[1].split("\n## ", 1)[0]
    rows = [line.split("|")[1:-1] for line in section.splitlines() if line.startswith("| ")]
    return {
        label.strip(): [int(n.replace(",", "")) for n in _NUMBER.findall(limit)]
        for label, limit, _ in rows[1:]
    }


def test_the_readme_limits_table_matches_the_constants() -> None:
    """Every limit the code owns appears in the table with the same number."""
    settings = Settings(database_url="sqlite://")
    user, group = limits.scim_lengths()["User"], limits.scim_lengths()["Group"]
    expected = {
        "request body": [settings.max_body_bytes],
        "JSON body nesting (SCIM, API, admin pages)": [limits.JSON_DEPTH_MAX],
        "mapping document nesting (YAML or JSON)": [limits.YAML_DEPTH_MAX],
        "SCIM User `userName`": [user["userName"]],
        "SCIM User `displayName`": [user["displayName"]],
        "SCIM User `externalId`": [user["externalId"]],
        "SCIM User primary email": [user["emails"]],
        "SCIM Group `displayName`": [group["displayName"]],
        "SCIM Group `externalId`": [group["externalId"]],
        "SCIM Group member `value`": [group["members.value"]],
        "SCIM Group member `display`": [group["members.display"]],
        "SCIM `filter` length": [limits.FILTER_LENGTH_MAX],
        "SCIM `filter` comparisons (`eq`, `co`, `pr`...)": [limits.FILTER_TERMS_MAX],
        "SCIM page size (`count`)": [MAX_RESULTS],
        "SCIM `startIndex` and `count`": [limits.INTEGER_MAX],
        "events page size (`limit`)": [events.MAX_PAGE],
        "webhook URL": [webhooks.MAX_URL],
        "integer path and query parameters (plan ids, mapping versions)": [limits.INTEGER_MAX],
        "`policy.max_removals`": [mapping.MAX_REMOVALS_MAX, 100],
        "mapping `match:` regex": [regex.MAX_PATTERN, regex_engine.MAX_MEMORY >> 20],
        "mapping `match:` rules": [regex.MAX_PATTERNS],
        "mapping role and workspace text (templates or not), and a filled template": [
            template.MAX_TEMPLATE
        ],
        "requests per SCIM token / admin API key": [
            int(settings.rate_limit_scim.split("/")[0]),
            int(settings.rate_limit_api.split("/")[0]),
        ],
    }
    table = _table()
    assert {label: table.get(label) for label in expected} == expected


def test_each_scim_column_limit_agrees_with_every_column_it_fills() -> None:
    """userName and its comparison key, displayName and its key, share one length each."""
    user = limits.scim_lengths()["User"]
    refusal = limits.length_refusal("User", {"user_name": "a", "user_name_key": "a" * 321})
    assert refusal == f"userName: at most {user['userName']} characters"
