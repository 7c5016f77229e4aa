"""Hospital stores on the embedded default: one SQLite file per hospital.

Connections are registered lazily. Django's ConnectionHandler looks every alias up in its
``settings`` mapping; we replace that mapping with one that *answers* for any ``hospital:`` alias
without *listing* it. So nothing is enumerated at start-up, and Django's per-request signal
handlers (``reset_queries``, ``close_old_connections``), which walk the listed aliases, cost the
same for 10 or 10,000 hospitals. Hospital connections are instead tracked per thread, in a
least-recently-used list bounded by HOSPITIUM_MAX_OPEN_STORES, and looked after by our own
request handlers, which touch only the stores this thread opened.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper

from hospitium.tenancy.context import HospitalRef

ALIAS_PREFIX = "hospital:"
READ_ONLY_SUFFIX = ":ro"
HOSPITAL_ENGINE = "hospitium.tenancy.backends.sqlite3"


def hospitals_dir() -> Path:
    """The folder that holds one SQLite file per hospital."""
    return Path(settings.HOSPITIUM_HOME) / "hospitals"


def templates_dir() -> Path:
    """The folder that holds migrated template stores, one per migration fingerprint."""
    configured = settings.HOSPITIUM_TEMPLATE_DIR
    return Path(configured) if configured else Path(settings.HOSPITIUM_HOME) / "templates"


def store_file_name(code: str) -> str:
    """The store's file name, as recorded in the hospital's placement."""
    return f"{code}.sqlite3"


def store_path(code: str) -> Path:
    return hospitals_dir() / store_file_name(code)


def alias_for(ref: HospitalRef) -> str:
    """The connection alias of a hospital; archived hospitals open read-only under their own."""
    alias = ALIAS_PREFIX + ref.code
    return alias + READ_ONLY_SUFFIX if ref.read_only else alias


def is_hospital_alias(alias: str) -> bool:
    return alias.startswith(ALIAS_PREFIX)


def sqlite_config(path: Path, *, mode: str = "rw") -> dict[str, Any]:
    """A complete Django DATABASES entry for one SQLite store file.

    ``mode`` is SQLite's URI mode: ``rw`` (the file must exist), ``ro`` or ``rwc`` (create).
    """
    options: dict[str, Any] = dict(settings.SQLITE_OPTIONS)
    if mode == "ro":
        # A read-only connection can neither switch journal mode nor take a write lock.
        options.pop("init_command", None)
        options.pop("transaction_mode", None)
    return {
        "ENGINE": HOSPITAL_ENGINE,
        "NAME": f"file:{quote(str(path))}?mode={mode}",
        "ATOMIC_REQUESTS": False,
        "AUTOCOMMIT": True,
        # Hospital connections persist; the per-thread LRU below closes the idle ones.
        "CONN_MAX_AGE": None,
        "CONN_HEALTH_CHECKS": False,
        "OPTIONS": options,
        "TIME_ZONE": None,
        "USER": "",
        "PASSWORD": "",
        "HOST": "",
        "PORT": "",
        "TEST": {"CHARSET": None, "COLLATION": None, "MIGRATE": True, "MIRROR": None, "NAME": None},
    }


def config_for_alias(alias: str) -> dict[str, Any]:
    """The DATABASES entry a ``hospital:CODE[:ro]`` alias stands for."""
    rest = alias[len(ALIAS_PREFIX) :]
    read_only = rest.endswith(READ_ONLY_SUFFIX)
    code = rest[: -len(READ_ONLY_SUFFIX)] if read_only else rest
    return sqlite_config(store_path(code), mode="ro" if read_only else "rw")


class LazyDatabases(dict[str, dict[str, Any]]):
    """Django's DATABASES mapping, answering for hospital (and explicitly registered) aliases
    that it does not list: iterating it yields only the static aliases."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.unlisted: dict[str, dict[str, Any]] = {}

    def __contains__(self, alias: object) -> bool:
        if super().__contains__(alias):
            return True
        return isinstance(alias, str) and (is_hospital_alias(alias) or alias in self.unlisted)

    def __missing__(self, alias: str) -> dict[str, Any]:
        if alias in self.unlisted:
            return self.unlisted[alias]
        if is_hospital_alias(alias):
            return config_for_alias(alias)
        raise KeyError(alias)


def _lazy_settings() -> LazyDatabases:
    install()
    current = connections.settings
    assert isinstance(current, LazyDatabases)
    return current


def install() -> None:
    """Swap Django's connection settings for the lazy mapping (idempotent)."""
    current = connections.settings
    if not isinstance(current, LazyDatabases):
        # ConnectionHandler.settings is a cached_property: the instance attribute replaces it.
        connections.__dict__["settings"] = LazyDatabases(current)


def register_alias(alias: str, config: dict[str, Any]) -> None:
    """Make an unlisted alias known (template building); undone by ``unregister_alias``."""
    _lazy_settings().unlisted[alias] = config


def unregister_alias(alias: str) -> None:
    close_alias(alias)
    _lazy_settings().unlisted.pop(alias, None)


class _OpenStores(threading.local):
    def __init__(self) -> None:
        self.order: OrderedDict[str, None] = OrderedDict()


_open = _OpenStores()


def _connection_if_open(alias: str) -> BaseDatabaseWrapper | None:
    # BaseConnectionHandler keeps initialised connections as attributes of a thread-local; asking
    # ``connections[alias]`` would create one, which is exactly what we must not do here.
    return getattr(connections._connections, alias, None)  # type: ignore[attr-defined]


def close_alias(alias: str) -> bool:
    """Close this thread's connection to ``alias``; False if it is inside a transaction."""
    conn = _connection_if_open(alias)
    if conn is not None:
        if conn.in_atomic_block:
            return False
        conn.close()
        del connections[alias]
    _open.order.pop(alias, None)
    return True


def touch(alias: str) -> None:
    """Record that this thread uses ``alias``; close the least recently used beyond the bound."""
    order = _open.order
    if alias in order:
        order.move_to_end(alias)
        return
    order[alias] = None
    limit: int = settings.HOSPITIUM_MAX_OPEN_STORES
    while len(order) > limit:
        oldest = next(iter(order))
        if oldest == alias or not close_alias(oldest):
            break


def open_aliases() -> list[str]:
    """The hospital aliases this thread has used and not closed, least recent first."""
    return list(_open.order)


def close_hospital_connections(code: str | None = None) -> None:
    """Close this thread's hospital connections (all, or those of one hospital)."""
    for alias in list(_open.order):
        if code is None or alias in (ALIAS_PREFIX + code, ALIAS_PREFIX + code + READ_ONLY_SUFFIX):
            close_alias(alias)


def on_request_started(**kwargs: Any) -> None:
    for alias in list(_open.order):
        conn = _connection_if_open(alias)
        if conn is not None:
            conn.queries_log.clear()
            if not conn.in_atomic_block:
                conn.close_if_unusable_or_obsolete()


def on_request_finished(**kwargs: Any) -> None:
    for alias in list(_open.order):
        conn = _connection_if_open(alias)
        if conn is not None and not conn.in_atomic_block:
            conn.close_if_unusable_or_obsolete()
