"""The embedded default: one SQLite file per hospital under HOSPITIUM_HOME/hospitals."""

from __future__ import annotations

import logging
import shutil
import sqlite3
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.db import connections

from hospitium.tenancy.context import HospitalRef
from hospitium.tenancy.fingerprint import apply_hospital_migrations, hospital_fingerprint
from hospitium.tenancy.stores import registry
from hospitium.tenancy.stores.base import Store, StoreExists

logger = logging.getLogger(__name__)

ALIAS_PREFIX = "hospital:"
READ_ONLY_SUFFIX = ":ro"
SIDE_SUFFIX = ":side"
ENGINE = "hospitium.tenancy.backends.sqlite3"


def hospitals_dir() -> Path:
    """The folder that holds one SQLite file per hospital."""
    return Path(settings.HOSPITIUM_HOME) / "hospitals"


def templates_dir() -> Path:
    """The folder that holds migrated template stores, one per migration fingerprint."""
    configured = settings.HOSPITIUM_TEMPLATE_DIR
    return Path(configured) if configured else Path(settings.HOSPITIUM_HOME) / "templates"


def store_file_name(code: str) -> str:
    return f"{code}.sqlite3"


def store_path(code: str) -> Path:
    return hospitals_dir() / store_file_name(code)


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
        "ENGINE": ENGINE,
        "NAME": f"file:{quote(str(path))}?mode={mode}",
        "ATOMIC_REQUESTS": False,
        "AUTOCOMMIT": True,
        # Hospital connections persist; the per-thread LRU closes the idle ones.
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
    code, _, suffix = alias[len(ALIAS_PREFIX) :].partition(":")
    return sqlite_config(store_path(code), mode="ro" if f":{suffix}" == READ_ONLY_SUFFIX else "rw")


registry.add_resolver(ALIAS_PREFIX, config_for_alias)


def remove_files(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal", ".partial"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _raw(path: Path, *, mode: str = "rw") -> sqlite3.Connection:
    return sqlite3.connect(f"file:{quote(str(path))}?mode={mode}", uri=True)


class SqliteStore(Store):
    kind = "sqlite"

    def alias(self, ref: HospitalRef) -> str:
        alias = ALIAS_PREFIX + ref.code
        return alias + READ_ONLY_SUFFIX if ref.read_only else alias

    def side_alias(self, ref: HospitalRef) -> str:
        # A connection of its own. A write on a connection whose SELECT is still stepping
        # must turn that statement's read snapshot into the write lock: refused at once
        # ("database is locked", the busy timeout does not apply) when another connection
        # committed since the SELECT began, and otherwise held, uncommitted, until the SELECT
        # ends, so every other writer of the hospital waits on a report's reading.
        return self.alias(ref) if ref.read_only else ALIAS_PREFIX + ref.code + SIDE_SUFFIX

    def store_name(self, code: str) -> str:
        return store_file_name(code)

    def path(self, ref: HospitalRef) -> Path:
        return hospitals_dir() / ref.store_name

    def exists(self, ref: HospitalRef) -> bool:
        return self.path(ref).exists()

    def ensure_template(self) -> str:
        """The template file for the current fingerprint, built on first need.

        Building goes to a private file that is renamed into place, so concurrent builders never
        see a half-built template.
        """
        path = templates_dir() / f"hospital-{hospital_fingerprint()[:20]}.sqlite3"
        if path.exists():
            return str(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        building = path.with_name(f"{path.stem}.{uuid.uuid4().hex[:12]}.building")
        alias = f"template:{building.name}"
        registry.register_alias(alias, sqlite_config(building, mode="rwc"))
        try:
            started = time.perf_counter()
            apply_hospital_migrations(alias)
            logger.info("built template %s in %.2fs", path.name, time.perf_counter() - started)
        finally:
            # Closing the last connection checkpoints the WAL into the main file, so the file
            # alone is a complete store and a plain copy of it is too.
            registry.unregister_alias(alias)
        building.replace(path)
        remove_files(building)
        return str(path)

    def create(self, ref: HospitalRef) -> None:
        template = Path(self.ensure_template())
        target = self.path(ref)
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            raise StoreExists(ref.store_name)
        partial = target.with_name(target.name + ".partial")
        # A copy then a rename: the store is either complete or absent, never half-written.
        shutil.copyfile(template, partial)
        partial.replace(target)

    def remove(self, ref: HospitalRef) -> None:
        registry.close_all(
            lambda alias: alias.split(":")[1] == ref.code and alias.startswith(ALIAS_PREFIX)
        )
        remove_files(self.path(ref))

    def migrate(self, ref: HospitalRef) -> list[str]:
        alias = ALIAS_PREFIX + ref.code
        try:
            return apply_hospital_migrations(alias)
        finally:
            registry.close_alias(alias)

    def backup(self, ref: HospitalRef, target: Path) -> None:
        # SQLite's online backup API: a consistent snapshot while the store stays in use.
        source = _raw(self.path(ref), mode="ro")
        try:
            destination = sqlite3.connect(target)
            try:
                source.backup(destination)
            finally:
                destination.close()
        finally:
            source.close()

    def restore(self, ref: HospitalRef, source: Path) -> None:
        # Restoring *into* the live file through the backup API (rather than replacing the
        # file) keeps every other open connection consistent: they see the new contents as
        # they would see any committed write.
        backup = _raw(source, mode="ro")
        try:
            if backup.execute("PRAGMA quick_check").fetchone() != ("ok",):
                raise ValueError("the backup file is damaged")
            live = _raw(self.path(ref))
            try:
                backup.backup(live)
            finally:
                live.close()
        finally:
            backup.close()

    def foreign_key_violations(self, ref: HospitalRef) -> list[tuple[str, str, str]]:
        alias = self.alias(ref)
        registry.touch(alias)
        with connections[alias].cursor() as cursor:
            cursor.execute("PRAGMA foreign_key_check")
            return [(table, str(rowid), parent) for table, rowid, parent, _fk in cursor.fetchall()]

    def row_counts(self, ref: HospitalRef) -> dict[str, int]:
        raw = _raw(self.path(ref), mode="ro")
        try:
            tables = [
                name
                for (name,) in raw.execute(
                    "select name from sqlite_master "
                    "where type = 'table' and name not like 'sqlite_%'"
                )
            ]
            return {
                t: raw.execute(f'select count(*) from "{t}"').fetchone()[0] for t in sorted(tables)
            }
        finally:
            raw.close()
