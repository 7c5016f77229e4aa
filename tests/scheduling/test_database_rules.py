"""The order of appointment status changes is the database's rule too (both stores), and the
no-overlap trigger on SQLite finds clashes with one index seek."""

from __future__ import annotations

import datetime as dt

import pytest

from hospitium.scheduling import services
from hospitium.scheduling.models import Appointment
from hospitium.scheduling.services import (
    appointment_arrive,
    appointment_cancel,
    appointment_fulfil,
    appointment_no_show,
)
from hospitium.tenancy.context import hospital_context
from tests import factories
from tests.rulehelp import (
    refused_by_database,
    same_error_from_the_database,
    sqlite_trigger_plan,
)

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)
ALL_STATUSES = ["booked", "arrived", "fulfilled", "cancelled", "noshow"]
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


def book(doctor, patient, status="booked", start=T0):
    return Appointment.objects.create(
        patient=patient,
        practitioner=doctor,
        starts_at=start,
        ends_at=start + dt.timedelta(minutes=30),
        status=status,
    )


@pytest.mark.parametrize("start", ALL_STATUSES)
def test_the_database_allows_exactly_the_status_changes_of_the_flow(clinic, start):
    hospital, doctor, patient = clinic
    with hospital_context(hospital):
        for index, target in enumerate(s for s in ALL_STATUSES if s != start):
            row = book(doctor, patient, start, T0 + dt.timedelta(hours=index))
            change = Appointment.objects.filter(pk=row.pk)
            if (start, target) in ALLOWED:
                change.update(status=target)
            else:
                refused_by_database(
                    "appointment_status_flow",
                    lambda change=change, target=target: change.update(status=target),
                )
                assert Appointment.objects.get(pk=row.pk).status == start


@pytest.mark.parametrize(
    ("start", "move"),
    [
        ("booked", appointment_fulfil),
        ("arrived", appointment_no_show),
        ("fulfilled", appointment_cancel),
        ("cancelled", appointment_arrive),
        ("noshow", appointment_arrive),
    ],
)
def test_the_database_refusal_reaches_the_user_as_the_service_error(
    clinic, monkeypatch, start, move
):
    hospital, doctor, patient = clinic
    everything = {status: frozenset(ALL_STATUSES) for status in ALL_STATUSES}
    with hospital_context(hospital):
        row = book(doctor, patient, start)
        same_error_from_the_database(
            monkeypatch,
            lambda: move(appointment=row),
            skip=[],
            replace=[(services, "TRANSITIONS", everything)],
            rule="appointment_status_flow",
        )
        assert Appointment.objects.get(pk=row.pk).status == start


@pytest.mark.sqlite_only
def test_the_sqlite_no_overlap_trigger_seeks_by_practitioner_and_end(clinic):
    """The trigger's look-up for clashes uses the (practitioner, ends_at) index: one seek to the
    rows that end after the new start, however long the practitioner's history."""
    hospital, doctor, patient = clinic
    with hospital_context(hospital):
        row = book(doctor, patient)
        plans = sqlite_trigger_plan("appointment_no_double_booking_insert", row)
    assert any("appt_practitioner_end" in step for step in plans), plans
    assert not any(step.startswith("SCAN") and "CONSTANT ROW" not in step for step in plans)
