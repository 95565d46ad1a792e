"""OAuth 2.0 client credentials for pull sources (authlib), with errors in our taxonomy.

Okta uses ``private_key_jwt`` (RFC 7523: a JWT with ``iss`` = ``sub`` = the client id and
``aud`` = the token URL, signed with the client's private key). Microsoft identity
platform accepts a client secret or the same kind of assertion made from a certificate.
"""

from __future__ import annotations

from typing import Any

import requests
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT

from sync.sources.base import ConfigurationSourceError, TransientSourceError

__all__ = ["client_credentials_session"]


def client_credentials_session(
    *,
    client_id: str,
    token_url: str,
    scope: str,
    client_secret: str | None = None,
    private_key: str | None = None,
    key_headers: dict[str, Any] | None = None,
    timeout: float | tuple[float, float] = 30.0,
) -> OAuth2Session:
    """A requests session holding a client-credentials token (re-fetched when it expires)."""
    if (client_secret is None) == (private_key is None):
        raise ConfigurationSourceError("give exactly one of a client secret or a private key")
    auth_method: Any = "client_secret_post"
    secret = client_secret
    if private_key is not None:
        auth_method = PrivateKeyJWT(token_url, headers=key_headers or None)
        secret = private_key
    session = OAuth2Session(
        client_id,
        secret,
        token_endpoint_auth_method=auth_method,
        scope=scope,
        token_endpoint=token_url,
        grant_type="client_credentials",
        default_timeout=timeout,  # authlib's name: every request, the token's included
    )
    fetch_token(session, token_url)
    return session


def fetch_token(session: OAuth2Session, token_url: str) -> None:
    """Fetch a token now; refusals are configuration errors, outages are transient."""
    where = token_url.split("?", 1)[0]
    try:
        session.fetch_token(token_url, grant_type="client_credentials")
    except OAuthError as exc:
        detail = f": {exc.description}" if exc.description else ""
        raise ConfigurationSourceError(
            f"the token endpoint {where} refused the client ({exc.error}){detail}"
        ) from exc
    except requests.HTTPError as exc:
        status = exc.response.status_code if exc.response is not None else 0
        if status >= 500 or status == 429:
            raise TransientSourceError(f"the token endpoint {where} answered {status}") from exc
        raise ConfigurationSourceError(f"the token endpoint {where} answered {status}") from exc
    except requests.RequestException as exc:
        raise TransientSourceError(
            f"the token endpoint {where} could not be reached ({type(exc).__name__})"
        ) from exc
    except ValueError as exc:  # a key that does not parse, a body that is not a token
        raise ConfigurationSourceError(f"could not get a token from {where}: {exc}") from exc
