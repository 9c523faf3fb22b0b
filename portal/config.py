"""Settings from the environment, in one place.

PORTAL_ENV chooses the kind of deployment: ``production`` (the default, so a forgotten setting fails safe),
``development`` (``make run``) or ``test`` (the test suite).
"""

from __future__ import annotations

import os
from pathlib import Path

from portal.encryption import parse_keys

INSTANCE_DIR = Path(__file__).resolve().parent.parent / "instance"

# Keys that must never sign a production session: the development default and obvious stand-ins.
_WEAK_SECRET_KEYS = {"", "dev", "development", "change-me", "changeme", "secret", "insecure-development-key"}
DEVELOPMENT_SECRET_KEY = "insecure-development-key"
MIN_SECRET_KEY_LENGTH = 32
# The data key of development and test databases only (portal.encryption): it is in the source, so production
# refuses it.
DEVELOPMENT_DATA_ENCRYPTION_KEY = "j_aY0ymSsjbl68txxYpy34IkX_X7up1gCykuyoMRWUY="
NEW_KEY_COMMAND = 'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'


class ConfigError(Exception):
    """The environment does not describe a deployment the portal can safely run."""


def _bool(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _data_encryption_keys(text: str, is_production: bool) -> list[str]:
    if not text.strip():
        if is_production:
            raise ConfigError(
                "DATA_ENCRYPTION_KEY must be set in production: it encrypts the two-factor keys in the database "
                f"(make one with: {NEW_KEY_COMMAND})"
            )
        text = DEVELOPMENT_DATA_ENCRYPTION_KEY
    try:
        keys = parse_keys(text)
    except ValueError:
        raise ConfigError(
            "DATA_ENCRYPTION_KEY must be one or more Fernet keys, comma-separated, the newest first "
            f"(make one with: {NEW_KEY_COMMAND})"
        ) from None
    if is_production and DEVELOPMENT_DATA_ENCRYPTION_KEY in keys:
        raise ConfigError("DATA_ENCRYPTION_KEY must not be the development key in production")
    return keys


def default_sqlite_url() -> str:
    return f"sqlite:///{INSTANCE_DIR / 'portal.sqlite3'}"


def load_config(env: dict[str, str] | None = None, overrides: dict | None = None) -> dict:
    """Build the Flask config from environment variables; raise ConfigError for an unsafe production setup."""
    env = dict(os.environ if env is None else env)
    portal_env = env.get("PORTAL_ENV", "production").strip().lower()
    if portal_env not in {"production", "development", "test"}:
        raise ConfigError(f"PORTAL_ENV must be production, development or test, not {portal_env!r}")
    is_production = portal_env == "production"

    secret_key = env.get("SECRET_KEY", "")
    if is_production and (secret_key.lower() in _WEAK_SECRET_KEYS or len(secret_key) < MIN_SECRET_KEY_LENGTH):
        raise ConfigError(
            "SECRET_KEY must be set to a random value of at least 32 characters in production "
            '(for example: python -c "import secrets; print(secrets.token_hex(32))")'
        )

    data_keys = _data_encryption_keys(env.get("DATA_ENCRYPTION_KEY", ""), is_production)

    log_format = env.get("LOG_FORMAT", "text" if portal_env == "development" else "json").strip().lower()
    if log_format not in {"json", "text"}:
        raise ConfigError(f"LOG_FORMAT must be json or text, not {log_format!r}")

    config = {
        "PORTAL_ENV": portal_env,
        "SECRET_KEY": secret_key or DEVELOPMENT_SECRET_KEY,
        # The keys of the secrets kept encrypted in the database (the two-factor keys); the first encrypts.
        "DATA_ENCRYPTION_KEYS": data_keys,
        "SQLALCHEMY_DATABASE_URI": env.get("DATABASE_URL") or default_sqlite_url(),
        # hide_parameters: a database error's message (logged with its traceback) never carries the values sent,
        # which can be a child's name or a password hash.
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True, "hide_parameters": True},
        "TESTING": portal_env == "test",
        # Sessions: the cookie carries only the user's session token; the server can end it.
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": _bool(env.get("SESSION_COOKIE_SECURE"), default=is_production),
        "SESSION_COOKIE_NAME": "ap_portal_session",
        "REMEMBER_COOKIE_DURATION": 0,
        # Session limits (OWASP ASVS 3.3): idle and absolute timeouts, and a warning before the idle one.
        "SESSION_IDLE_MINUTES": int(env.get("SESSION_IDLE_MINUTES", "30")),
        "SESSION_ABSOLUTE_HOURS": int(env.get("SESSION_ABSOLUTE_HOURS", "12")),
        "SESSION_WARNING_SECONDS": int(env.get("SESSION_WARNING_SECONDS", "120")),
        "HSTS_ENABLED": _bool(env.get("HSTS_ENABLED"), default=is_production),
        # Forms and uploads.
        "WTF_CSRF_ENABLED": True,
        "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the session; sessions expire on their own
        # 11 MiB: a compliance document may be 10 MB, and one just over gets a message next to the file input
        # (the service checks the 10 MB) rather than this limit's "too large" page.
        "MAX_CONTENT_LENGTH": int(env.get("MAX_CONTENT_LENGTH", str(11 * 1024 * 1024))),
        # Mail (the outbox worker reads these).
        "MAIL_SERVER": env.get("MAIL_SERVER", "127.0.0.1"),
        "MAIL_PORT": int(env.get("MAIL_PORT", "25")),
        "MAIL_USERNAME": env.get("MAIL_USERNAME", ""),
        "MAIL_PASSWORD": env.get("MAIL_PASSWORD", ""),
        "MAIL_USE_TLS": _bool(env.get("MAIL_USE_TLS"), default=False),
        "MAIL_FROM": env.get("MAIL_FROM", "ap-commissioning@council.example"),
        "MAIL_TO_LOG": _bool(env.get("MAIL_TO_LOG"), default=portal_env == "development"),
        # The Open Contracting ocid prefix ("ocds-" and six characters), registered with the Open Contracting
        # Partnership before award notices are published for real.
        "OCDS_PREFIX": env.get("OCDS_PREFIX", ""),
        # Data retention (portal.services.retention): years each kind of record is kept. A child's record runs from
        # the last placement's end or the last referral's close; a child with an EHC plan is kept at least until 25.
        "RETENTION_CHILD_YEARS": int(env.get("RETENTION_CHILD_YEARS", "7")),
        "RETENTION_SEND_UNTIL_AGE": int(env.get("RETENTION_SEND_UNTIL_AGE", "25")),
        "RETENTION_AUDIT_YEARS": int(env.get("RETENTION_AUDIT_YEARS", "7")),
        "RETENTION_OUTBOX_YEARS": int(env.get("RETENTION_OUTBOX_YEARS", "1")),
        "RETENTION_NOTIFICATION_YEARS": int(env.get("RETENTION_NOTIFICATION_YEARS", "2")),
        "RETENTION_REJECTED_APPLICATION_YEARS": int(env.get("RETENTION_REJECTED_APPLICATION_YEARS", "2")),
        # Rate limits: memory by default; a Redis URL shares the counts between app servers.
        "RATELIMIT_STORAGE_URI": env.get("RATELIMIT_STORAGE_URI", "memory://"),
        # The dashboard cache (portal.services.cache): Redis shared by every app server; empty means the rate limits'
        # Redis if they use one, else each server's own memory.
        "CACHE_REDIS_URL": env.get("CACHE_REDIS_URL", ""),
        "RATELIMIT_ENABLED": _bool(env.get("RATELIMIT_ENABLED"), default=True),
        "RATELIMIT_HEADERS_ENABLED": False,
        "LOGIN_RATE_LIMIT": env.get("LOGIN_RATE_LIMIT", "20 per minute"),
        # Password reset requests and two-factor code attempts, per IP address.
        "RESET_RATE_LIMIT": env.get("RESET_RATE_LIMIT", "5 per minute"),
        "TWO_FACTOR_RATE_LIMIT": env.get("TWO_FACTOR_RATE_LIMIT", "10 per minute"),
        # The address people reach the portal at: emailed links start with it.
        "BASE_URL": env.get("BASE_URL", "http://127.0.0.1:5000").rstrip("/"),
        # Behind a load balancer: how many proxies' X-Forwarded-For / -Proto headers to trust (0: none).
        "PROXY_FIX_X_FOR": int(env.get("PROXY_FIX_X_FOR", "0")),
        # Words shown in the page header and footer.
        "COUNCIL_NAME": env.get("COUNCIL_NAME", "London Borough of Hillingdon"),
        "SERVICE_NAME": "Alternative provision commissioning",
        # Logs (portal.request_log): one JSON object a line for a log collector, or plain text for a person at a
        # terminal (the default under `make run`).
        "LOG_FORMAT": log_format,
        # The load benchmark's instrumentation (portal.instrumentation): X-SQL-Statements on every response.
        "SQL_STATEMENT_HEADER": _bool(env.get("SQL_STATEMENT_HEADER"), default=False),
    }
    if config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql://"):
        # psycopg 3 is the driver we ship; a plain postgresql:// URL would ask for psycopg2.
        config["SQLALCHEMY_DATABASE_URI"] = config["SQLALCHEMY_DATABASE_URI"].replace(
            "postgresql://", "postgresql+psycopg://", 1
        )
    config.update(overrides or {})
    return config
