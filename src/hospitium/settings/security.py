"""Secrets and the checks that make production refuse unsafe settings."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from hospitium.settings.core import DEBUG, HOSPITIUM_ENV, HOSPITIUM_HOME
from hospitium.settings.env import env_bool, env_str


def _embedded_secret_key(home: Path) -> str:
    """Read the installation's secret key, creating it (mode 0600) on first use."""
    path = home / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        home.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(50)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(key)
        return key


SECRET_KEY = env_str("HOSPITIUM_SECRET_KEY") or _embedded_secret_key(HOSPITIUM_HOME)

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

if HOSPITIUM_ENV not in {"embedded", "production"}:
    raise ImproperlyConfigured(
        f"HOSPITIUM_ENV must be 'embedded' or 'production'; got {HOSPITIUM_ENV!r}"
    )

if HOSPITIUM_ENV == "production":
    if DEBUG:
        raise ImproperlyConfigured("HOSPITIUM_DEBUG must be off in production")
    if not env_str("HOSPITIUM_SECRET_KEY"):
        raise ImproperlyConfigured("production needs HOSPITIUM_SECRET_KEY set in the environment")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("HOSPITIUM_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = 31536000
