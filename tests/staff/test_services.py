"""Departments and practitioners through their services: clear errors, nothing written."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError

from hospitium.core.errors import BusinessRuleViolation, Conflict, ValidationFailed
from hospitium.staff.models import Department, Practitioner
from hospitium.staff.selectors import department_list
from hospitium.staff.services import (
    department_create,
    department_delete,
    department_rename,
    practitioner_create,
    practitioner_update,
)
from hospitium.tenancy.context import hospital_context
from hospitium.tenancy.errors import InvalidPlatformReference
from hospitium.tenancy.router import current_alias
from tests import factories
from tests.staff.apihelp import audit_trail

pytestmark = pytest.mark.django_db


def test_a_department_is_created_renamed_and_deleted_with_audit_events(hospital_a):
    with hospital_context(hospital_a):
        department = department_create(name="  Cardiology ")
        assert department.name == "Cardiology"
        renamed = department_rename(department=department, name="Cardiac care")
        assert Department.objects.get().name == "Cardiac care"
        department_delete(department=renamed)
        assert not Department.objects.exists()
    actions = [e.action for e in audit_trail(hospital_a, "departments")]
    assert actions == ["create", "update", "delete"]


def test_a_department_name_is_required_and_unique(hospital_a):
    with hospital_context(hospital_a):
        department_create(name="Cardiology")
        with pytest.raises(ValidationFailed) as missing:
            department_create(name="   ")
        assert missing.value.fields == {"name": ["Required."]}
        with pytest.raises(Conflict, match="already a department called cardiology"):
            department_create(name="cardiology")
        other = department_create(name="Oncology")
        with pytest.raises(Conflict):
            department_rename(department=other, name="Cardiology")
        assert sorted(Department.objects.values_list("name", flat=True)) == [
            "Cardiology",
            "Oncology",
        ]


def test_a_department_with_practitioners_cannot_be_deleted(hospital_a):
    with hospital_context(hospital_a):
        department = department_create(name="Cardiology")
        factories.practitioner(department=department)
        factories.practitioner(department=department)
        with pytest.raises(BusinessRuleViolation, match="still has 2 practitioners; move them"):
            department_delete(department=department)
        assert Department.objects.filter(pk=department.pk).exists()
    assert [e.action for e in audit_trail(hospital_a, "departments")] == ["create"]


def test_the_database_protects_a_department_with_practitioners(hospital_a):
    with hospital_context(hospital_a):
        practitioner = factories.practitioner()
        with pytest.raises(ProtectedError):
            practitioner.department.delete()
        alias = current_alias(write=True)
        # Behind the ORM's back (a raw delete) the foreign key itself refuses.
        with pytest.raises(IntegrityError), transaction.atomic(using=alias):
            Department.objects.filter(pk=practitioner.department_id)._raw_delete(alias)
        assert Department.objects.count() == 1


def test_the_database_refuses_a_duplicate_department_name(hospital_a):
    with hospital_context(hospital_a):
        factories.department(name="Cardiology")
        with pytest.raises(IntegrityError), transaction.atomic(using=current_alias(write=True)):
            Department.objects.create(name="Cardiology")
        assert Department.objects.count() == 1


def test_a_practitioner_is_created_and_updated(hospital_a, doctor_a):
    with hospital_context(hospital_a):
        cardiology = department_create(name="Cardiology")
        oncology = department_create(name="Oncology")
        practitioner = practitioner_create(
            display_name=" Dr. Ada ",
            department=cardiology,
            kind="doctor",
            specialty="Cardiology",
            user_id=doctor_a.pk,
        )
        assert practitioner.display_name == "Dr. Ada"
        assert practitioner.user == doctor_a
        updated = practitioner_update(
            practitioner=practitioner, department=oncology, kind="nurse", user_id=None
        )
        fresh = Practitioner.objects.get(pk=updated.pk)
        assert (fresh.department, fresh.kind, fresh.user_id) == (oncology, "nurse", None)
        counts = {d.name: d.practitioner_count for d in department_list()}
        assert counts == {"Cardiology": 0, "Oncology": 1}
    assert [e.action for e in audit_trail(hospital_a, "practitioners")] == ["create", "update"]


def test_a_practitioner_needs_a_name_a_known_kind_and_an_existing_user(hospital_a):
    with hospital_context(hospital_a):
        department = department_create(name="Cardiology")
        with pytest.raises(ValidationFailed) as bad:
            practitioner_create(display_name=" ", department=department, kind="wizard")
        assert set(bad.value.fields) == {"display_name", "kind"}
        with pytest.raises(ValidationFailed, match="no platform user with id 999999") as ghost:
            practitioner_create(display_name="Dr. Ghost", department=department, user_id=999999)
        assert "user" in ghost.value.fields
        practitioner = practitioner_create(display_name="Dr. Real", department=department)
        with pytest.raises(ValidationFailed, match="cannot be changed here"):
            practitioner_update(practitioner=practitioner, id="x")
        with pytest.raises(ValidationFailed):
            practitioner_update(practitioner=practitioner, user_id=999999)
        assert Practitioner.objects.get().user_id is None
        assert Practitioner.objects.count() == 1


def test_the_database_refuses_an_unknown_kind_and_an_unknown_user(hospital_a):
    with hospital_context(hospital_a):
        department = factories.department()
        alias = current_alias(write=True)
        with pytest.raises(IntegrityError), transaction.atomic(using=alias):
            Practitioner.objects.create(display_name="X", department=department, kind="wizard")
        with pytest.raises(InvalidPlatformReference), transaction.atomic(using=alias):
            Practitioner.objects.create(display_name="X", department=department, user_id=999999)
        assert not Practitioner.objects.exists()
