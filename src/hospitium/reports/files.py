"""Report files in Django storage (alias ``reports``): keys, writing, reading.

Keys are built from the hospital code and the report's id only — never from anything a user
typed — so a key can neither escape its hospital's prefix nor collide with another report.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any

from django.core.files import File
from django.core.files.storage import Storage, storages

from hospitium.reports.base import ReportData, ReportFormat
from hospitium.reports.errors import ReportStorageUnavailable

logger = logging.getLogger("hospitium.reports")

CHUNK = 64 * 1024


def reports_storage() -> Storage:
    return storages["reports"]


def storage_key(hospital_code: str, report_id: uuid.UUID | str, extension: str) -> str:
    """``reports/<code>/<uuid>.<ext>``: every part is validated, none comes from user input."""
    code = hospital_code.strip().upper()
    if not code.replace("_", "").isalnum() or not code.isascii():
        raise ValueError(f"not a hospital code: {hospital_code!r}")
    ext = extension.lstrip(".")
    if not ext.isalnum() or not ext.isascii():
        raise ValueError(f"not a file extension: {extension!r}")
    return f"reports/{code.lower()}/{uuid.UUID(str(report_id))}.{ext}"


@dataclass
class BuiltFile:
    """A report file written to a local temporary file (rewound), with what is recorded of it."""

    file: IO[bytes]
    size: int
    sha256: str
    row_count: int

    def close(self) -> None:
        self.file.close()


def write_report(
    fmt: ReportFormat, data: ReportData, progress: Callable[[float], None] | None = None
) -> BuiltFile:
    """Write ``data`` with ``fmt`` to an anonymous temporary file; hash it; rewind it."""
    out: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 - handed to the caller
    try:
        rows = fmt.write(data, out, progress)
        out.flush()
        out.seek(0)
        digest = hashlib.sha256()
        size = 0
        while chunk := out.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
        out.seek(0)
    except BaseException:
        out.close()
        raise
    return BuiltFile(file=out, size=size, sha256=digest.hexdigest(), row_count=int(rows or 0))


def store(key: str, built: BuiltFile) -> str:
    """Save the file under ``key`` (replacing an older one); return the name storage used.

    Raises ReportStorageUnavailable when storage refuses (missing bucket, refused credentials,
    full disk); the cause is logged.
    """
    storage = reports_storage()
    try:
        if storage.exists(key):
            storage.delete(key)
        built.file.seek(0)
        name = storage.save(key, File(built.file, name=key))
    except Exception as exc:
        logger.error("report storage refused to save %s: %r", key, exc)
        raise ReportStorageUnavailable() from exc
    finally:
        built.file.seek(0)
    return name


def delete(key: str) -> bool:
    """Delete a stored file; a missing file counts as deleted. False (logged) when storage
    refuses, so the caller can try again later."""
    if not key:
        return True
    try:
        reports_storage().delete(key)
    except FileNotFoundError:
        return True
    except Exception as exc:
        logger.warning("report storage refused to delete %s: %r", key, exc)
        return False
    return True


def open_checked(key: str, expected_size: int | None) -> Iterator[bytes]:
    """Open a stored file for streaming and read its first chunk now, so that a missing,
    truncated or unreadable file is found before a response starts (raises OSError or the
    storage's own error). Returns an iterator over the whole file's chunks."""
    storage = reports_storage()
    size = storage.size(key)
    if expected_size is not None and size != expected_size:
        raise OSError(f"{key} holds {size} bytes, {expected_size} were stored")
    handle: Any = storage.open(key, "rb")
    try:
        first = handle.read(CHUNK)
    except BaseException:
        handle.close()
        raise
    if expected_size and not first:
        handle.close()
        raise OSError(f"{key} reads as empty")
    return _chunks(handle, first)


def _chunks(handle: Any, first: bytes) -> Iterator[bytes]:
    try:
        yield first
        while chunk := handle.read(CHUNK):
            yield chunk
    finally:
        handle.close()


def local_chunks(built: BuiltFile) -> Iterator[bytes]:
    """Stream a locally built file, closing (and so deleting) it at the end."""
    try:
        built.file.seek(0)
        while chunk := built.file.read(CHUNK):
            yield chunk
    finally:
        built.close()
