"""'A practitioner never has two overlapping active bookings', on both stores: through the
service (a clear error), straight through the ORM and through raw SQL (the database refuses),
and between two concurrent writers (exactly one wins)."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import IntegrityError, connections, transaction

from hospitium.core.errors import Conflict, ValidationFailed
from hospitium.scheduling.models import Appointment
from hospitium.scheduling.services import appointment_book
from hospitium.tenancy.context import hospital_context
from hospitium.tenancy.router import current_alias
from tests import factories
from tests.storehelp import on_postgres, raw_execute

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)
MINUTES = dt.timedelta(minutes=1)


@pytest.fixture
def clinic(hospital_a):
    with hospital_context(hospital_a):
        doctor = factories.practitioner()
        other = factories.practitioner(department=doctor.department)
        patient = factories.patient()
    return hospital_a, doctor, other, patient


def book(doctor, patient, start, minutes=30, **extra):
    return Appointment.objects.create(
        patient=patient,
        practitioner=doctor,
        starts_at=start,
        ends_at=start + minutes * MINUTES,
        **extra,
    )


def test_overlapping_active_bookings_are_refused_by_the_database(clinic):
    hospital, doctor, _other, patient = clinic
    with hospital_context(hospital):
        book(doctor, patient, T0)
        alias = current_alias(write=True)
        with pytest.raises(IntegrityError), transaction.atomic(using=alias):
            book(doctor, patient, T0 + 15 * MINUTES)
        with pytest.raises(IntegrityError), transaction.atomic(using=alias):
            book(doctor, patient, T0 - 10 * MINUTES, minutes=60)  # encloses the first
        assert Appointment.objects.count() == 1


def test_adjacent_other_practitioners_and_cancelled_bookings_do_not_clash(clinic):
    hospital, doctor, other, patient = clinic
    with hospital_context(hospital):
        book(doctor, patient, T0)
        book(doctor, patient, T0 + 30 * MINUTES)  # starts when the first ends
        book(other, patient, T0)
        book(doctor, patient, T0 + 10 * MINUTES, status="cancelled")
        assert Appointment.objects.count() == 4


def test_moving_a_booking_onto_another_is_refused(clinic):
    hospital, doctor, _other, patient = clinic
    with hospital_context(hospital):
        book(doctor, patient, T0)
        later = book(doctor, patient, T0 + 60 * MINUTES)
        with pytest.raises(IntegrityError), transaction.atomic(using=current_alias(write=True)):
            Appointment.objects.filter(pk=later.pk).update(starts_at=T0 + 20 * MINUTES)
        cancelled = book(doctor, patient, T0 + 5 * MINUTES, status="cancelled")
        with pytest.raises(IntegrityError), transaction.atomic(using=current_alias(write=True)):
            Appointment.objects.filter(pk=cancelled.pk).update(status="booked")


def test_raw_sql_behind_djangos_back_cannot_double_book(clinic):
    hospital, doctor, _other, patient = clinic
    with hospital_context(hospital):
        first = book(doctor, patient, T0)
    row = raw_execute("ALPHA", "select * from scheduling_appointment")[0]
    columns = [
        r[0] if on_postgres() else r[1]
        for r in (
            raw_execute(
                "ALPHA",
                "select column_name from information_schema.columns where table_name = "
                "'scheduling_appointment' and table_schema = current_schema() order by ordinal_position",
            )
            if on_postgres()
            else raw_execute("ALPHA", "PRAGMA table_info(scheduling_appointment)")
        )
    ]
    copy = dict(zip(columns, row, strict=True))
    copy["id"] = type(first.pk)(int=first.pk.int + 1)
    copy["id"] = str(copy["id"]) if on_postgres() else copy["id"].hex
    placeholders = ", ".join(["%s"] * len(columns))
    with pytest.raises(Exception, match="appointment_no_double_booking"):
        raw_execute(
            "ALPHA",
            f"insert into scheduling_appointment ({', '.join(columns)}) values ({placeholders})",  # noqa: S608
            tuple(copy[c] for c in columns),
        )
    assert raw_execute("ALPHA", "select count(*) from scheduling_appointment") == [(1,)]


def test_the_end_must_come_after_the_start_in_the_database(clinic):
    hospital, doctor, _other, patient = clinic
    with (
        hospital_context(hospital),
        pytest.raises(IntegrityError),
        transaction.atomic(using=current_alias(write=True)),
    ):
        book(doctor, patient, T0, minutes=0)


def test_the_service_explains_a_clash_and_writes_nothing(clinic):
    hospital, doctor, _other, patient = clinic
    with hospital_context(hospital):
        appointment_book(
            patient=patient, practitioner=doctor, starts_at=T0, ends_at=T0 + 30 * MINUTES
        )
        with pytest.raises(
            Conflict, match="already has an appointment between 2026-11-23 09:00 and 09:30"
        ):
            appointment_book(
                patient=patient,
                practitioner=doctor,
                starts_at=T0 + 5 * MINUTES,
                ends_at=T0 + 20 * MINUTES,
            )
        with pytest.raises(ValidationFailed, match="end after it starts"):
            appointment_book(patient=patient, practitioner=doctor, starts_at=T0, ends_at=T0)
        with pytest.raises(ValidationFailed, match="time zone"):
            appointment_book(
                patient=patient,
                practitioner=doctor,
                starts_at=dt.datetime(2026, 11, 23, 9),
                ends_at=dt.datetime(2026, 11, 23, 10),
            )
        assert Appointment.objects.count() == 1


def test_model_validation_reports_the_overlap_before_the_database(clinic):
    from django.core.exceptions import ValidationError

    hospital, doctor, _other, patient = clinic
    with hospital_context(hospital):
        book(doctor, patient, T0)
        clash = Appointment(
            patient=patient, practitioner=doctor, starts_at=T0, ends_at=T0 + 5 * MINUTES
        )
        with pytest.raises(ValidationError, match="already has an appointment then"):
            clash.full_clean()
        Appointment(
            patient=patient,
            practitioner=doctor,
            starts_at=T0,
            ends_at=T0 + 5 * MINUTES,
            status="cancelled",
        ).full_clean()


def test_two_concurrent_bookings_of_one_slot_end_with_exactly_one(clinic):
    hospital, doctor, _other, patient = clinic
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def attempt() -> None:
        try:
            with hospital_context(hospital):
                barrier.wait(timeout=10)
                appointment_book(
                    patient=patient, practitioner=doctor, starts_at=T0, ends_at=T0 + 30 * MINUTES
                )
            outcomes.append("booked")
        except Conflict:
            outcomes.append("conflict")
        finally:
            connections.close_all()
            from hospitium.tenancy import stores

            stores.close_hospital_connections()

    threads = [threading.Thread(target=attempt) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["booked", "conflict"]
    with hospital_context(hospital):
        assert Appointment.objects.count() == 1
