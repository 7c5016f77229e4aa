"""Lazily registered connections and the per-thread bound on open ones.

Django's ConnectionHandler looks every alias up in its ``settings`` mapping; we replace that
mapping with one that *answers* for hospital aliases (``hospital:CODE`` for SQLite files,
``server:NAME`` for PostgreSQL servers) without *listing* them. So nothing is enumerated at
start-up, and Django's per-request signal handlers (``reset_queries``,
``close_old_connections``), which walk the listed aliases, cost the same for 10 or 10,000
hospitals. Hospital connections are instead tracked per thread, in a least-recently-used list
bounded by HOSPITIUM_MAX_OPEN_STORES, and looked after by our own request handlers, which touch
only the connections this thread opened.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper

#: alias prefix → function building the DATABASES entry for such an alias.
_resolvers: dict[str, Callable[[str], dict[str, Any]]] = {}


def add_resolver(prefix: str, resolve: Callable[[str], dict[str, Any]]) -> None:
    _resolvers[prefix] = resolve


def is_lazy_alias(alias: str) -> bool:
    return any(alias.startswith(prefix) for prefix in _resolvers)


class LazyDatabases(dict[str, dict[str, Any]]):
    """Django's DATABASES mapping, answering for hospital (and explicitly registered) aliases
    that it does not list: iterating it yields only the static aliases."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.unlisted: dict[str, dict[str, Any]] = {}

    def __contains__(self, alias: object) -> bool:
        if super().__contains__(alias):
            return True
        return isinstance(alias, str) and (alias in self.unlisted or is_lazy_alias(alias))

    def __missing__(self, alias: str) -> dict[str, Any]:
        if alias in self.unlisted:
            return self.unlisted[alias]
        for prefix, resolve in _resolvers.items():
            if alias.startswith(prefix):
                return resolve(alias)
        raise KeyError(alias)


def install() -> LazyDatabases:
    """Swap Django's connection settings for the lazy mapping (idempotent)."""
    current = connections.settings
    if not isinstance(current, LazyDatabases):
        # ConnectionHandler.settings is a cached_property: the instance attribute replaces it.
        current = LazyDatabases(current)
        connections.__dict__["settings"] = current
    return current


def register_alias(alias: str, config: dict[str, Any]) -> None:
    """Make an unlisted alias known (template building); undone by ``unregister_alias``."""
    install().unlisted[alias] = config


def unregister_alias(alias: str) -> None:
    close_alias(alias)
    install().unlisted.pop(alias, None)


class _OpenStores(threading.local):
    def __init__(self) -> None:
        self.order: OrderedDict[str, None] = OrderedDict()
        #: Aliases used since the current request started: the only ones its end looks after.
        self.used: set[str] = set()


_open = _OpenStores()


def connection_if_open(alias: str) -> BaseDatabaseWrapper | None:
    """This thread's connection object for ``alias``, without creating one."""
    # BaseConnectionHandler keeps initialised connections as attributes of a thread-local; asking
    # ``connections[alias]`` would create one, which is exactly what must not happen here.
    return getattr(connections._connections, alias, None)  # type: ignore[attr-defined]


def close_alias(alias: str) -> bool:
    """Close this thread's connection to ``alias``; False if it is inside a transaction."""
    conn = connection_if_open(alias)
    if conn is not None:
        if conn.in_atomic_block:
            return False
        conn.close()
        del connections[alias]
    _open.order.pop(alias, None)
    return True


def touch(alias: str) -> None:
    """Record that this thread uses ``alias``; close the least recently used beyond the bound."""
    _open.used.add(alias)
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


def close_all(predicate: Callable[[str], bool] | None = None) -> None:
    """Close this thread's hospital connections (all, or those ``predicate`` selects)."""
    for alias in list(_open.order):
        if predicate is None or predicate(alias):
            close_alias(alias)


def forget_inherited() -> None:
    """In a forked child: drop (without closing) every connection inherited from the parent."""
    from asgiref.local import Local

    connections._connections = Local(connections.thread_critical)  # type: ignore[attr-defined]
    _open.order.clear()
    try:
        from django.db.backends.postgresql.base import DatabaseWrapper

        # Django keeps psycopg pools on the class; the parent's sockets are not ours to use.
        DatabaseWrapper._connection_pools = {}  # type: ignore[attr-defined]
    except ImportError:  # pragma: no cover - psycopg is a dependency
        pass


def on_request_started(**kwargs: Any) -> None:
    # Work per request must not grow with the open stores: only what this request uses counts.
    _open.used.clear()


def on_request_finished(**kwargs: Any) -> None:
    """Look after the connections this request used (as Django's close_old_connections does for
    the listed ones): drop broken or expired ones, clear the query log."""
    for alias in _open.used:
        conn = connection_if_open(alias)
        if conn is not None:
            conn.queries_log.clear()
            if not conn.in_atomic_block:
                conn.close_if_unusable_or_obsolete()
    _open.used.clear()
