"""Settings from the environment (and `.env`), with safe defaults for a local run."""

import os
import secrets
from pathlib import Path
from urllib.parse import urlparse

from cryptography.fernet import Fernet


def _flag(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _instance_secret(instance: Path, filename: str, make) -> str:
    """Read a generated secret from `instance/`, creating it once for local runs."""
    path = instance / filename
    if path.exists():
        return path.read_text().strip()
    instance.mkdir(parents=True, exist_ok=True)
    value = make()
    # O_EXCL: two processes starting at once must not write two different keys.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(value)
    return value


def load_config(instance_path: str) -> dict:
    """Build the app config from environment variables."""
    instance = Path(instance_path)
    env = os.environ
    base_url = env.get("HELPDESK_BASE_URL", "http://127.0.0.1:5000").rstrip("/")
    secure = urlparse(base_url).scheme == "https"
    database_url = env.get("DATABASE_URL") or f"sqlite:///{instance / 'helpdesk.sqlite3'}"
    redis_url = env.get("REDIS_URL") or None
    return {
        "SECRET_KEY": env.get("SECRET_KEY")
        or _instance_secret(instance, "secret_key", lambda: secrets.token_hex(32)),
        "HELPDESK_ENCRYPTION_KEYS": env.get("HELPDESK_ENCRYPTION_KEYS")
        or _instance_secret(instance, "encryption_keys", lambda: Fernet.generate_key().decode()),
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": _engine_options(database_url),
        "REDIS_URL": redis_url,
        "HELPDESK_STORAGE": env.get("HELPDESK_STORAGE") or str(instance / "storage"),
        "HELPDESK_BASE_URL": base_url,
        "HELPDESK_SUPPORT_ADDRESS": env.get("HELPDESK_SUPPORT_ADDRESS", "support@localhost"),
        "HELPDESK_NAME": env.get("HELPDESK_NAME", "Helpdesk"),
        "HELPDESK_TIMEZONE": env.get("HELPDESK_TIMEZONE", "UTC"),
        "HELPDESK_REOPEN_DAYS": int(env.get("HELPDESK_REOPEN_DAYS", "7")),
        "HELPDESK_MAX_ATTACHMENT_MB": int(env.get("HELPDESK_MAX_ATTACHMENT_MB", "20")),
        "HELPDESK_MAX_MAIL_MB": float(env.get("HELPDESK_MAX_MAIL_MB", "25")),
        "HELPDESK_API_RATE_LIMIT": env.get("HELPDESK_API_RATE_LIMIT", "600 per minute"),
        "HELPDESK_WEBHOOKS_MAX_FAILURES": int(env.get("HELPDESK_WEBHOOKS_MAX_FAILURES", "10")),
        "HELPDESK_WEBHOOKS_TIMEOUT": float(env.get("HELPDESK_WEBHOOKS_TIMEOUT", "5")),
        "HELPDESK_WEBHOOKS_ALLOW_PRIVATE": _flag("HELPDESK_WEBHOOKS_ALLOW_PRIVATE"),
        "HELPDESK_LOGIN_RATE_LIMIT": env.get("HELPDESK_LOGIN_RATE_LIMIT", "10 per minute"),
        # Portal defaults; the `settings` table overrides them (helpdesk.settings).
        "HELPDESK_SIGNUP_POLICY": env.get("HELPDESK_SIGNUP_POLICY", "open"),
        "HELPDESK_CUSTOMER_PRIORITY": _flag("HELPDESK_CUSTOMER_PRIORITY"),
        "HELPDESK_CATEGORIES": [],
        "HELPDESK_LINK_DAYS": int(env.get("HELPDESK_LINK_DAYS", "30")),
        "HELPDESK_SIGNUP_RATE_LIMIT": env.get("HELPDESK_SIGNUP_RATE_LIMIT", "5 per hour"),
        "HELPDESK_RESET_RATE_LIMIT": env.get("HELPDESK_RESET_RATE_LIMIT", "5 per hour"),
        "HELPDESK_SUBMIT_RATE_LIMIT": env.get("HELPDESK_SUBMIT_RATE_LIMIT", "20 per hour"),
        "HELPDESK_REPLY_RATE_LIMIT": env.get("HELPDESK_REPLY_RATE_LIMIT", "60 per hour"),
        "HELPDESK_DEMO_DATA": _flag("HELPDESK_DEMO_DATA", False),
        "MAX_CONTENT_LENGTH": (int(env.get("HELPDESK_MAX_ATTACHMENT_MB", "20")) * 10 + 1)
        * 1024
        * 1024,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": secure,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": secure,
        "PREFERRED_URL_SCHEME": "https" if secure else "http",
        "RATELIMIT_STORAGE_URI": redis_url or "memory://",
        "RATELIMIT_HEADERS_ENABLED": True,
        "BABEL_DEFAULT_LOCALE": "en",
        "BABEL_DEFAULT_TIMEZONE": env.get("HELPDESK_TIMEZONE", "UTC"),
        "MAIL_SERVER": env.get("MAIL_SERVER") or None,  # unset: mails are logged, not sent
        "MAIL_PORT": int(env.get("MAIL_PORT", "25")),
        "MAIL_USE_TLS": _flag("MAIL_USE_TLS"),
        "MAIL_USE_SSL": _flag("MAIL_USE_SSL"),
        "MAIL_USERNAME": env.get("MAIL_USERNAME") or None,
        "MAIL_PASSWORD": env.get("MAIL_PASSWORD") or None,
        "MAIL_DEFAULT_SENDER": env.get("MAIL_DEFAULT_SENDER")
        or env.get("HELPDESK_SUPPORT_ADDRESS", "support@localhost"),
        # Password hashing cost; tests lower it, production keeps argon2's defaults.
        "HELPDESK_FAST_HASH": _flag("HELPDESK_FAST_HASH"),
    }


def _engine_options(url: str) -> dict:
    if url.startswith("sqlite"):
        # A writer waits for another process's write lock instead of failing at once.
        return {"connect_args": {"timeout": 30}}
    return {"pool_pre_ping": True}
