from __future__ import annotations

import pytest
from django.db import connections

from hospitium.patients.models import Patient
from hospitium.tenancy import stores
from hospitium.tenancy.context import hospital_context
from hospitium.tenancy.errors import HospitalMismatch, NoHospitalSelected
from hospitium.tenancy.router import HospitalRouter, hospital_app_labels
from tests import factories
from tests.storehelp import raw_execute

pytestmark = pytest.mark.django_db


def test_reading_a_hospital_model_without_a_hospital_raises():
    with pytest.raises(NoHospitalSelected):
        list(Patient.objects.all())


def test_counting_and_getting_without_a_hospital_raise():
    with pytest.raises(NoHospitalSelected):
        Patient.objects.count()
    with pytest.raises(NoHospitalSelected):
        Patient.objects.filter(mrn="X").exists()


def test_writing_a_hospital_model_without_a_hospital_raises(hospital_a):
    with pytest.raises(NoHospitalSelected):
        factories.patient()
    with hospital_context(hospital_a):
        assert Patient.objects.count() == 0


def test_rows_written_in_a_hospital_land_in_its_own_store_only(hospital_a, hospital_b):
    with hospital_context(hospital_a):
        created = factories.patient(mrn="A-1")
        assert created._state.db == stores.alias_for(hospital_a.as_ref())
    with hospital_context(hospital_b):
        assert Patient.objects.count() == 0
        assert not Patient.objects.filter(pk=created.pk).exists()
    assert raw_execute("ALPHA", "select mrn from patients_patient") == [("A-1",)]
    assert raw_execute("BRAVO", "select count(*) from patients_patient") == [(0,)]


def test_hospital_b_cannot_update_or_delete_hospital_a_rows_by_id(hospital_a, hospital_b):
    with hospital_context(hospital_a):
        created = factories.patient(mrn="A-1", given_name="Ada")
    with hospital_context(hospital_b):
        assert Patient.objects.filter(pk=created.pk).update(given_name="Mallory") == 0
        deleted, _ = Patient.objects.filter(pk=created.pk).delete()
        assert deleted == 0
    with hospital_context(hospital_a):
        assert Patient.objects.get(pk=created.pk).given_name == "Ada"


def test_a_row_loaded_in_one_hospital_cannot_be_saved_into_another(hospital_a, hospital_b):
    with hospital_context(hospital_a):
        created = factories.patient()
    with hospital_context(hospital_b), pytest.raises(HospitalMismatch):
        created.save()


def test_a_related_object_of_another_hospital_cannot_be_followed(hospital_a, hospital_b):
    from hospitium.staff.models import Practitioner

    with hospital_context(hospital_a):
        practitioner = Practitioner.objects.get(pk=factories.practitioner().pk)
    with hospital_context(hospital_b), pytest.raises(HospitalMismatch):
        _ = practitioner.department


def test_platform_store_has_no_hospital_tables_and_hospital_store_no_platform_tables(hospital_a):
    platform_tables = connections["default"].introspection.table_names()
    assert "patients_patient" not in platform_tables
    assert "staff_practitioner" not in platform_tables
    with hospital_context(hospital_a):
        alias = stores.alias_for(hospital_a.as_ref())
        tables = set(connections[alias].introspection.table_names())
        applied = {
            app
            for (app,) in connections[alias]
            .cursor()
            .execute("select distinct app from django_migrations")
        }
    assert {"patients_patient", "staff_department", "staff_practitioner"} <= tables
    assert not {
        t for t in tables if t.startswith(("auth_", "django_content_type", "accounts_", "tenancy_"))
    }
    assert applied == hospital_app_labels() >= {"patients", "staff", "scheduling", "audit"}


def test_allow_migrate_keeps_platform_and_hospital_apps_apart():
    router = HospitalRouter()
    assert router.allow_migrate("default", "accounts")
    assert not router.allow_migrate("default", "patients")
    assert router.allow_migrate("hospital:ALPHA", "patients")
    assert not router.allow_migrate("hospital:ALPHA", "accounts")
    assert not router.allow_migrate("hospital:ALPHA", "contenttypes")


def test_platform_models_route_to_the_platform_store_inside_a_hospital_context(
    hospital_a, outsider
):
    from hospitium.accounts.models import User

    with hospital_context(hospital_a):
        assert User.objects.filter(pk=outsider.pk).exists()
        assert User.objects.all().db == "default"
