"""The hospital migration set: its fingerprint, and applying it to one store."""

from __future__ import annotations

import hashlib
import importlib.util
from functools import cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder
from django.db.migrations.state import ProjectState

from hospitium.tenancy.router import hospital_app_labels


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


# What a process reuses between hospital stores (a fleet migration worker applies the same plan
# to hundreds of them). Without it, every store paid for reading the migration files and
# building the graph, then for rendering the models of every applied migration before the first
# operation could run: ~27 ms a store, most of a new migration's cost (docs/benchmarks.md).
# Both are facts about the migration files and the store's applied set, not about the store.
_disk: dict[str, tuple[dict[tuple[str, str], Any], set[str], set[str]]] = {}
_states: dict[tuple[str, frozenset[tuple[str, str]]], ProjectState] = {}
#: Distinct migration states remembered (a fleet is rarely spread over more than two).
MAX_STATES = 8


def _files_key() -> str:
    # The fingerprint covers the hospital apps' files; MIGRATION_MODULES can point elsewhere.
    return hospital_fingerprint() + repr(sorted(settings.MIGRATION_MODULES.items()))


class _Loader(MigrationLoader):
    """Django's loader, reading the migration files once per process (per file set)."""

    def load_disk(self) -> None:
        key = _files_key()
        cached = _disk.get(key)
        if cached is None:
            super().load_disk()
            _disk.clear()
            _states.clear()
            _disk[key] = (
                dict(self.disk_migrations),
                set(self.unmigrated_apps),
                set(self.migrated_apps),
            )
            return
        disk, unmigrated, migrated = cached
        self.disk_migrations = dict(disk)
        self.unmigrated_apps = set(unmigrated)
        self.migrated_apps = set(migrated)


class _Executor(MigrationExecutor):
    def __init__(self, connection: BaseDatabaseWrapper) -> None:
        # MigrationExecutor.__init__, with our loader.
        self.connection = connection
        self.loader = _Loader(connection)
        self.recorder = MigrationRecorder(connection)
        self.progress_callback = None

    def starting_state(self) -> ProjectState:
        """A fresh copy of the rendered project state of the store's applied migrations.

        Rendered once per applied set and cloned after: cloning a rendered state is what
        Django's own executor does before every operation, so the copies share nothing that
        an operation changes.
        """
        key = (_files_key(), frozenset(self.loader.applied_migrations))
        state = _states.get(key)
        if state is None:
            # A private method of Django 5.2 (pinned): what migrate() itself calls for this.
            state = self._create_project_state(with_applied_migrations=True)  # type: ignore[attr-defined]
            state.apps  # noqa: B018 - render now, once (Django renders lazily)
            if len(_states) >= MAX_STATES:
                _states.clear()
            _states[key] = state
        return state.clone()


def apply_hospital_migrations(alias: str) -> list[str]:
    """Apply the hospital apps' unapplied migrations through ``alias``; return what was applied.

    Only hospital apps' migrations are planned, so a hospital store never records (or needs)
    platform migrations. Each migration runs in its own transaction: a failure rolls that
    migration back and raises. The migration files and the rendered starting state are reused
    from earlier stores of this process with the same applied migrations.
    """
    connection = connections[alias]
    executor = _Executor(connection)
    labels = hospital_app_labels()
    targets = [key for key in executor.loader.graph.leaf_nodes() if key[0] in labels]
    plan = executor.migration_plan(targets)
    if not plan:
        return []
    executor.migrate(targets, plan=plan, state=executor.starting_state())
    return [f"{migration.app_label}.{migration.name}" for migration, _backwards in plan]
