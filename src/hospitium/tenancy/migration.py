"""Migrating hospital stores: the fingerprint of the migration set, the migrated template that new
hospitals are cloned from, and the fleet migration that touches only hospitals that are behind."""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import multiprocessing
import os
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from asgiref.local import Local
from django.db import connections
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.loader import MigrationLoader
from tqdm import tqdm

from hospitium.tenancy import stores
from hospitium.tenancy.models import Hospital
from hospitium.tenancy.router import hospital_app_labels

logger = logging.getLogger(__name__)


@cache
def hospital_fingerprint() -> str:
    """SHA-256 over the hospital apps' migration files (names and contents).

    Reading a dozen small files is far cheaper than loading the migration graph, which is what
    lets a deploy with nothing to do skip every hospital with one comparison.
    """
    digest = hashlib.sha256()
    for label in sorted(hospital_app_labels()):
        module_name, _explicit = MigrationLoader.migrations_module(label)
        if module_name is None:
            continue
        spec = importlib.util.find_spec(module_name)
        if spec is None or not spec.submodule_search_locations:
            continue
        folder = Path(next(iter(spec.submodule_search_locations)))
        for path in sorted(folder.glob("*.py")):
            if path.name == "__init__.py":
                continue
            digest.update(f"{label}/{path.name}\0".encode())
            digest.update(path.read_bytes())
            digest.update(b"\0")
    return digest.hexdigest()


def migrate_store(alias: str) -> list[str]:
    """Apply the hospital apps' unapplied migrations to one store; return what was applied.

    Only hospital apps' migrations are planned, so a hospital store never records (or needs)
    platform migrations. Each migration runs in its own transaction: a failure rolls that
    migration back and raises.
    """
    connection = connections[alias]
    executor = MigrationExecutor(connection)
    labels = hospital_app_labels()
    targets = [key for key in executor.loader.graph.leaf_nodes() if key[0] in labels]
    plan = executor.migration_plan(targets)
    if not plan:
        return []
    executor.migrate(targets, plan=plan)
    return [f"{migration.app_label}.{migration.name}" for migration, _backwards in plan]


def migrate_platform_store() -> list[str]:
    """Apply the platform apps' unapplied migrations to the platform store.

    This is Django's ``migrate`` narrowed to platform apps: hospital apps' migrations are neither
    run nor recorded here (they belong to hospital stores). Signals are sent as ``migrate``
    sends them, so content types and permissions are kept up to date.
    """
    from django.apps import apps
    from django.core.management.sql import emit_post_migrate_signal, emit_pre_migrate_signal

    connection = connections["default"]
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
    fingerprint = fingerprint or hospital_fingerprint()
    return stores.templates_dir() / f"hospital-{fingerprint[:20]}.sqlite3"


def ensure_template() -> Path:
    """Return the migrated template store for the current migration set, building it if needed.

    The template is keyed by the fingerprint, so a change to any hospital migration builds a new
    one automatically. Building goes to a private file that is renamed into place, so concurrent
    builders never see a half-built template.
    """
    path = template_path()
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    building = path.with_name(f"{path.stem}.{os.getpid()}.{uuid.uuid4().hex[:8]}.building")
    alias = f"template:{building.name}"
    stores.register_alias(alias, stores.sqlite_config(building, mode="rwc"))
    try:
        started = time.perf_counter()
        migrate_store(alias)
        logger.info("built hospital template %s in %.2fs", path.name, time.perf_counter() - started)
    except BaseException:
        stores.unregister_alias(alias)
        _remove_sqlite_files(building)
        raise
    # Closing the last connection checkpoints the WAL into the main file, so the file alone is a
    # complete store and a plain copy of it is too.
    stores.unregister_alias(alias)
    building.replace(path)
    _remove_sqlite_files(building)
    return path


def _remove_sqlite_files(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


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

    @property
    def failures(self) -> list[HospitalMigration]:
        return [result for result in self.results if not result.ok]

    @property
    def ok(self) -> bool:
        return not self.failures


def _child_init() -> None:
    # A forked child must never use the parent's open connections (SQLite forbids carrying a
    # connection across fork); give it an empty set of its own.
    connections._connections = Local(connections.thread_critical)  # type: ignore[attr-defined]
    stores._open.order.clear()


def migrate_hospital_store(code: str) -> HospitalMigration:
    """Migrate one hospital's store (in this process); never raises, reports the error instead."""
    alias = stores.ALIAS_PREFIX + code
    try:
        if not stores.store_path(code).exists():
            return HospitalMigration(code, ok=False, error="the store file is missing")
        applied = migrate_store(alias)
        return HospitalMigration(code, ok=True, applied=applied)
    except Exception as exc:
        logger.warning("migrating hospital %s failed: %s", code, exc)
        return HospitalMigration(code, ok=False, error=f"{type(exc).__name__}: {exc}")
    finally:
        stores.close_alias(alias)


def fleet_migrate(
    *,
    processes: int | None = None,
    progress: bool = False,
    migrate_platform: bool = True,
) -> FleetMigration:
    """Migrate the platform store, then every hospital whose fingerprint is behind, in parallel.

    A failing hospital does not stop the others; its error is in the result. Hospitals that
    succeed get the current fingerprint recorded.
    """
    started = time.perf_counter()
    if migrate_platform:
        migrate_platform_store()
    fingerprint = hospital_fingerprint()
    ensure_template()
    live = Hospital.objects.filter(status__in=[Hospital.Status.ACTIVE, Hospital.Status.ARCHIVED])
    checked = live.count()
    behind = list(live.exclude(migration_fingerprint=fingerprint).values_list("code", flat=True))
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
        for start in range(0, len(done), 500):
            Hospital.objects.filter(code__in=done[start : start + 500]).update(
                migration_fingerprint=fingerprint
            )
    summary.results.sort(key=lambda result: result.code)
    summary.seconds = time.perf_counter() - started
    return summary


def _run(codes: list[str], workers: int) -> Iterator[HospitalMigration]:
    if workers == 1:
        yield from (migrate_hospital_store(code) for code in codes)
        return
    stores.close_hospital_connections()
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_child_init) as pool:
        futures = {pool.submit(migrate_hospital_store, code): code for code in codes}
        for future in as_completed(futures):
            try:
                yield future.result()
            except Exception as exc:  # the worker process itself died
                yield HospitalMigration(futures[future], ok=False, error=f"worker died: {exc}")
