"""The platform store and the servers that hold hospital stores.

Embedded default: SQLite files under HOSPITIUM_HOME. With HOSPITIUM_DATABASE_URL set to a
PostgreSQL URL, the platform store is the schema ``platform`` of that database and new
hospitals get a schema each (``hospital_<code>``) on the servers of HOSPITIUM_HOSPITAL_SERVERS
(by default the same database). Hospital stores are not listed in DATABASES: they are opened
lazily by hospitium.tenancy.stores (see docs/architecture.md, "Stores open lazily").
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlparse

from django.core.exceptions import ImproperlyConfigured

from hospitium.settings.core import HOSPITIUM_HOME
from hospitium.settings.env import env_int, env_str, env_url

HOSPITIUM_SQLITE_BUSY_TIMEOUT = env_int("HOSPITIUM_SQLITE_BUSY_TIMEOUT", 20, minimum=1)

#: Options every SQLite store gets: WAL for concurrent readers, IMMEDIATE write transactions so
#: writers queue on the busy timeout instead of failing mid-transaction. Django itself turns
#: foreign keys on for every SQLite connection; tests prove it for hospital stores.
SQLITE_OPTIONS: dict[str, Any] = {
    "timeout": HOSPITIUM_SQLITE_BUSY_TIMEOUT,
    "transaction_mode": "IMMEDIATE",
    "init_command": "PRAGMA journal_mode=WAL;PRAGMA synchronous=NORMAL",
}

#: Connections each process keeps per PostgreSQL server (psycopg's pool, through Django).
HOSPITIUM_PG_POOL_SIZE = env_int("HOSPITIUM_PG_POOL_SIZE", 8, minimum=1)
#: Spare hospital schemas kept ready on each PostgreSQL server (built from the current template;
#: provisioning renames one into place instead of cloning). 0 turns the pool off.
HOSPITIUM_PG_SPARE_SCHEMAS = env_int("HOSPITIUM_PG_SPARE_SCHEMAS", 2, minimum=0)
#: The schema that holds the platform store on PostgreSQL.
HOSPITIUM_PLATFORM_SCHEMA = env_str("HOSPITIUM_PLATFORM_SCHEMA", "platform")


def postgres_settings(url: str, *, engine: str, search_path: str | None = None) -> dict[str, Any]:
    """A DATABASES entry for a postgresql:// URL, with Django's psycopg pool."""
    parsed = urlparse(url)
    if parsed.scheme not in {"postgres", "postgresql"}:
        raise ImproperlyConfigured(f"not a PostgreSQL URL: {url!r}")
    name = parsed.path.lstrip("/")
    if not name:
        raise ImproperlyConfigured(f"the PostgreSQL URL {url!r} names no database")
    options: dict[str, Any] = {
        "pool": {"min_size": 0, "max_size": HOSPITIUM_PG_POOL_SIZE, "timeout": 10},
    }
    if search_path:
        options["options"] = f"-c search_path={search_path}"
    return {
        "ENGINE": engine,
        "NAME": unquote(name),
        "USER": unquote(parsed.username or ""),
        "PASSWORD": unquote(parsed.password or ""),
        "HOST": parsed.hostname or "",
        "PORT": str(parsed.port or ""),
        "OPTIONS": options,
        # Pooling and persistent connections exclude each other; the pool keeps them warm.
        "CONN_MAX_AGE": 0,
        "CONN_HEALTH_CHECKS": False,
        "ATOMIC_REQUESTS": False,
        "AUTOCOMMIT": True,
        "TIME_ZONE": None,
        "TEST": {"CHARSET": None, "COLLATION": None, "MIGRATE": True, "MIRROR": None, "NAME": None},
    }


def parse_servers(raw: str) -> dict[str, str]:
    """``name=url,name=url`` (or bare URLs, named by host, port and database) → {name: url}."""
    servers: dict[str, str] = {}
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        name, sep, url = item.partition("=")
        if not sep or "://" in name:
            url = item
            parsed = urlparse(url)
            name = f"{parsed.hostname}:{parsed.port or 5432}/{parsed.path.lstrip('/')}"
        name, url = name.strip(), url.strip()
        if urlparse(url).scheme not in {"postgres", "postgresql"}:
            raise ImproperlyConfigured(
                f"HOSPITIUM_HOSPITAL_SERVERS: {url!r} is not a postgresql:// URL"
            )
        if not name or len(name) > 64 or name in servers:
            raise ImproperlyConfigured(
                f"HOSPITIUM_HOSPITAL_SERVERS: server name {name!r} is empty, too long or repeated"
            )
        servers[name] = url
    return servers


HOSPITIUM_DATABASE_URL = env_url("HOSPITIUM_DATABASE_URL", schemes=("postgres", "postgresql"))

#: Servers that hold hospital schemas, by name (the name is recorded on each hospital's row).
HOSPITIUM_HOSPITAL_SERVERS: dict[str, str] = parse_servers(env_str("HOSPITIUM_HOSPITAL_SERVERS"))

DATABASES: dict[str, dict[str, Any]]
if HOSPITIUM_DATABASE_URL:
    DATABASES = {
        "default": postgres_settings(
            HOSPITIUM_DATABASE_URL,
            engine="hospitium.tenancy.backends.postgresql_platform",
            search_path=HOSPITIUM_PLATFORM_SCHEMA,
        )
    }
    if not HOSPITIUM_HOSPITAL_SERVERS:
        HOSPITIUM_HOSPITAL_SERVERS = {"main": HOSPITIUM_DATABASE_URL}
else:
    if HOSPITIUM_HOSPITAL_SERVERS:
        raise ImproperlyConfigured(
            "HOSPITIUM_HOSPITAL_SERVERS needs HOSPITIUM_DATABASE_URL (a PostgreSQL platform store)"
        )
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": HOSPITIUM_HOME / "platform.sqlite3",
            "OPTIONS": dict(SQLITE_OPTIONS),
            # A local file: keeping the connection costs nothing and saves ~0.4 ms a request.
            "CONN_MAX_AGE": None,
            "TEST": {"NAME": None},
        },
    }

DATABASE_ROUTERS = ["hospitium.tenancy.router.HospitalRouter"]
