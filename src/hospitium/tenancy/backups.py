"""Backups of one hospital's store, restoring them, and deleting a hospital (only after a backup).

A backup is two files: the store's copy (an SQLite database, or a ``pg_dump`` archive of the
schema) and, beside it, ``<file>.json``: what it is of (code, kind, fingerprint), its size and
SHA-256. Restore reads the manifest first and refuses a backup of another hospital, of the other
kind of store, or one whose bytes no longer match.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from hospitium.tenancy import stores
from hospitium.tenancy.errors import BackupInvalid, DeleteRefused
from hospitium.tenancy.fingerprint import hospital_fingerprint
from hospitium.tenancy.models import Hospital, HospitalBackup
from hospitium.tenancy.selectors import forget_cached_hospitals, hospital_get

logger = logging.getLogger(__name__)

MANIFEST_FORMAT = "hospitium-backup/1"


def manifest_path(path: Path) -> Path:
    return path.with_name(path.name + ".json")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def hospital_backup(*, code: str, target: Path) -> HospitalBackup:
    """Back up a hospital's store (online) to ``target`` and its manifest beside it.

    Raises HospitalNotFound, or BackupInvalid when ``target`` (or its manifest) already exists:
    a backup never overwrites anything.
    """
    hospital = hospital_get(code)
    target = Path(target).expanduser().resolve()
    if target.exists() or manifest_path(target).exists():
        raise BackupInvalid(f"{target.name} already exists; choose a new file name.")
    if not target.parent.is_dir():
        raise BackupInvalid(f"The folder {target.parent} does not exist.")
    ref = hospital.as_ref()
    store = stores.store_for(ref)
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    started_at = timezone.now()
    try:
        store.backup(ref, partial)
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    backup = HospitalBackup(
        hospital=hospital,
        code=hospital.code,
        kind=store.kind,
        path=str(target),
        size=target.stat().st_size,
        sha256=_sha256(target),
        migration_fingerprint=hospital.migration_fingerprint,
        created_at=started_at,
    )
    manifest = {
        "format": MANIFEST_FORMAT,
        "code": backup.code,
        "kind": backup.kind,
        "store_name": hospital.store_name,
        "migration_fingerprint": backup.migration_fingerprint,
        "size": backup.size,
        "sha256": backup.sha256,
        "created_at": started_at.isoformat(),
    }
    manifest_path(target).write_text(json.dumps(manifest, indent=2))
    backup.save()
    logger.info("backed up hospital %s to %s (%d bytes)", hospital.code, target, backup.size)
    return backup


def read_manifest(source: Path) -> dict[str, Any]:
    """The manifest of a backup file; raises BackupInvalid when it is missing or not ours."""
    path = manifest_path(source)
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        raise BackupInvalid(f"{source.name} has no manifest ({path.name}) beside it.") from None
    except (OSError, ValueError):
        raise BackupInvalid(f"{path.name} cannot be read as a backup manifest.") from None
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
        raise BackupInvalid(f"{path.name} is not a Hospitium backup manifest.")
    return manifest


@dataclass
class RestoreResult:
    code: str
    migrated: list[str]


def hospital_restore(*, code: str, source: Path) -> RestoreResult:
    """Replace a hospital's store contents with a backup of that same hospital.

    The hospital is read-only meanwhile. A backup made before later migrations is migrated
    forward after the restore. Raises HospitalNotFound or BackupInvalid (nothing changed).
    """
    hospital = hospital_get(code)
    source = Path(source).expanduser().resolve()
    if not source.is_file():
        raise BackupInvalid(f"There is no backup file at {source}.")
    manifest = read_manifest(source)
    ref = hospital.as_ref()
    store = stores.store_for(ref)
    if manifest.get("code") != hospital.code:
        raise BackupInvalid(
            f"{source.name} is a backup of hospital {manifest.get('code')}, not {hospital.code}."
        )
    if manifest.get("kind") != store.kind:
        raise BackupInvalid(
            f"{source.name} is a {manifest.get('kind')} backup; {hospital.code} is stored on "
            f"{store.kind}."
        )
    if source.stat().st_size != manifest.get("size") or _sha256(source) != manifest.get("sha256"):
        raise BackupInvalid(f"{source.name} does not match its manifest: it is damaged.")
    with locked(hospital, "restoring a backup"):
        store.close(ref)
        try:
            store.restore(ref, source)
        except (RuntimeError, ValueError) as exc:
            raise BackupInvalid(f"{source.name} could not be restored: {exc}") from exc
        migrated = store.migrate(ref)
        stores.close_hospital_connections(hospital.code)
    Hospital.objects.filter(pk=hospital.pk).update(migration_fingerprint=hospital_fingerprint())
    logger.info("restored hospital %s from %s", hospital.code, source)
    return RestoreResult(code=hospital.code, migrated=migrated)


class locked:
    """Make a hospital read-only for the block (every process notices within the routing cache's
    lifetime, so the block starts only after that), and writable again afterwards."""

    def __init__(self, hospital: Hospital, reason: str) -> None:
        self.hospital = hospital
        self.reason = reason

    def __enter__(self) -> Hospital:
        Hospital.objects.filter(pk=self.hospital.pk).update(locked_reason=self.reason)
        forget_cached_hospitals()
        stores.close_hospital_connections(self.hospital.code)
        time.sleep(settings.HOSPITIUM_TENANT_CACHE_SECONDS)
        self.hospital.refresh_from_db()
        return self.hospital

    def __exit__(self, *exc: object) -> None:
        Hospital.objects.filter(pk=self.hospital.pk).update(locked_reason="")
        forget_cached_hospitals()


def last_write_bound(hospital: Hospital) -> datetime | None:
    """A time after which the store has certainly not been written, if one is known.

    Archived stores refuse writes (the router, and the store itself: SQLite opens them read-only,
    PostgreSQL sessions are read-only), so the archive time bounds the last write.
    """
    return hospital.archived_at if hospital.status == Hospital.Status.ARCHIVED else None


def hospital_delete(*, code: str) -> HospitalBackup:
    """Delete an archived hospital whose latest backup is newer than its last write.

    Removes the store and the platform rows (hospital, domains, memberships); keeps every
    backup file and its record. Raises HospitalNotFound or DeleteRefused.
    """
    hospital = hospital_get(code)
    bound = last_write_bound(hospital)
    if bound is None:
        raise DeleteRefused(
            f"Hospital {hospital.code} is {hospital.status}; "
            "archive it, back it up, then delete it."
        )
    latest = hospital.backups.order_by("-created_at").first()
    if latest is None or latest.created_at <= bound:
        raise DeleteRefused(
            f"Hospital {hospital.code} has no backup made after it was archived; run "
            f"`hospitium hospitals backup {hospital.code} --to FILE` first."
        )
    if not Path(latest.path).is_file() or _sha256(Path(latest.path)) != latest.sha256:
        raise DeleteRefused(
            f"The latest backup of {hospital.code} ({latest.path}) is missing or damaged; "
            "make a new one first."
        )
    ref = hospital.as_ref()
    stores.close_hospital_connections(hospital.code)
    stores.store_for(ref).remove(ref)
    with transaction.atomic(durable=True):
        hospital.delete()
    forget_cached_hospitals()
    logger.info("deleted hospital %s; its backup %s is kept", code, latest.path)
    return latest
