"""The hospital migration set: its fingerprint, and applying it to one store."""

from __future__ import annotations

import hashlib
import importlib.util
from functools import cache
from pathlib import Path

from django.db import connections
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.loader import MigrationLoader

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


def apply_hospital_migrations(alias: str) -> list[str]:
    """Apply the hospital apps' unapplied migrations through ``alias``; return what was applied.

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
