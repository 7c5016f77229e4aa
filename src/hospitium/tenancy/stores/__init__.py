"""Hospital stores: where each hospital's data lives and how it is reached.

Two kinds, one interface (``base.Store``): the embedded default, an SQLite file per hospital
(``sqlite``), and PostgreSQL, a schema per hospital on one of several servers (``postgresql``).
A hospital's placement is on its platform row: ``server`` ("" for embedded) and ``store_name``.
"""

from __future__ import annotations

from functools import cache

from django.conf import settings
from django.db.models import Count

from hospitium.tenancy.context import HospitalRef
from hospitium.tenancy.errors import HospitalStoreUnavailable
from hospitium.tenancy.stores import registry
from hospitium.tenancy.stores.base import Store, StoreExists
from hospitium.tenancy.stores.postgresql import PostgresStore
from hospitium.tenancy.stores.registry import (
    LazyDatabases,
    close_alias,
    install,
    on_request_finished,
    on_request_started,
    open_aliases,
    register_alias,
    touch,
    unregister_alias,
)
from hospitium.tenancy.stores.schemas import SERVER_PREFIX
from hospitium.tenancy.stores.sqlite import (
    ALIAS_PREFIX,
    SqliteStore,
    hospitals_dir,
    sqlite_config,
    store_file_name,
    store_path,
    templates_dir,
)

__all__ = [
    "ALIAS_PREFIX",
    "LazyDatabases",
    "Store",
    "StoreExists",
    "alias_for",
    "close_alias",
    "close_hospital_connections",
    "hospitals_dir",
    "install",
    "is_hospital_alias",
    "on_request_finished",
    "on_request_started",
    "open_aliases",
    "placement_for_new",
    "register_alias",
    "side_alias",
    "sqlite_config",
    "store_file_name",
    "store_for",
    "store_path",
    "templates_dir",
    "touch",
    "unregister_alias",
]


@cache
def _sqlite() -> SqliteStore:
    return SqliteStore()


@cache
def _postgres(server: str) -> PostgresStore:
    return PostgresStore(server)


def store_for_server(server: str) -> Store:
    """The store of a placement; raises HospitalStoreUnavailable for an unknown server."""
    if not server:
        return _sqlite()
    if server not in settings.HOSPITIUM_HOSPITAL_SERVERS:
        raise HospitalStoreUnavailable(
            f"Server {server!r} is not configured in HOSPITIUM_HOSPITAL_SERVERS."
        )
    return _postgres(server)


def store_for(ref: HospitalRef) -> Store:
    return store_for_server(ref.server)


def alias_for(ref: HospitalRef) -> str:
    """The connection alias of a hospital's store (worked out once per ref: ``ref.derived``).

    Raises HospitalStoreUnavailable for a server that is not configured.
    """
    alias: str | None = ref.derived.get("alias")
    if alias is None:
        alias = ref.derived["alias"] = store_for(ref).alias(ref)
    return alias


def side_alias(ref: HospitalRef) -> str:
    """The alias for short writes made while this thread's connection to the hospital's store
    is still reading (``Store.side_alias``). Raises as ``alias_for``."""
    alias: str | None = ref.derived.get("side_alias")
    if alias is None:
        alias = ref.derived["side_alias"] = store_for(ref).side_alias(ref)
    return alias


def is_hospital_alias(alias: str) -> bool:
    return alias.startswith((ALIAS_PREFIX, SERVER_PREFIX))


def configured_servers() -> list[str]:
    """The PostgreSQL servers new hospitals may be placed on, in configuration order."""
    return list(settings.HOSPITIUM_HOSPITAL_SERVERS)


def placement_for_new(code: str) -> tuple[str, str]:
    """(server, store name) for a new hospital: the server with the fewest hospitals, or the
    embedded default when no server is configured."""
    from hospitium.tenancy.models import Hospital

    servers = configured_servers()
    if not servers:
        return "", _sqlite().store_name(code)
    counts = dict(
        Hospital.objects.filter(server__in=servers)
        .values_list("server")
        .annotate(n=Count("id"))
        .values_list("server", "n")
    )
    server = min(servers, key=lambda name: (counts.get(name, 0), servers.index(name)))
    return server, _postgres(server).store_name(code)


def close_hospital_connections(code: str | None = None) -> None:
    """Close this thread's hospital connections: all of them, or those that can reach one
    hospital's store (on PostgreSQL, that is the whole server's connection)."""
    if code is None:
        registry.close_all()
        return
    registry.close_all(lambda alias: alias.startswith(SERVER_PREFIX) or alias.split(":")[1] == code)
