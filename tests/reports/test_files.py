"""Report files on the local file system: written in a staging folder beside the stored reports
and moved into place (not copied) when stored; nothing half-written stays behind."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from pathlib import Path
from typing import IO, Any

import pytest
from django.core.files.storage import FileSystemStorage
from django.utils import timezone

from hospitium.reports import files
from hospitium.reports.base import ReportData, ReportFormat
from hospitium.reports.formats.csv import FORMAT as CSV
from tests.reports.test_formats import make_report


@pytest.fixture
def local_reports(settings: Any, tmp_path: Path) -> Path:
    """The reports storage on a file system folder of the test's own."""
    root = tmp_path / "media"
    settings.STORAGES = {
        **settings.STORAGES,
        "reports": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(root)},
        },
    }
    return root


def _data() -> ReportData:
    """A report with figures, a table, charts and a listing (what the format tests write)."""
    return make_report()


def _staged(root: Path) -> list[str]:
    folder = root / files.STAGING
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_a_report_file_is_written_beside_the_reports_and_moved_into_place(
    local_reports: Path,
) -> None:
    built = files.write_report(CSV, _data())
    assert built.path is not None
    assert _staged(local_reports) == [Path(built.path).name]
    inode = Path(built.path).stat().st_ino
    body = built.file.read()
    built.file.seek(0)
    assert hashlib.sha256(body).hexdigest() == built.sha256 and len(body) == built.size
    name = files.store("reports/alpha/0b8c7c2e-67c4-4f4e-9f0c-1a2b3c4d5e6f.csv", built)
    stored = local_reports / name
    assert stored.read_bytes() == body
    assert stored.stat().st_ino == inode  # moved, not copied
    assert oct(stored.stat().st_mode & 0o777) == oct(0o644)  # as a copied file would be
    assert _staged(local_reports) == []
    assert built.file.read() == body  # still readable, as a regenerated download reads it
    built.close()
    assert stored.read_bytes() == body  # closing the built file leaves the stored one


def test_a_staged_file_stored_twice_is_copied_the_second_time(local_reports: Path) -> None:
    built = files.write_report(CSV, _data())
    first = files.store("reports/alpha/first.csv", built)
    second = files.store("reports/alpha/second.csv", built)
    built.close()
    assert (local_reports / first).read_bytes() == (local_reports / second).read_bytes() != b""


class _Failing(ReportFormat):
    key = "csv"
    extension = "csv"
    content_type = "text/csv"

    def write(self, data: ReportData, out: IO[bytes], progress: Any = None) -> int:
        out.write(b"half a file")
        raise RuntimeError("the template broke")


def test_a_report_that_fails_while_written_leaves_no_staged_file(local_reports: Path) -> None:
    with pytest.raises(RuntimeError, match="broke"):
        files.write_report(_Failing(), _data())
    assert _staged(local_reports) == []


def test_a_built_file_never_stored_is_removed_when_closed(local_reports: Path) -> None:
    built = files.write_report(CSV, _data())
    built.close()
    built.close()  # idempotent
    assert _staged(local_reports) == []


def test_staged_files_a_killed_worker_left_are_swept_after_a_day(local_reports: Path) -> None:
    folder = Path(files.staging_directory() or "")
    old, recent = folder / "partial-old.tmp", folder / "partial-new.tmp"
    for path in (old, recent):
        path.write_bytes(b"half")
    day_ago = (timezone.now() - dt.timedelta(hours=25)).timestamp()
    os.utime(old, (day_ago, day_ago))
    assert files.sweep_staging() == 1
    assert _staged(local_reports) == ["partial-new.tmp"]
    later = timezone.now() + dt.timedelta(hours=25)
    assert files.sweep_staging(now=later) == 1
    assert _staged(local_reports) == []


def test_other_storages_get_an_anonymous_file_copied_when_stored(settings: Any) -> None:
    settings.STORAGES = {
        **settings.STORAGES,
        "reports": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    }
    assert not isinstance(files.reports_storage(), FileSystemStorage)
    assert files.staging_directory() is None
    built = files.write_report(CSV, _data())
    assert built.path is None
    name = files.store("reports/alpha/in-memory.csv", built)
    with files.reports_storage().open(name, "rb") as stored:
        assert hashlib.sha256(stored.read()).hexdigest() == built.sha256
    built.close()


@pytest.mark.parametrize("key", ["csv", "xlsx", "pdf", "json"])
def test_every_formats_file_is_recorded_with_its_own_hash_and_size(
    local_reports: Path, key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Hashed while written when the writer writes in order (CSV, JSON), else read again
    (Excel's zip patches its headers): either way the hash and size are the file's."""
    from hospitium.reports import registry

    seen: list[files._HashingFile] = []

    class Spy(files._HashingFile):
        def __init__(self, file: IO[bytes]) -> None:
            super().__init__(file)
            seen.append(self)

    monkeypatch.setattr(files, "_HashingFile", Spy)
    built = files.write_report(registry.formats()[key], _data())
    try:
        body = built.file.read()
        assert built.file.tell() == len(body) == built.size > 0
        assert hashlib.sha256(body).hexdigest() == built.sha256
    finally:
        built.close()
    if key in ("csv", "json"):
        assert seen[0].in_order


def test_the_hash_follows_writes_in_order_and_gives_up_on_a_seek_back(tmp_path: Path) -> None:
    with (tmp_path / "f").open("w+b") as raw:
        hashing = files._HashingFile(raw)
        hashing.write(b"abc")
        hashing.write(memoryview(b"defgh")[1:4])
        assert hashing.seek(0, os.SEEK_END) == 6  # to the end: still in order
        assert hashing.in_order and hashing.size == 6
        assert hashing.digest.hexdigest() == hashlib.sha256(b"abcefg").hexdigest()
        hashing.seek(1)
        hashing.write(b"X")
        assert not hashing.in_order


def test_a_storage_folder_that_cannot_be_written_fails_at_storing_not_writing(
    local_reports: Path,
) -> None:
    """The staging folder cannot be made (a file is where the storage's folder should be): the
    report is written to an anonymous file, and storing it says the storage refused."""
    from hospitium.reports.errors import ReportStorageUnavailable

    local_reports.parent.mkdir(parents=True, exist_ok=True)
    local_reports.write_bytes(b"not a folder")
    built = files.write_report(CSV, _data())
    try:
        assert built.path is None and built.size > 0
        with pytest.raises(ReportStorageUnavailable):
            files.store("reports/alpha/refused.csv", built)
    finally:
        built.close()
