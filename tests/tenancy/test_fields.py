from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from hospitium.accounts.models import User
from hospitium.patients.models import Patient
from hospitium.staff.models import Practitioner
from hospitium.tenancy import fields as ref_fields
from hospitium.tenancy.context import hospital_context
from hospitium.tenancy.errors import InvalidPlatformReference
from tests import factories

pytestmark = pytest.mark.django_db

MISSING_USER_ID = 987_654


@pytest.fixture(autouse=True)
def _forget_known_users():
    ref_fields.forget_known("accounts.User")
    yield
    ref_fields.forget_known("accounts.User")


def test_a_reference_to_an_existing_user_is_stored_as_its_id(hospital_a, doctor_a):
    with hospital_context(hospital_a):
        practitioner = factories.practitioner(user=doctor_a)
        stored = Practitioner.objects.values_list("user_id", flat=True).get(pk=practitioner.pk)
    assert stored == doctor_a.pk


def test_a_reference_to_a_missing_user_is_refused_on_save(hospital_a):
    with hospital_context(hospital_a):
        with pytest.raises(InvalidPlatformReference) as info:
            factories.practitioner(user_id=MISSING_USER_ID)
        assert info.value.fields == {"user": [f"There is no user with id {MISSING_USER_ID}."]}
        assert Practitioner.objects.count() == 0


def test_a_reference_to_a_missing_user_is_refused_on_update_and_bulk_writes(hospital_a, doctor_a):
    with hospital_context(hospital_a):
        practitioner = factories.practitioner(user=doctor_a)
        with pytest.raises(InvalidPlatformReference):
            Practitioner.objects.filter(pk=practitioner.pk).update(user_id=MISSING_USER_ID)
        dept = practitioner.department
        with pytest.raises(InvalidPlatformReference):
            Practitioner.objects.bulk_create(
                [Practitioner(display_name="X", department=dept, user_id=MISSING_USER_ID)]
            )
        practitioner.user_id = MISSING_USER_ID
        with pytest.raises(InvalidPlatformReference):
            Practitioner.objects.bulk_update([practitioner], ["user"])
        assert list(Practitioner.objects.values_list("user_id", flat=True)) == [doctor_a.pk]


def test_full_clean_reports_a_missing_user_as_a_validation_error(hospital_a):
    with hospital_context(hospital_a):
        patient = Patient(mrn="M1", given_name="A", family_name="B", birth_date="2000-01-01")
        patient.registered_by_id = MISSING_USER_ID
        with pytest.raises(ValidationError) as info:
            patient.full_clean()
    assert "registered_by" in info.value.message_dict


def test_reading_resolves_the_user_once_and_caches_it(
    hospital_a, doctor_a, django_assert_num_queries
):
    with hospital_context(hospital_a):
        pk = factories.practitioner(user=doctor_a).pk
        practitioner = Practitioner.objects.get(pk=pk)
        with django_assert_num_queries(1, connection=connection):
            assert practitioner.user == doctor_a
            assert practitioner.user.email == doctor_a.email


def test_assigning_none_or_an_id_updates_the_reference(hospital_a, doctor_a, admin_a):
    with hospital_context(hospital_a):
        practitioner = factories.practitioner(user=doctor_a)
        practitioner.user = admin_a.pk
        assert practitioner.user_id == admin_a.pk
        assert practitioner.user == admin_a
        practitioner.user = None
        assert practitioner.user_id is None
        assert practitioner.user is None
        with pytest.raises(TypeError):
            practitioner.user = hospital_a


def test_a_dangling_reference_reads_as_none(hospital_a, outsider):
    with hospital_context(hospital_a):
        pk = factories.practitioner(user=outsider).pk
        User.objects.filter(pk=outsider.pk)._raw_delete("default")
        assert Practitioner.objects.get(pk=pk).user is None


def test_filtering_by_a_user_instance_or_id_works(hospital_a, doctor_a, admin_a):
    with hospital_context(hospital_a):
        factories.practitioner(user=doctor_a)
        factories.practitioner(user=admin_a)
        assert Practitioner.objects.filter(user=doctor_a).count() == 1
        assert Practitioner.objects.filter(user_id=admin_a.pk).count() == 1
