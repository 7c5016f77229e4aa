"""Wards, beds and admissions through their services: clear errors and nothing written."""

from __future__ import annotations

import datetime as dt

import pytest

from hospitium.admissions.models import Admission, Bed, Room, Ward
from hospitium.admissions.selectors import bed_list, bed_occupant_at, ward_list
from hospitium.admissions.services import (
    admission_admit,
    admission_discharge,
    admission_transfer,
    admission_void,
    bed_create,
    bed_deactivate,
    bed_set_active,
    ward_create,
    ward_delete,
)
from hospitium.core.errors import BusinessRuleViolation, Conflict, ValidationFailed
from hospitium.tenancy.context import hospital_context
from tests import factories
from tests.admissions import helpers
from tests.staff.apihelp import audit_trail

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)


@pytest.fixture
def ward_a(hospital_a):
    with hospital_context(hospital_a):
        ward = helpers.ward(name="North")
        beds = [helpers.bed(ward_=ward, room="101", label=label) for label in ("A", "B")]
        patients = [factories.patient(family_name=name) for name in ("Curie", "Noether")]
    return hospital_a, ward, beds, patients


def test_wards_and_beds_are_created_with_rooms_as_needed(hospital_a):
    with hospital_context(hospital_a):
        ward = ward_create(name=" East ")
        first = bed_create(ward=ward, room_number="12", label="A")
        second = bed_create(ward=ward, room_number="12", label="B")
        third = bed_create(ward=ward, room_number="14", label="A")
        assert first.room == second.room != third.room
        assert Room.objects.count() == 2
        with pytest.raises(Conflict, match="Room 12 of East already has a bed A"):
            bed_create(ward=ward, room_number="12", label="A")
        with pytest.raises(ValidationFailed):
            bed_create(ward=ward, room_number=" ", label="C")
        with pytest.raises(Conflict, match="already a ward called east"):
            ward_create(name="east")
        assert Bed.objects.count() == 3
        assert Ward.objects.count() == 1
        with pytest.raises(BusinessRuleViolation, match="still has rooms"):
            ward_delete(ward=ward)
    assert [e.action for e in audit_trail(hospital_a, "beds")] == ["create"] * 3
    assert [e.action for e in audit_trail(hospital_a, "wards")] == ["create"]


def test_an_admission_occupies_the_bed_until_discharge_not_before(ward_a):
    hospital, _ward, (bed, _spare), (curie, noether) = ward_a
    with hospital_context(hospital):
        stay = admission_admit(patient=curie, bed=bed, admitted_at=T0, reason="Observation")
        assert bed_occupant_at(bed, T0 + HOUR) == stay
        assert bed_occupant_at(bed, T0 - HOUR) is None
        admission_discharge(admission=stay, discharged_at=T0 + 5 * HOUR)
        # Freed at the discharge time, not before: still held just before it.
        assert bed_occupant_at(bed, T0 + 4 * HOUR) == stay
        assert bed_occupant_at(bed, T0 + 5 * HOUR) is None
        with pytest.raises(Conflict, match="occupied by Curie"):
            admission_admit(patient=noether, bed=bed, admitted_at=T0 + 4 * HOUR)
        after = admission_admit(patient=noether, bed=bed, admitted_at=T0 + 5 * HOUR)
        assert Admission.objects.count() == 2
        assert after.admitted_at == T0 + 5 * HOUR
    events = audit_trail(hospital, "admissions")
    assert [e.action for e in events] == ["create", "update", "create"]


def test_an_occupied_bed_is_refused_naming_who_is_in_it(ward_a):
    hospital, _ward, (bed, _spare), (curie, noether) = ward_a
    with hospital_context(hospital):
        admission_admit(patient=curie, bed=bed, admitted_at=T0)
        with pytest.raises(Conflict) as refused:
            admission_admit(patient=noether, bed=bed, admitted_at=T0 + HOUR)
        assert f"{bed} is occupied by {curie} from 2026-11-23 09:00" in refused.value.message
        assert refused.value.fields == {"bed": ["The bed is occupied at that time."]}
        # An admission that starts earlier and never ends would run into Curie's stay too.
        with pytest.raises(Conflict, match="occupied by"):
            admission_admit(patient=noether, bed=bed, admitted_at=T0 - HOUR)
        assert Admission.objects.count() == 1


def test_a_patient_cannot_be_admitted_twice(ward_a):
    hospital, _ward, (bed, spare), (curie, _noether) = ward_a
    with hospital_context(hospital):
        admission_admit(patient=curie, bed=bed, admitted_at=T0)
        with pytest.raises(Conflict, match="already admitted to North 101 bed A") as refused:
            admission_admit(patient=curie, bed=spare, admitted_at=T0 + HOUR)
        assert "patient" in refused.value.fields
        assert Admission.objects.count() == 1


def test_an_inactive_bed_takes_no_admissions_and_an_occupied_one_stays_active(ward_a):
    hospital, _ward, (bed, spare), (curie, noether) = ward_a
    with hospital_context(hospital):
        admission_admit(patient=curie, bed=bed, admitted_at=T0)
        with pytest.raises(BusinessRuleViolation, match="occupied by Curie"):
            bed_deactivate(bed=bed)
        assert Bed.objects.get(pk=bed.pk).is_active
        bed_deactivate(bed=spare)
        with pytest.raises(BusinessRuleViolation, match="out of use"):
            admission_admit(patient=noether, bed=spare, admitted_at=T0)
        assert Admission.objects.count() == 1
        bed_set_active(bed=spare, active=True)
        admission_admit(patient=noether, bed=spare, admitted_at=T0)
    assert [e.detail for e in audit_trail(hospital, "beds")] == [
        {"is_active": False},
        {"is_active": True},
    ]


