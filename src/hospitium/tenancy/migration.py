"""Migrating hospital stores: the fingerprint of the migration set, the migrated template that new
hospitals are cloned from, and the fleet migration that touches only hospitals that are behind."""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from django.db import connections
from django.db.migrations.executor import MigrationExecutor
from tqdm import tqdm

from hospitium.core.processes import die_with_parent
from hospitium.tenancy import stores
from hospitium.tenancy.context import HospitalRef
from hospitium.tenancy.fingerprint import apply_hospital_migrations, hospital_fingerprint
from hospitium.tenancy.models import Hospital
from hospitium.tenancy.router import hospital_app_labels
from hospitium.tenancy.spares import SpareRefill, spares_refill
from hospitium.tenancy.stores import registry

__all__ = ["ensure_template", "fleet_migrate", "hospital_fingerprint", "migrate_store"]

logger = logging.getLogger(__name__)


def migrate_store(alias: str) -> list[str]:
    """Apply unapplied hospital migrations through an alias (kept for scripts and benchmarks)."""
    return apply_hospital_migrations(alias)


def migrate_platform_store() -> list[str]:
    """Apply the platform apps' unapplied migrations to the platform store.

    This is Django's ``migrate`` narrowed to platform apps: hospital apps' migrations are neither
    run nor recorded here (they belong to hospital stores). Signals are sent as ``migrate``
    sends them, so content types and permissions are kept up to date.
    """
    from django.apps import apps
    from django.core.management.sql import emit_post_migrate_signal, emit_pre_migrate_signal

    connection = connections["default"]
    connection.prepare_database()
    executor = MigrationExecutor(connection)
    executor.loader.check_consistent_history(connection)
    labels = hospital_app_labels()
    targets = [key for key in executor.loader.graph.leaf_nodes() if key[0] not in labels]
    plan = executor.migration_plan(targets)
    emit_pre_migrate_signal(0, False, connection.alias, apps=apps, plan=plan)
    if plan:
        executor.migrate(targets, plan=plan)
    emit_post_migrate_signal(0, False, connection.alias, apps=apps, plan=plan)
    return [f"{migration.app_label}.{migration.name}" for migration, _backwards in plan]


def template_path(fingerprint: str | None = None) -> Path:
    """The embedded default's template file for a fingerprint (default: the current one)."""
    fingerprint = fingerprint or hospital_fingerprint()
    return stores.templates_dir() / f"hospital-{fingerprint[:20]}.sqlite3"


def ensure_template() -> str:
    """Build the templates new hospitals are cloned from (embedded, or on every configured
    server) if the current fingerprint has none yet; return the first one's name."""
    servers = stores.configured_servers() or [""]
    names = [stores.store_for_server(server).ensure_template() for server in servers]
    return names[0]


@dataclass
class HospitalMigration:
    code: str
    ok: bool
    applied: list[str] = field(default_factory=list)
    error: str = ""


@dataclass
class FleetMigration:
    fingerprint: str
    platform_applied: bool
    checked: int
    behind: int
    results: list[HospitalMigration] = field(default_factory=list)
    seconds: float = 0.0
    #: The spare-schema pools topped up at the end (PostgreSQL only), or why that failed.
    spares: list[SpareRefill] = field(default_factory=list)
    spares_error: str = ""

    @property
    def failures(self) -> list[HospitalMigration]:
        return [result for result in self.results if not result.ok]

    @property
    def ok(self) -> bool:
        return not self.failures


def _child_init() -> None:
    # A worker must not outlive a fleet migration killed with kill -9: left alone it would go on
    # migrating while a rerun migrates the same stores. Killed, the migration it was in rolls
    # back (each runs in one transaction), and the rerun finds that store behind as before.
    die_with_parent(os.getppid(), signal.SIGKILL)
    # A forked child must never use the parent's open connections (SQLite forbids carrying a
    # connection across fork, and a psycopg socket has one owner); it opens its own.
    registry.forget_inherited()


def migrate_hospital_store(ref: HospitalRef) -> HospitalMigration:
    """Migrate one hospital's store (in this process); never raises, reports the error instead."""
    code = ref.code
    try:
        store = stores.store_for(ref)
        if not store.exists(ref):
            return HospitalMigration(code, ok=False, error="the store is missing")
        applied = store.migrate(ref)
        return HospitalMigration(code, ok=True, applied=applied)
    except Exception as exc:
        logger.warning("migrating hospital %s failed: %s", code, exc)
        return HospitalMigration(code, ok=False, error=f"{type(exc).__name__}: {exc}")
    finally:
        stores.close_hospital_connections(code)


def fleet_migrate(
    *,
    processes: int | None = None,
    progress: bool = False,
    migrate_platform: bool = True,
    refill_spares: bool = True,
) -> FleetMigration:
    """Migrate the platform store, then every hospital whose fingerprint is behind, in parallel;
    then (``refill_spares``) replace the spare schemas of older fingerprints on each PostgreSQL
    server with spares of the new one, so the first hospitals after a deploy need no clone.

    A failing hospital does not stop the others; its error is in the result. Hospitals that
    succeed get the current fingerprint recorded. A failed refill is reported in the result
    (``spares_error``), never raised: provisioning clones when the pool is empty.
    """
    started = time.perf_counter()
    if migrate_platform:
        migrate_platform_store()
    fingerprint = hospital_fingerprint()
    ensure_template()
    live = Hospital.objects.filter(status__in=[Hospital.Status.ACTIVE, Hospital.Status.ARCHIVED])
    checked = live.count()
    behind = [h.as_ref() for h in live.exclude(migration_fingerprint=fingerprint)]
    summary = FleetMigration(
        fingerprint=fingerprint,
        platform_applied=migrate_platform,
        checked=checked,
        behind=len(behind),
    )
    if behind:
        workers = max(1, min(processes or os.cpu_count() or 1, len(behind)))
        bar = tqdm(
            total=len(behind),
            unit="hospital",
            disable=not progress,
            file=sys.stderr,
            desc="migrating hospitals",
        )
        with bar:
            for result in _run(behind, workers):
                summary.results.append(result)
                bar.update(1)
        done = [result.code for result in summary.results if result.ok]
        stores.close_hospital_connections()
        for start in range(0, len(done), 500):
            Hospital.objects.filter(code__in=done[start : start + 500]).update(
                migration_fingerprint=fingerprint
            )
    summary.results.sort(key=lambda result: result.code)
    if refill_spares:
        try:
            summary.spares = spares_refill()
        except Exception as exc:
            logger.warning("refilling the spare schemas failed: %s", exc)
            summary.spares_error = f"{type(exc).__name__}: {exc}"
    summary.seconds = time.perf_counter() - started
    return summary


def _run(refs: list[HospitalRef], workers: int) -> Iterator[HospitalMigration]:
    if workers == 1:
        yield from (migrate_hospital_store(ref) for ref in refs)
        return
    stores.close_hospital_connections()
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_child_init) as pool:
        futures = {pool.submit(migrate_hospital_store, ref): ref.code for ref in refs}
        for future in as_completed(futures):
            try:
                yield future.result()
            except Exception as exc:  # the worker process itself died
                yield HospitalMigration(futures[future], ok=False, error=f"worker died: {exc}")
