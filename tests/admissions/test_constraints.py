"""The admission rules held by the database, on both stores: straight through the ORM (no
service) the write fails with IntegrityError, and two concurrent admissions to one bed end with
exactly one stay."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import IntegrityError, connections, transaction

from hospitium.admissions.models import Admission, Bed, Room
from hospitium.admissions.services import admission_admit
from hospitium.core.errors import Conflict
from hospitium.tenancy import stores
from hospitium.tenancy.context import hospital_context
from hospitium.tenancy.router import current_alias
from tests import factories
from tests.admissions import helpers

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)


@pytest.fixture
def ward_a(hospital_a):
    with hospital_context(hospital_a):
        ward = helpers.ward(name="North")
        beds = [helpers.bed(ward_=ward, room="101", label=label) for label in ("A", "B")]
        patients = [factories.patient() for _ in range(2)]
    return hospital_a, beds, patients


def _stay(patient, bed, start, end=None, **extra):
    return Admission.objects.create(
        patient=patient, bed=bed, admitted_at=start, discharged_at=end, **extra
    )


def test_two_open_stays_in_one_bed_are_refused(ward_a):
    hospital, (bed, _spare), (first, second) = ward_a
    with hospital_context(hospital):
        _stay(first, bed, T0)
        with pytest.raises(IntegrityError), transaction.atomic(using=current_alias(write=True)):
            _stay(second, bed, T0 + 5 * HOUR)
        assert Admission.objects.count() == 1


def test_a_stay_overlapping_a_discharged_one_is_refused_but_one_after_it_is_not(ward_a):
    hospital, (bed, _spare), (first, second) = ward_a
    with hospital_context(hospital):
        _stay(first, bed, T0, T0 + 4 * HOUR)
        alias = current_alias(write=True)
        with pytest.raises(IntegrityError), transaction.atomic(using=alias):
            _stay(second, bed, T0 + 3 * HOUR, T0 + 6 * HOUR)
        with pytest.raises(IntegrityError), transaction.atomic(using=alias):
            _stay(second, bed, T0 - HOUR)  # open-ended, runs into the first stay
        _stay(second, bed, T0 + 4 * HOUR)  # starts when the first ends
        assert Admission.objects.count() == 2


def test_a_patient_cannot_be_in_two_beds_at_once(ward_a):
    hospital, (bed, spare), (first, _second) = ward_a
    with hospital_context(hospital):
        _stay(first, bed, T0)
        with pytest.raises(IntegrityError), transaction.atomic(using=current_alias(write=True)):
            _stay(first, spare, T0 + HOUR)
        assert Admission.objects.count() == 1


def test_reopening_a_discharge_onto_a_later_stay_is_refused(ward_a):
    hospital, (bed, _spare), (first, second) = ward_a
    with hospital_context(hospital):
        early = _stay(first, bed, T0, T0 + HOUR)
        _stay(second, bed, T0 + 2 * HOUR)
        with pytest.raises(IntegrityError), transaction.atomic(using=current_alias(write=True)):
            Admission.objects.filter(pk=early.pk).update(discharged_at=None)
        assert Admission.objects.get(pk=early.pk).discharged_at == T0 + HOUR


def test_voided_stays_do_not_hold_the_bed_but_unvoiding_onto_a_clash_is_refused(ward_a):
    hospital, (bed, _spare), (first, second) = ward_a
    with hospital_context(hospital):
        voided = _stay(first, bed, T0, voided_at=T0, void_reason="Entered in error")
        _stay(second, bed, T0)
        with pytest.raises(IntegrityError), transaction.atomic(using=current_alias(write=True)):
            Admission.all_objects.filter(pk=voided.pk).update(voided_at=None, void_reason="")
        assert Admission.objects.count() == 1


def test_a_discharge_before_the_admission_and_a_void_without_reason_are_refused(ward_a):
    hospital, (bed, _spare), (first, _second) = ward_a
    with hospital_context(hospital):
        alias = current_alias(write=True)
        with pytest.raises(IntegrityError), transaction.atomic(using=alias):
            _stay(first, bed, T0, T0)
        with pytest.raises(IntegrityError), transaction.atomic(using=alias):
            _stay(first, bed, T0, T0 - HOUR)
        with pytest.raises(IntegrityError), transaction.atomic(using=alias):
            _stay(first, bed, T0, voided_at=T0)
        assert not Admission.all_objects.exists()


def test_bed_labels_are_unique_in_a_room_and_rooms_in_a_ward(ward_a):
    hospital, (bed, _spare), _patients = ward_a
    with hospital_context(hospital):
        alias = current_alias(write=True)
        with pytest.raises(IntegrityError), transaction.atomic(using=alias):
            Bed.objects.create(room=bed.room, label="A")
        with pytest.raises(IntegrityError), transaction.atomic(using=alias):
            Room.objects.create(ward=bed.room.ward, number="101")
        assert Bed.objects.count() == 2


def test_two_concurrent_admissions_to_one_bed_end_with_exactly_one(ward_a):
    hospital, (bed, _spare), patients = ward_a
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def attempt(patient) -> None:
        try:
            with hospital_context(hospital):
                barrier.wait(timeout=10)
                admission_admit(patient=patient, bed=bed, admitted_at=T0)
            outcomes.append("admitted")
        except Conflict as exc:
            outcomes.append("conflict" if "occupied" in exc.message else exc.message)
        finally:
            connections.close_all()
            stores.close_hospital_connections()

    threads = [threading.Thread(target=attempt, args=(p,)) for p in patients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["admitted", "conflict"]
    with hospital_context(hospital):
        assert Admission.objects.filter(bed=bed).count() == 1