def test_a_discharge_must_come_after_the_admission_and_only_once(ward_a):
    hospital, _ward, (bed, _spare), (curie, _noether) = ward_a
    with hospital_context(hospital):
        stay = admission_admit(patient=curie, bed=bed, admitted_at=T0)
        for when in (T0, T0 - HOUR):
            with pytest.raises(ValidationFailed, match="must come after the admission"):
                admission_discharge(admission=stay, discharged_at=when)
        with pytest.raises(ValidationFailed, match="time zone"):
            admission_discharge(admission=stay, discharged_at=dt.datetime(2026, 11, 24))
        assert Admission.objects.get().discharged_at is None
        admission_discharge(admission=stay, discharged_at=T0 + HOUR)
        with pytest.raises(BusinessRuleViolation, match="already discharged"):
            admission_discharge(admission=stay, discharged_at=T0 + 2 * HOUR)
        assert Admission.objects.get().discharged_at == T0 + HOUR


def test_a_transfer_ends_one_stay_and_starts_the_next_at_the_same_instant(ward_a):
    hospital, _ward, (bed, spare), (curie, _noether) = ward_a
    with hospital_context(hospital):
        stay = admission_admit(patient=curie, bed=bed, admitted_at=T0, reason="Surgery")
        moved = admission_transfer(admission=stay, bed=spare, at=T0 + 3 * HOUR)
        old = Admission.objects.get(pk=stay.pk)
        assert old.discharged_at == moved.admitted_at == T0 + 3 * HOUR
        assert (moved.bed, moved.patient, moved.reason) == (spare, curie, "Surgery")
        assert bed_occupant_at(bed, T0 + 3 * HOUR) is None
        assert bed_occupant_at(spare, T0 + 3 * HOUR) == moved
    details = [e.detail for e in audit_trail(hospital, "admissions")][1:]
    assert details[0]["transferred_to"] == str(moved.pk)
    assert details[1]["transferred_from"] == str(stay.pk)


def test_a_refused_transfer_writes_nothing(ward_a):
    hospital, ward, (bed, spare), (curie, noether) = ward_a
    with hospital_context(hospital):
        stay = admission_admit(patient=curie, bed=bed, admitted_at=T0)
        admission_admit(patient=noether, bed=spare, admitted_at=T0)
        with pytest.raises(Conflict, match="occupied by Noether"):
            admission_transfer(admission=stay, bed=spare, at=T0 + HOUR)
        with pytest.raises(ValidationFailed, match="already in this bed"):
            admission_transfer(admission=stay, bed=bed, at=T0 + HOUR)
        with pytest.raises(ValidationFailed):
            admission_transfer(admission=stay, bed=helpers.bed(ward_=ward), at=T0)
        inactive = helpers.bed(ward_=ward)
        bed_deactivate(bed=inactive)
        with pytest.raises(BusinessRuleViolation, match="out of use"):
            admission_transfer(admission=stay, bed=inactive, at=T0 + HOUR)
        assert Admission.objects.get(pk=stay.pk).discharged_at is None
        assert Admission.objects.count() == 2


def test_voiding_an_admission_frees_the_bed_and_needs_a_reason(ward_a):
    hospital, _ward, (bed, _spare), (curie, noether) = ward_a
    with hospital_context(hospital):
        stay = admission_admit(patient=curie, bed=bed, admitted_at=T0)
        with pytest.raises(ValidationFailed, match="Say why"):
            admission_void(admission=stay, reason="  ")
        assert Admission.objects.count() == 1
        admission_void(admission=stay, reason="Wrong patient")
        assert Admission.objects.count() == 0
        assert Admission.all_objects.get().void_reason == "Wrong patient"
        with pytest.raises(BusinessRuleViolation, match="already voided"):
            admission_void(admission=stay, reason="Again")
        with pytest.raises(BusinessRuleViolation, match="voided"):
            admission_discharge(admission=stay, discharged_at=T0 + HOUR)
        admission_admit(patient=noether, bed=bed, admitted_at=T0)
    assert [e.action for e in audit_trail(hospital, "admissions")] == ["create", "void", "create"]


def test_occupancy_per_ward_and_free_or_occupied_beds_at_a_time(ward_a):
    hospital, _ward, (bed, spare), (curie, _noether) = ward_a
    with hospital_context(hospital):
        other = helpers.ward(name="South")
        helpers.bed(ward_=other)
        stay = admission_admit(patient=curie, bed=bed, admitted_at=T0)
        admission_discharge(admission=stay, discharged_at=T0 + 2 * HOUR)
        at = T0 + HOUR
        counts = {w.name: (w.bed_count, w.occupied_count) for w in ward_list(at=at)}
        assert counts == {"North": (2, 1), "South": (1, 0)}
        later = {w.name: w.occupied_count for w in ward_list(at=T0 + 2 * HOUR)}
        assert later == {"North": 0, "South": 0}
        assert list(bed_list(state="occupied", at=at)) == [bed]
        assert spare in bed_list(state="free", at=at)
        assert bed not in bed_list(state="free", at=at)
        assert bed in bed_list(state="free", at=T0 + 2 * HOUR)
        bed_deactivate(bed=spare)
        assert spare not in bed_list(state="free", at=at)
        with pytest.raises(ValidationFailed):
            bed_list(state="haunted")
