"""Appointment status flow and rescheduling through the services: clear errors, nothing
written; the rules the database holds are tried straight through the ORM too."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, transaction

from hospitium.core.errors import BusinessRuleViolation, Conflict, ValidationFailed
from hospitium.scheduling.models import Appointment
from hospitium.scheduling.services import (
    appointment_arrive,
    appointment_book,
    appointment_cancel,
    appointment_fulfil,
    appointment_no_show,
    appointment_reschedule,
)
from hospitium.tenancy.context import hospital_context
from hospitium.tenancy.router import current_alias
from tests import factories
from tests.staff.apihelp import audit_trail

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)
HALF_HOUR = dt.timedelta(minutes=30)

ACTIONS = {
    "arrived": appointment_arrive,
    "fulfilled": appointment_fulfil,
    "cancelled": appointment_cancel,
    "noshow": appointment_no_show,
}
ALLOWED = {
    ("booked", "arrived"),
    ("booked", "cancelled"),
    ("booked", "noshow"),
    ("arrived", "fulfilled"),
    ("arrived", "cancelled"),
}


@pytest.fixture
def clinic(hospital_a):
    with hospital_context(hospital_a):
        doctor = factories.practitioner()
        patient = factories.patient()
    return hospital_a, doctor, patient


def _book(doctor, patient, start=T0, status="booked"):
    return Appointment.objects.create(
        patient=patient,
        practitioner=doctor,
        starts_at=start,
        ends_at=start + HALF_HOUR,
        status=status,
    )


@pytest.mark.parametrize("start", ["booked", "arrived", "fulfilled", "cancelled", "noshow"])
@pytest.mark.parametrize("target", sorted(ACTIONS))
def test_every_status_change_follows_the_flow(clinic, start, target):
    hospital, doctor, patient = clinic
    with hospital_context(hospital):
        appointment = _book(doctor, patient, status=start)
        if (start, target) in ALLOWED:
            assert ACTIONS[target](appointment=appointment).status == target
            assert Appointment.objects.get().status == target
            events = audit_trail(hospital, "appointments")
            assert [e.detail for e in events] == [{"status": {"from": start, "to": target}}]
        else:
            with pytest.raises(BusinessRuleViolation) as refused:
                ACTIONS[target](appointment=appointment)
            if start in ("fulfilled", "cancelled", "noshow"):
                assert "cannot change any more" in refused.value.message
            else:
                assert "cannot be marked" in refused.value.message
            assert "status" in refused.value.fields
            assert Appointment.objects.get().status == start
            assert audit_trail(hospital, "appointments") == []


def test_booking_is_audited(clinic):
    hospital, doctor, patient = clinic
    with hospital_context(hospital):
        booked = appointment_book(
            patient=patient, practitioner=doctor, starts_at=T0, ends_at=T0 + HALF_HOUR
        )
    events = audit_trail(hospital, "appointments")
    assert [(e.action, e.object_id) for e in events] == [("create", str(booked.pk))]


def test_a_cancelled_slot_can_be_booked_again(clinic):
    hospital, doctor, patient = clinic
    with hospital_context(hospital):
        first = _book(doctor, patient)
        appointment_cancel(appointment=first)
        again = appointment_book(
            patient=patient, practitioner=doctor, starts_at=T0, ends_at=T0 + HALF_HOUR
        )
        assert again.status == "booked"


def test_rescheduling_moves_a_booked_appointment(clinic):
    hospital, doctor, patient = clinic
    with hospital_context(hospital):
        appointment = _book(doctor, patient)
        # Overlapping its own old slot is fine.
        moved = appointment_reschedule(
            appointment=appointment, starts_at=T0 + HALF_HOUR / 2, ends_at=T0 + 2 * HALF_HOUR
        )
        fresh = Appointment.objects.get()
        assert (fresh.starts_at, fresh.ends_at) == (moved.starts_at, T0 + 2 * HALF_HOUR)
    assert [e.action for e in audit_trail(hospital, "appointments")] == ["update"]


def test_rescheduling_onto_a_busy_slot_is_refused(clinic):
    hospital, doctor, patient = clinic
    with hospital_context(hospital):
        _book(doctor, patient)
        later = _book(doctor, patient, start=T0 + 4 * HALF_HOUR)
        with pytest.raises(Conflict, match="already has an appointment between 2026-11-23 09:00"):
            appointment_reschedule(
                appointment=later, starts_at=T0 + HALF_HOUR / 2, ends_at=T0 + 2 * HALF_HOUR
            )
        with pytest.raises(ValidationFailed, match="end after it starts"):
            appointment_reschedule(appointment=later, starts_at=T0, ends_at=T0)
        assert Appointment.objects.get(pk=later.pk).starts_at == T0 + 4 * HALF_HOUR
    assert audit_trail(hospital, "appointments") == []


@pytest.mark.parametrize("status", ["arrived", "fulfilled", "cancelled", "noshow"])
def test_only_a_booked_appointment_can_be_rescheduled(clinic, status):
    hospital, doctor, patient = clinic
    with hospital_context(hospital):
        appointment = _book(doctor, patient, status=status)
        with pytest.raises(BusinessRuleViolation, match="Only a booked appointment"):
            appointment_reschedule(
                appointment=appointment, starts_at=T0 + 4 * HALF_HOUR, ends_at=T0 + 5 * HALF_HOUR
            )
        assert Appointment.objects.get().starts_at == T0


def test_the_database_refuses_an_unknown_status_and_a_reactivated_clash(clinic):
    hospital, doctor, patient = clinic
    with hospital_context(hospital):
        alias = current_alias(write=True)
        appointment = _book(doctor, patient)
        with pytest.raises(IntegrityError), transaction.atomic(using=alias):
            Appointment.objects.filter(pk=appointment.pk).update(status="lost")
        cancelled = _book(doctor, patient, status="cancelled")
        with pytest.raises(IntegrityError), transaction.atomic(using=alias):
            Appointment.objects.filter(pk=cancelled.pk).update(status="arrived")
        assert sorted(Appointment.objects.values_list("status", flat=True)) == [
            "booked",
            "cancelled",
        ]
