"""Source secrets at rest: sealed with the instance key, or referenced and resolved late."""

from __future__ import annotations

from pathlib import Path

import pytest

from sync.credentials.secrets import resolve_secret, seal_secret
from sync.sources.base import ConfigurationSourceError


def test_a_sealed_secret_round_trips_only_with_the_same_key() -> None:
    """The stored form hides the value; another key cannot open it."""
    sealed = seal_secret("ssws-token-value", "key-one")
    assert "ssws-token-value" not in sealed and sealed.startswith("fernet:")
    assert resolve_secret(sealed, "key-one") == "ssws-token-value"
    with pytest.raises(ConfigurationSourceError, match="ROLEBRIDGE_SECRET_KEY differs"):
        resolve_secret(sealed, "key-two")


def test_without_a_key_nothing_is_sealed() -> None:
    """Storing a clear secret needs ROLEBRIDGE_SECRET_KEY."""
    with pytest.raises(ConfigurationSourceError, match="ROLEBRIDGE_SECRET_KEY is not set"):
        seal_secret("value", "")


def test_references_are_kept_and_resolved_when_used(tmp_path: Path) -> None:
    """env: and file: are stored as given and read at run time; missing ones are named."""
    secret_file = tmp_path / "okta.key"
    secret_file.write_text("from-a-file\n")
    assert seal_secret("env:OKTA", "k") == "env:OKTA"
    assert resolve_secret("env:OKTA", "", {"OKTA": "from-env"}) == "from-env"
    assert resolve_secret(f"file:{secret_file}", "") == "from-a-file"
    with pytest.raises(ConfigurationSourceError, match="OKTA_MISSING is not set"):
        resolve_secret("env:OKTA_MISSING", "", {})
    with pytest.raises(ConfigurationSourceError, match="cannot read secret file"):
        resolve_secret(f"file:{tmp_path / 'nope'}", "")
