"""Secrets and the checks that make production refuse unsafe settings."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from hospitium.settings.core import DEBUG, HOSPITIUM_ENV, HOSPITIUM_HOME
from hospitium.settings.env import env_bool, env_int, env_str


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

#: Sent on every response by hospitium.core.middleware.ContentSecurityPolicyMiddleware. Scripts,
#: styles, fonts, images and fetches come from this origin only, with no inline script or
#: style; nothing may frame a page (as X-Frame-Options DENY says to older browsers). The one
#: exception is the hash of the small inline style block of drf-spectacular's Swagger UI page
#: (its script is served as a file by SpectacularSwaggerSplitView); a test checks the hash
#: against the installed template. ``data:`` images: Swagger UI's icons.
SWAGGER_UI_STYLE_HASH = "sha256-MMpT0iDxyjALd9PdfepImGX3DBfJPXZ4IlDWdPAgtn0="
HOSPITIUM_CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        f"style-src 'self' '{SWAGGER_UI_STYLE_HASH}'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

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
    SECURE_HSTS_SECONDS = env_int("HOSPITIUM_HSTS_SECONDS", 31536000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("HOSPITIUM_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("HOSPITIUM_HSTS_PRELOAD", False)
    if not SECURE_HSTS_PRELOAD:
        # Preloading puts the hospitals' domains on the browsers' built-in HTTPS-only list, a
        # commitment for the owners of those domains to make, not a default: W021 only says
        # preload is off.
        SILENCED_SYSTEM_CHECKS = ["security.W021"]
    if env_bool("HOSPITIUM_BEHIND_TLS_PROXY", False):
        # A proxy that terminates TLS says so in X-Forwarded-Proto (and must strip the
        # client's own); without this every request looks like plain HTTP and is redirected.
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
