from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from hospitium.accounts.models import Membership
from hospitium.patients.models import Patient
from hospitium.staff.models import Department, Practitioner
from hospitium.tenancy import stores
from hospitium.tenancy.backups import (
    hospital_backup,
    hospital_delete,
    hospital_restore,
    manifest_path,
)
from hospitium.tenancy.context import hospital_context
from hospitium.tenancy.errors import BackupInvalid, DeleteRefused
from hospitium.tenancy.models import Domain, Hospital, HospitalBackup
from hospitium.tenancy.provisioning import hospital_archive
from tests import factories
from tests.storehelp import existing_stores

pytestmark = pytest.mark.django_db


def snapshot(code: str) -> dict[str, list[tuple]]:
    """Every row of every hospital table, in a stable order."""
    with hospital_context(code):
        return {
            "patients": sorted(
                Patient.objects.values_list(
                    "id",
                    "mrn",
                    "given_name",
                    "family_name",
                    "birth_date",
                    "sex",
                    "status",
                    "registered_by_id",
                    "created_at",
                )
            ),
            "departments": sorted(Department.objects.values_list("id", "name", "created_at")),
            "practitioners": sorted(
                Practitioner.objects.values_list("id", "display_name", "department_id", "user_id")
            ),
        }


@pytest.fixture
def filled_a(hospital_a, doctor_a):
    with hospital_context(hospital_a):
        for n in range(5):
            factories.patient(given_name=f"Zoë {n}", registered_by=doctor_a)
        factories.practitioner(user=doctor_a)
    return hospital_a


def test_a_backup_and_restore_round_trip_reproduces_identical_data(filled_a, tmp_path):
    before = snapshot("ALPHA")
    backup = hospital_backup(code="ALPHA", target=tmp_path / "alpha.backup")
    assert backup.size > 0 and len(backup.sha256) == 64
    manifest = json.loads(manifest_path(tmp_path / "alpha.backup").read_text())
    assert (manifest["code"], manifest["kind"]) == (
        "ALPHA",
        stores.store_for(filled_a.as_ref()).kind,
    )

    with hospital_context("ALPHA"):
        Patient.objects.filter(given_name="Zoë 0").delete()
        factories.patient(mrn="AFTER-BACKUP")
        Practitioner.objects.update(display_name="changed")
    assert snapshot("ALPHA") != before

    hospital_restore(code="ALPHA", source=tmp_path / "alpha.backup")
    assert snapshot("ALPHA") == before
    with hospital_context("ALPHA"):
        factories.patient(mrn="STILL-WRITABLE")


def test_a_backup_never_overwrites_a_file(filled_a, tmp_path):
    target = tmp_path / "taken"
    target.write_text("precious")
    with pytest.raises(BackupInvalid, match="already exists"):
        hospital_backup(code="ALPHA", target=target)
    assert target.read_text() == "precious"
    with pytest.raises(BackupInvalid, match="does not exist"):
        hospital_backup(code="ALPHA", target=tmp_path / "nowhere" / "x.backup")


def test_restoring_another_hospitals_backup_is_refused(filled_a, hospital_b, tmp_path):
    hospital_backup(code="ALPHA", target=tmp_path / "alpha.backup")
    before = snapshot("BRAVO")
    with pytest.raises(BackupInvalid, match="backup of hospital ALPHA, not BRAVO"):
        hospital_restore(code="BRAVO", source=tmp_path / "alpha.backup")
    assert snapshot("BRAVO") == before


def test_a_damaged_or_unmanifested_backup_is_refused_and_changes_nothing(filled_a, tmp_path):
    source = tmp_path / "alpha.backup"
    hospital_backup(code="ALPHA", target=source)
    before = snapshot("ALPHA")
    with source.open("r+b") as handle:
        handle.seek(200)
        handle.write(b"\x00garbage\x00")
    with pytest.raises(BackupInvalid, match="damaged"):
        hospital_restore(code="ALPHA", source=source)
    manifest_path(source).unlink()
    with pytest.raises(BackupInvalid, match="no manifest"):
        hospital_restore(code="ALPHA", source=source)
    with pytest.raises(BackupInvalid, match="no backup file"):
        hospital_restore(code="ALPHA", source=tmp_path / "missing")
    assert snapshot("ALPHA") == before
    assert Hospital.objects.get(code="ALPHA").locked_reason == ""


def test_delete_is_refused_until_archived_and_backed_up_after_the_archive(filled_a, tmp_path):
    with pytest.raises(DeleteRefused, match="archive it"):
        hospital_delete(code="ALPHA")
    hospital_backup(code="ALPHA", target=tmp_path / "before-archive.backup")
    hospital_archive(code="ALPHA")
    with pytest.raises(DeleteRefused, match="no backup made after it was archived"):
        hospital_delete(code="ALPHA")
    assert Hospital.objects.filter(code="ALPHA").exists()


def test_delete_removes_the_store_and_platform_rows_and_keeps_the_backup(
    filled_a, hospital_b, tmp_path
):
    hospital_archive(code="ALPHA")
    backup = hospital_backup(code="ALPHA", target=tmp_path / "final.backup")
    kept = hospital_delete(code="ALPHA")
    assert kept.pk == backup.pk
    assert not Hospital.objects.filter(code="ALPHA").exists()
    assert not Domain.objects.filter(host="alpha.example.test").exists()
    assert not Membership.objects.filter(hospital__code="ALPHA").exists()
    assert [s for s in existing_stores() if "alpha" in s.lower()] == []
    record = HospitalBackup.objects.get(pk=backup.pk)
    assert (record.code, record.hospital_id) == ("ALPHA", None)
    assert Path(record.path).is_file()
    assert snapshot("BRAVO") is not None  # the other hospital is untouched


def test_delete_refuses_when_the_backup_file_went_missing(filled_a, tmp_path):
    hospital_archive(code="ALPHA")
    backup = hospital_backup(code="ALPHA", target=tmp_path / "final.backup")
    Path(backup.path).unlink()
    with pytest.raises(DeleteRefused, match="missing or damaged"):
        hospital_delete(code="ALPHA")
    assert Hospital.objects.filter(code="ALPHA").exists()


def test_the_commands_back_up_restore_and_delete(filled_a, tmp_path):
    out = StringIO()
    call_command("hospitals", "backup", "ALPHA", "--to", str(tmp_path / "a.backup"), stdout=out)
    assert "backed up hospital ALPHA" in out.getvalue()
    call_command("hospitals", "restore", "ALPHA", "--from", str(tmp_path / "a.backup"), stdout=out)
    assert "restored hospital ALPHA" in out.getvalue()
    with pytest.raises(CommandError, match="archive it") as info:
        call_command("hospitals", "delete", "ALPHA", stdout=out)
    assert info.value.returncode == 1
    call_command("hospitals", "archive", "ALPHA", stdout=out)
    call_command("hospitals", "backup", "ALPHA", "--to", str(tmp_path / "b.backup"), stdout=out)
    call_command("hospitals", "delete", "ALPHA", stdout=out)
    assert "its backup is kept at" in out.getvalue()
