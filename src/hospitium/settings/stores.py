"""The platform store. Hospital stores are not listed here: they are opened lazily, per hospital,
by hospitium.tenancy.stores (see docs/architecture.md, "Stores open lazily")."""

from __future__ import annotations

from typing import Any

from hospitium.settings.core import HOSPITIUM_HOME
from hospitium.settings.env import env_int

HOSPITIUM_SQLITE_BUSY_TIMEOUT = env_int("HOSPITIUM_SQLITE_BUSY_TIMEOUT", 20, minimum=1)

#: Options every SQLite store gets: WAL for concurrent readers, IMMEDIATE write transactions so
#: writers queue on the busy timeout instead of failing mid-transaction. Django itself turns
#: foreign keys on for every SQLite connection; tests prove it for hospital stores.
SQLITE_OPTIONS: dict[str, Any] = {
    "timeout": HOSPITIUM_SQLITE_BUSY_TIMEOUT,
    "transaction_mode": "IMMEDIATE",
    "init_command": "PRAGMA journal_mode=WAL;PRAGMA synchronous=NORMAL",
}

DATABASES: dict[str, dict[str, Any]] = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": HOSPITIUM_HOME / "platform.sqlite3",
        "OPTIONS": dict(SQLITE_OPTIONS),
        "TEST": {"NAME": None},
    },
}

DATABASE_ROUTERS = ["hospitium.tenancy.router.HospitalRouter"]
