from __future__ import annotations

import uuid
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction

from hospitium.accounts.models import User
from hospitium.accounts.services import user_delete
from hospitium.core.errors import BusinessRuleViolation
from hospitium.patients.models import Patient
from hospitium.staff.models import Practitioner
from hospitium.tenancy.context import hospital_context
from hospitium.tenancy.errors import HospitalNotFound, ProtectedByHospitals
from hospitium.tenancy.integrity import integrity_check
from hospitium.tenancy.provisioning import hospital_archive
from tests import factories
from tests.storehelp import on_postgres, raw_execute, remove_store_behind_our_back

pytestmark = pytest.mark.django_db


DEPT = uuid.UUID(int=1)
GHOST = uuid.UUID(int=2)


def _uuid(value: uuid.UUID | str) -> str:
    # Django stores UUIDs as 32 hex digits on SQLite and as the native type on PostgreSQL.
    return str(value) if on_postgres() else uuid.UUID(str(value)).hex


def plant_orphan(code: str, user_id: int) -> None:
    """Write a practitioner pointing at a user id by hand, as a buggy script would."""
    now = "2026-01-01 00:00:00+00"
    raw_execute(
        code,
        "insert into staff_department (id, name, created_at, updated_at) values (%s, 'Dept', %s, %s)",
        (_uuid(DEPT), now, now),
    )
    raw_execute(
        code,
        "insert into staff_practitioner (id, display_name, kind, specialty, department_id, user_id,"
        " created_at, updated_at) values (%s, 'Ghost', 'doctor', '', %s, %s, %s, %s)",
        (_uuid(GHOST), _uuid(DEPT), user_id, now, now),
    )


def test_a_clean_platform_has_no_findings(hospital_a, hospital_b, doctor_a):
    with hospital_context(hospital_a):
        factories.practitioner(user=doctor_a)
    assert integrity_check() == []


def test_an_orphan_planted_by_hand_is_found(hospital_a, hospital_b):
    plant_orphan("BRAVO", 424242)
    findings = integrity_check()
    assert [(f.store, f.kind, f.table, f.row) for f in findings] == [
        ("BRAVO", "orphaned_reference", "staff_practitioner", str(GHOST))
    ]
    assert "424242" in findings[0].detail
    assert integrity_check(code="ALPHA") == []


@pytest.mark.sqlite_only
def test_a_foreign_key_violation_planted_by_hand_is_found(hospital_a):
    # Behind Django's back, with SQLite's foreign keys off for that one connection.
    raw_execute(
        "ALPHA",
        "insert into staff_practitioner (id, display_name, kind, specialty, department_id, user_id,"
        " created_at, updated_at) values (%s, 'Lost', 'doctor', '', %s, null, 0, 0)",
        (GHOST.hex, DEPT.hex),
    )
    findings = integrity_check(code="alpha")
    assert [(f.store, f.kind, f.table) for f in findings] == [
        ("ALPHA", "foreign_key_violation", "staff_practitioner")
    ]


@pytest.mark.postgresql_only
def test_postgresql_refuses_a_foreign_key_violation_even_behind_djangos_back(hospital_a):
    import psycopg

    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        raw_execute(
            "ALPHA",
            "insert into staff_practitioner (id, display_name, kind, specialty, department_id,"
            " user_id, created_at, updated_at) values (%s, 'Lost', 'doctor', '', %s, null, now(), now())",
            (str(GHOST), str(DEPT)),
        )


def test_an_unopenable_store_is_reported(hospital_a):
    remove_store_behind_our_back("ALPHA")
    findings = integrity_check()
    assert [(f.store, f.kind) for f in findings] == [("ALPHA", "store_unavailable")]


def test_checking_an_unknown_hospital_is_a_clear_error(db):
    with pytest.raises(HospitalNotFound):
        integrity_check(code="NOPE")


def test_the_command_exits_1_and_lists_findings(hospital_a):
    plant_orphan("ALPHA", 31337)
    out = StringIO()
    with pytest.raises(CommandError) as info:
        call_command("integrity", "check", "--json", stdout=out)
    assert info.value.returncode == 1
    assert '"orphaned_reference"' in out.getvalue() and '"ok": false' in out.getvalue()


def test_the_command_exits_0_on_a_clean_platform(hospital_a):
    out = StringIO()
    call_command("integrity", "check", "--hospital", "ALPHA", stdout=out)
    assert "no problems found" in out.getvalue()


def test_deleting_a_user_who_registered_patients_is_refused_naming_the_hospitals(
    hospital_a, hospital_b, doctor_a
):
    with hospital_context(hospital_b):
        factories.patient(registered_by=doctor_a)
        factories.patient(registered_by=doctor_a)
    with pytest.raises(ProtectedByHospitals) as info:
        user_delete(user=doctor_a)
    assert "BRAVO (2 patients)" in info.value.message
    assert "ALPHA" not in info.value.message
    assert User.objects.filter(pk=doctor_a.pk).exists()


def test_deleting_a_user_clears_set_null_references_in_every_hospital(
    hospital_a, hospital_b, doctor_a
):
    with hospital_context(hospital_a):
        in_a = factories.practitioner(user=doctor_a).pk
    with hospital_context(hospital_b):
        in_b = factories.practitioner(user=doctor_a).pk
    hospital_archive(code="BRAVO")  # archived stores keep their integrity too
    user_delete(user=doctor_a)
    assert not User.objects.filter(pk=doctor_a.pk).exists()
    with hospital_context("ALPHA"):
        assert Practitioner.objects.get(pk=in_a).user_id is None
    with hospital_context("BRAVO"):
        assert Practitioner.objects.get(pk=in_b).user_id is None
    assert integrity_check() == []


def test_deleting_a_user_directly_is_refused(outsider):
    # In a request the delete's own transaction is the outermost one; here a savepoint stands in.
    with pytest.raises(BusinessRuleViolation, match="integrity service"), transaction.atomic():
        outsider.delete()
    assert User.objects.filter(pk=outsider.pk).exists()


def test_a_user_with_no_references_is_deleted(hospital_a, outsider):
    with hospital_context(hospital_a):
        assert Patient.objects.count() == 0
    user_delete(user=outsider)
    assert not User.objects.filter(pk=outsider.pk).exists()
