"""The warm pool of spare hospital schemas on PostgreSQL: listing it and topping it up.

Provisioning renames a spare into place (well under a millisecond) instead of cloning the
template (about 100 ms); see ``PostgresStore.create`` and docs/scaling.md. The embedded default
needs no pool (copying a template file costs about a tenth of a millisecond), so on SQLite both
functions here have nothing to do and return an empty list.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from hospitium.tenancy import stores
from hospitium.tenancy.errors import HospitalStoreUnavailable
from hospitium.tenancy.stores.postgresql import PostgresStore, SpareRefill, spare_prefix

__all__ = ["SparePool", "SpareRefill", "spares_list", "spares_refill"]


@dataclass
class SparePool:
    """One server's pool as it is now."""

    server: str
    target: int
    #: Spares of the current migration fingerprint: the ones provisioning may take.
    ready: list[str]
    #: Spares of other fingerprints: never taken; the next refill drops them.
    stale: list[str]


def _postgres_stores(server: str | None) -> list[PostgresStore]:
    servers = stores.configured_servers()
    if server is not None:
        if server not in servers:
            raise HospitalStoreUnavailable(
                f"Server {server!r} is not configured in HOSPITIUM_HOSPITAL_SERVERS."
            )
        servers = [server]
    found: list[PostgresStore] = []
    for name in servers:
        store = stores.store_for_server(name)
        assert isinstance(store, PostgresStore)
        found.append(store)
    return found


def spares_list(*, server: str | None = None) -> list[SparePool]:
    """Each PostgreSQL server's pool (or one server's). Raises HospitalStoreUnavailable for a
    server that is not configured."""
    prefix = spare_prefix()
    pools: list[SparePool] = []
    for store in _postgres_stores(server):
        names = store.spares()
        pools.append(
            SparePool(
                server=store.server,
                target=settings.HOSPITIUM_PG_SPARE_SCHEMAS,
                ready=[n for n in names if n.startswith(prefix)],
                stale=[n for n in names if not n.startswith(prefix)],
            )
        )
    return pools


def spares_refill(*, server: str | None = None) -> list[SpareRefill]:
    """Top up each PostgreSQL server's pool (or one server's) to HOSPITIUM_PG_SPARE_SCHEMAS
    spares of the current fingerprint, dropping spares of other fingerprints and any beyond the
    target. Each spare is built in a transaction of its own.

    Raises HospitalStoreUnavailable for a server that is not configured, or the database error
    that stopped a build (spares built before it stay).
    """
    target = settings.HOSPITIUM_PG_SPARE_SCHEMAS
    return [store.refill_spares(target) for store in _postgres_stores(server)]
