"""Source credentials at rest: encrypted with a key derived from ``ROLEBRIDGE_SECRET_KEY``
(Fernet), or a reference (``env:NAME``, ``file:/path``) resolved only when a run needs it.

A stored value never leaves this module in clear text except to the source that uses it.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Mapping
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from sync.sources.base import ConfigurationSourceError

__all__ = ["is_reference", "resolve_secret", "seal_secret"]

_FERNET = "fernet:"


def _fernet(secret_key: str) -> Fernet:
    if not secret_key:
        raise ConfigurationSourceError(
            "ROLEBRIDGE_SECRET_KEY is not set: it is needed to encrypt or decrypt source secrets"
        )
    digest = hashlib.sha256(f"rolebridge-source-secrets:{secret_key}".encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def is_reference(value: str) -> bool:
    """True for ``env:NAME`` and ``file:/path`` references (stored as they are)."""
    return value.startswith(("env:", "file:"))


def seal_secret(value: str, secret_key: str) -> str:
    """The form to store: references unchanged, anything else encrypted."""
    if is_reference(value):
        return value
    return _FERNET + _fernet(secret_key).encrypt(value.encode()).decode()


def resolve_secret(
    stored: str | None, secret_key: str, environ: Mapping[str, str] | None = None
) -> str:
    """The clear secret for a run; a missing variable, file or key is a configuration error."""
    env = os.environ if environ is None else environ
    if not stored:
        raise ConfigurationSourceError("the source has no secret configured")
    if stored.startswith("env:"):
        name = stored[4:]
        if not env.get(name):
            raise ConfigurationSourceError(f"environment variable {name} is not set")
        return env[name]
    if stored.startswith("file:"):
        path = Path(stored[5:])
        try:
            return path.read_text().strip()
        except OSError as exc:
            raise ConfigurationSourceError(
                f"cannot read secret file {path}: {exc.strerror}"
            ) from None
    if stored.startswith(_FERNET):
        try:
            return _fernet(secret_key).decrypt(stored[len(_FERNET) :].encode()).decode()
        except InvalidToken:
            raise ConfigurationSourceError(
                "the stored secret cannot be decrypted: ROLEBRIDGE_SECRET_KEY differs from the "
                "key it was stored with"
            ) from None
    raise ConfigurationSourceError("the stored secret has an unknown form")
