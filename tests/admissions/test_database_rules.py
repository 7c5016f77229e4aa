"""Admitting only to a bed in use is the database's rule too (both stores); and the SQLite
no-overlap triggers for beds and patients find clashes with index seeks."""

from __future__ import annotations

import datetime as dt

import pytest

from hospitium.admissions import services
from hospitium.admissions.models import Admission, Bed
from hospitium.admissions.services import admission_admit, admission_transfer
from hospitium.tenancy.context import hospital_context
from tests import factories
from tests.admissions import helpers
from tests.rulehelp import (
    refused_by_database,
    same_error_from_the_database,
    sqlite_trigger_plan,
)

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)


@pytest.fixture
def ward(hospital_a):
    with hospital_context(hospital_a):
        ward = helpers.ward()
        in_use = helpers.bed(ward_=ward)
        out_of_use = helpers.bed(ward_=ward)
        Bed.objects.filter(pk=out_of_use.pk).update(is_active=False)
        out_of_use.refresh_from_db()
        patient = factories.patient()
    return hospital_a, in_use, out_of_use, patient


def test_a_stay_in_a_bed_out_of_use_is_refused_straight_through_the_orm(ward):
    hospital, in_use, out_of_use, patient = ward
    with hospital_context(hospital):
        refused_by_database(
            "admission_bed_in_use",
            lambda: Admission.objects.create(patient=patient, bed=out_of_use, admitted_at=T0),
        )
        stay = Admission.objects.create(patient=patient, bed=in_use, admitted_at=T0)
        refused_by_database(
            "admission_bed_in_use",
            lambda: Admission.objects.filter(pk=stay.pk).update(bed=out_of_use),
        )
        # A stay already in a bed that goes out of use later can still be discharged.
        Admission.objects.filter(pk=stay.pk).update(discharged_at=T0 + HOUR)
        Bed.objects.filter(pk=in_use.pk).update(is_active=False)
        Admission.objects.filter(pk=stay.pk).update(reason="noted later")
        assert list(Admission.objects.values_list("bed_id", flat=True)) == [in_use.pk]


def test_the_database_refusal_reaches_the_user_as_the_service_error(ward, monkeypatch):
    hospital, in_use, out_of_use, patient = ward
    with hospital_context(hospital):
        same_error_from_the_database(
            monkeypatch,
            lambda: admission_admit(patient=patient, bed=out_of_use, admitted_at=T0),
            skip=[(services, "_refuse_out_of_use")],
            rule="admission_bed_in_use",
        )
        stay = admission_admit(patient=patient, bed=in_use, admitted_at=T0)
        same_error_from_the_database(
            monkeypatch,
            lambda: admission_transfer(admission=stay, bed=out_of_use, at=T0 + HOUR),
            skip=[(services, "_refuse_out_of_use")],
            rule="admission_bed_in_use",
        )
        assert Admission.objects.get().discharged_at is None


@pytest.mark.sqlite_only
@pytest.mark.parametrize(
    ("trigger", "index"),
    [
        ("admission_bed_not_double_occupied_insert", "admission_bed_discharged"),
        ("admission_bed_not_double_occupied_update", "admission_bed_discharged"),
        ("admission_patient_in_one_bed_insert", "admission_patient_discharged"),
    ],
)
def test_the_sqlite_no_overlap_triggers_seek_by_end(ward, trigger, index):
    hospital, in_use, _out_of_use, patient = ward
    with hospital_context(hospital):
        stay = Admission.objects.create(patient=patient, bed=in_use, admitted_at=T0)
        plans = sqlite_trigger_plan(trigger, stay)
    assert sum(index in step for step in plans) == 2, plans  # ended after, and not ended
    assert not any(step.startswith("SCAN") and "CONSTANT ROW" not in step for step in plans)
