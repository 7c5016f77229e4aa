"""Structured log lines: every line carries the request id, the hospital code and the user id."""

from __future__ import annotations

from typing import Any

from hospitium.settings.env import env_str

HOSPITIUM_LOG_LEVEL = env_str("HOSPITIUM_LOG_LEVEL", "INFO").upper()

LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "hospitium.core.logging.ContextFilter"}},
    "formatters": {"logfmt": {"()": "hospitium.core.logging.LogfmtFormatter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["context"],
            "formatter": "logfmt",
        },
    },
    "root": {"handlers": ["console"], "level": HOSPITIUM_LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "huey": {"level": "INFO"},
    },
}
