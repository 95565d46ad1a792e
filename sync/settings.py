"""One typed ``Settings``, read once from the environment and passed explicitly."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "DEFAULT_BASE_URL",
    "Settings",
    "default_database_url",
    "record_served_url",
    "served_url",
]

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
_SERVED = "served_url"  # in the instance folder: where ``rolebridge serve`` last listened


def default_database_url(instance: Path) -> str:
    """The embedded default: a SQLite file under the instance folder."""
    return f"sqlite:///{(instance / 'rolebridge.sqlite3').resolve()}"


def served_url(instance: Path) -> str | None:
    """The address ``rolebridge serve`` listens on in this instance, when it recorded one
    (it does when ``ROLEBRIDGE_BASE_URL`` is unset), so that every process's invite links
    point at the port it was given."""
    try:
        return (instance / _SERVED).read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def record_served_url(instance: Path, url: str) -> None:
    """Record where ``rolebridge serve`` listens (read back by ``served_url``)."""
    instance.mkdir(parents=True, exist_ok=True)
    (instance / _SERVED).write_text(url + "\n", encoding="utf-8")


def _off(value: str) -> str | None:
    """None for a setting switched off ("off", "0" or empty)."""
    return None if value.strip().lower() in ("", "off", "0", "none") else value.strip()


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything configurable; tests build it directly."""

    database_url: str
    instance_path: Path = Path("instance")
    secret_key: str = ""  # Flask session signing; generated into the instance folder if empty
    smtp_url: str | None = None  # smtp://user:pass@host:port ; None = write mail to a file
    mail_from: str = "rolebridge@localhost"
    base_url: str = DEFAULT_BASE_URL  # where invite links point
    max_body_bytes: int = 5 * 1024 * 1024
    log_level: str = "INFO"
    log_format: str = "json"  # json | console
    redis_url: str | None = None  # rate-limit storage shared by every web process
    rate_limit_scim: str = "1200/minute"  # per SCIM token
    rate_limit_api: str = "600/minute"  # per admin API key
    metrics_token: str | None = None  # when set, /metrics wants "Authorization: Bearer <it>"
    rate_limit_auth_failures: str = "30/minute"  # failed sign-ins per client address
    session_lifetime: int = 8 * 3600  # seconds an admin page sign-in lasts
    db_statement_timeout: float = 15.0  # seconds; PostgreSQL statement_timeout
    db_connect_timeout: int = 10  # seconds to open a PostgreSQL connection
    db_pool_timeout: float = 10.0  # seconds a request waits for a pooled connection
    # how often the scheduler reconciles every org (interval or cron line); None: never
    housekeeping_interval: str | None = "1h"
    quarantine_after: int = 3  # a source failing this many runs in a row is quarantined
    webhook_timeout: float = 10.0  # seconds a webhook endpoint has to answer
    webhook_allow_private: bool = False  # loopback and private webhook addresses allowed
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def production(self) -> bool:
        """Served over https (``ROLEBRIDGE_BASE_URL``): webhook URLs must be https too."""
        return self.base_url.startswith("https://")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read ``DATABASE_URL`` and ``ROLEBRIDGE_*`` once."""
        env = os.environ if environ is None else environ
        instance = Path(env.get("ROLEBRIDGE_INSTANCE", "instance"))
        return cls(
            database_url=env.get("DATABASE_URL") or default_database_url(instance),
            instance_path=instance,
            secret_key=env.get("ROLEBRIDGE_SECRET_KEY", ""),
            smtp_url=env.get("ROLEBRIDGE_SMTP_URL") or None,
            mail_from=env.get("ROLEBRIDGE_MAIL_FROM", "rolebridge@localhost"),
            base_url=env.get("ROLEBRIDGE_BASE_URL") or served_url(instance) or DEFAULT_BASE_URL,
            max_body_bytes=int(env.get("ROLEBRIDGE_MAX_BODY_BYTES", str(5 * 1024 * 1024))),
            log_level=env.get("ROLEBRIDGE_LOG_LEVEL", "INFO"),
            log_format=env.get("ROLEBRIDGE_LOG_FORMAT", "json"),
            redis_url=env.get("ROLEBRIDGE_REDIS_URL") or None,
            rate_limit_scim=env.get("ROLEBRIDGE_RATE_LIMIT_SCIM", "1200/minute"),
            rate_limit_api=env.get("ROLEBRIDGE_RATE_LIMIT_API", "600/minute"),
            metrics_token=env.get("ROLEBRIDGE_METRICS_TOKEN") or None,
            rate_limit_auth_failures=env.get("ROLEBRIDGE_RATE_LIMIT_AUTH_FAILURES", "30/minute"),
            session_lifetime=int(env.get("ROLEBRIDGE_SESSION_LIFETIME", str(8 * 3600))),
            db_statement_timeout=float(env.get("ROLEBRIDGE_DB_STATEMENT_TIMEOUT", "15")),
            db_connect_timeout=int(env.get("ROLEBRIDGE_DB_CONNECT_TIMEOUT", "10")),
            db_pool_timeout=float(env.get("ROLEBRIDGE_DB_POOL_TIMEOUT", "10")),
            housekeeping_interval=_off(env.get("ROLEBRIDGE_HOUSEKEEPING_INTERVAL", "1h")),
            quarantine_after=int(env.get("ROLEBRIDGE_QUARANTINE_AFTER", "3")),
            webhook_timeout=float(env.get("ROLEBRIDGE_WEBHOOK_TIMEOUT", "10")),
            webhook_allow_private=env.get("ROLEBRIDGE_WEBHOOK_ALLOW_PRIVATE", "") in ("1", "true"),
            extra={k: v for k, v in env.items() if k.startswith("ROLEBRIDGE_")},
        )
