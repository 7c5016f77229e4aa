"""The appointment pages (Django's test client, both stores): the day view per practitioner
and department, booking with the clash and the nearest free slots, the status buttons, who may
open them, and another hospital's ids."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from django.utils import timezone

from hospitium.accounts.models import Role, User
from hospitium.patients.models import Patient
from hospitium.scheduling.models import Appointment
from hospitium.scheduling.selectors import appointment_free_slots
from hospitium.staff.models import Practitioner
from hospitium.tenancy.context import hospital_context
from hospitium.tenancy.models import Hospital
from tests import factories
from tests.web.helpers import client_for, max_queries, member

pytestmark = pytest.mark.django_db

DAY = dt.date(2031, 3, 4)


def at(hour: int, minute: int = 0, day: dt.date = DAY) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, minute)))


@dataclass
class Clinic:
    patient: Patient
    house: Practitioner
    wilson: Practitioner
    booked: Appointment


@pytest.fixture
def clinic(hospital_a: Hospital) -> Clinic:
    with hospital_context(hospital_a):
        medicine = factories.department(name="Medicine")
        surgery = factories.department(name="Surgery")
        house = factories.practitioner(display_name="Dr. House", department=medicine)
        wilson = factories.practitioner(display_name="Dr. Wilson", department=surgery)
        patient = factories.patient(given_name="Ada", family_name="Lovelace", mrn="MRN-ADA")
        booked = Appointment.objects.create(
            patient=patient, practitioner=house, starts_at=at(10), ends_at=at(10, 30)
        )
        Appointment.objects.create(
            patient=patient, practitioner=wilson, starts_at=at(11), ends_at=at(11, 30)
        )
    return Clinic(patient, house, wilson, booked)


def test_the_day_view_lists_the_days_appointments(
    hospital_a: Hospital, doctor_a: User, clinic: Clinic
) -> None:
    page = client_for(hospital_a, doctor_a).get(f"/appointments/?day={DAY}").content.decode()
    assert "Dr. House" in page and "Dr. Wilson" in page
    assert "10:00–10:30" in page
    assert f'action="/appointments/{clinic.booked.pk}/arrive/"' in page


def test_the_day_view_narrows_to_a_practitioner_or_a_department(
    hospital_a: Hospital, doctor_a: User, clinic: Clinic
) -> None:
    client = client_for(hospital_a, doctor_a)
    page = client.get(f"/appointments/?day={DAY}&practitioner={clinic.wilson.pk}")
    assert "11:00–11:30" in page.content.decode() and "10:00–10:30" not in page.content.decode()
    department = clinic.house.department_id
    page = client.get(f"/appointments/?day={DAY}&department={department}").content.decode()
    assert "10:00–10:30" in page and "11:00–11:30" not in page
    assert f'href="/appointments/?day=2031-03-05&amp;department={department}"' in page


def test_htmx_gets_only_the_days_table(
    hospital_a: Hospital, doctor_a: User, clinic: Clinic
) -> None:
    response = client_for(hospital_a, doctor_a).get(
        f"/appointments/?day={DAY}", HTTP_HX_REQUEST="true"
    )
    page = response.content.decode()
    assert page.lstrip().startswith('<section id="appointment-day"')
    assert "<html" not in page


def test_the_day_view_costs_the_same_queries_for_many_appointments(
    hospital_a: Hospital, doctor_a: User, clinic: Clinic, django_assert_max_num_queries
) -> None:
    with hospital_context(hospital_a):
        for i in range(30):
            Appointment.objects.create(
                patient=factories.patient(),
                practitioner=factories.practitioner(department=clinic.house.department),
                starts_at=at(8, 0) + dt.timedelta(minutes=10 * i),
                ends_at=at(8, 0) + dt.timedelta(minutes=10 * i + 10),
            )
    client = client_for(hospital_a, doctor_a)
    with max_queries(django_assert_max_num_queries, hospital_a, 8):
        response = client.get(f"/appointments/?day={DAY}")
    assert response.content.decode().count("/arrive/") == 32


def test_booking_a_free_slot_goes_to_that_day(
    hospital_a: Hospital, doctor_a: User, clinic: Clinic
) -> None:
    response = client_for(hospital_a, doctor_a).post(
        "/appointments/new/",
        {
            "patient": clinic.patient.pk,
            "practitioner": clinic.house.pk,
            "starts_at": f"{DAY}T14:00",
            "ends_at": f"{DAY}T14:30",
            "reason": "Check-up",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == f"/appointments/?day={DAY}&practitioner={clinic.house.pk}"
    with hospital_context(hospital_a):
        assert Appointment.objects.filter(starts_at=at(14), reason="Check-up").exists()


def test_booking_a_taken_slot_shows_the_clash_and_the_nearest_free_slots(
    hospital_a: Hospital, doctor_a: User, clinic: Clinic, django_assert_max_num_queries
) -> None:
    client = client_for(hospital_a, doctor_a)
    with max_queries(django_assert_max_num_queries, hospital_a, 12):
        response = client.post(
            "/appointments/new/",
            {
                "patient": clinic.patient.pk,
                "practitioner": clinic.house.pk,
                "starts_at": f"{DAY}T10:15",
                "ends_at": f"{DAY}T10:45",
            },
        )
    page = response.content.decode()
    assert response.status_code == 200  # a refused form is shown again, as on every page
    assert "This slot is taken" in page
    assert "already has an appointment" in page
    # On the 15-minute grid of 10:15: 10:00 and 09:45 would overlap the 10:00 booking.
    for offered in ("10:30–11:00", "10:45–11:15", "11:00–11:30"):
        assert f"Book 4 Mar, {offered}" in page
    assert 'name="starts_at" value="2031-03-04T10:30"' in page


def test_the_nearest_free_slots_go_around_the_practitioners_bookings(
    hospital_a: Hospital, clinic: Clinic
) -> None:
    with hospital_context(hospital_a):
        Appointment.objects.create(
            patient=clinic.patient,
            practitioner=clinic.house,
            starts_at=at(10, 30),
            ends_at=at(11),
        )
        cancelled = Appointment.objects.create(
            patient=clinic.patient,
            practitioner=clinic.house,
            starts_at=at(9),
            ends_at=at(10),
            status="cancelled",
        )
        slots = appointment_free_slots(
            practitioner=clinic.house,
            starts_at=at(10),
            ends_at=at(10, 30),
            count=4,
            not_before=at(0),
        )
    starts = [slot.starts_at for slot in slots]
    # A cancelled appointment frees its time; Dr. Wilson's 11:00 is not Dr. House's.
    assert cancelled.status == "cancelled"
    assert starts == [at(9, 30), at(9, 15), at(11), at(9)]
    assert all(slot.ends_at - slot.starts_at == dt.timedelta(minutes=30) for slot in slots)


def test_no_free_slot_is_offered_in_the_past(hospital_a: Hospital, clinic: Clinic) -> None:
    with hospital_context(hospital_a):
        slots = appointment_free_slots(
            practitioner=clinic.house, starts_at=at(10), ends_at=at(10, 30), not_before=at(10, 30)
        )
    assert [slot.starts_at for slot in slots] == [at(10, 30), at(10, 45), at(11)]


def test_an_invalid_booking_shows_the_errors_beside_the_fields(
    hospital_a: Hospital, doctor_a: User, clinic: Clinic
) -> None:
    response = client_for(hospital_a, doctor_a).post(
        "/appointments/new/",
        {"practitioner": clinic.house.pk, "starts_at": f"{DAY}T10:00", "ends_at": f"{DAY}T09:00"},
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert 'class="error-summary"' in page
    assert 'id="id_ends_at_error"' in page and 'id="id_patient_error"' in page


def test_the_patient_is_found_by_search_on_the_booking_page(
    hospital_a: Hospital, doctor_a: User, clinic: Clinic
) -> None:
    client = client_for(hospital_a, doctor_a)
    page = client.get("/appointments/new/?patient_query=lovelace").content.decode()
    assert f'value="{clinic.patient.pk}"' in page and "Lovelace, Ada · MRN-ADA" in page
    fragment = client.get(
        "/appointments/new/?patient_query=lovelace", HTTP_HX_REQUEST="true"
    ).content.decode()
    assert fragment.startswith("<fieldset") and "Lovelace, Ada" in fragment


def test_the_status_buttons_move_the_appointment_along(
    hospital_a: Hospital, doctor_a: User, clinic: Clinic
) -> None:
    client = client_for(hospital_a, doctor_a)
    back = f"/appointments/?day={DAY}"
    response = client.post(f"/appointments/{clinic.booked.pk}/arrive/", {"back": back})
    assert response["Location"] == back
    assert (
        client.post(f"/appointments/{clinic.booked.pk}/fulfil/", {"back": back}).status_code == 302
    )
    with hospital_context(hospital_a):
        clinic.booked.refresh_from_db()
    assert clinic.booked.status == "fulfilled"


def test_a_refused_status_change_is_shown_on_the_day_view(
    hospital_a: Hospital, doctor_a: User, clinic: Clinic
) -> None:
    client = client_for(hospital_a, doctor_a)
    response = client.post(
        f"/appointments/{clinic.booked.pk}/fulfil/", {"back": f"/appointments/?day={DAY}"}
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert "cannot be marked fulfilled" in page
    assert "10:00–10:30" in page  # still the appointment's day


def test_cancel_and_no_show_are_buttons_too(
    hospital_a: Hospital, doctor_a: User, clinic: Clinic
) -> None:
    client = client_for(hospital_a, doctor_a)
    assert client.post(f"/appointments/{clinic.booked.pk}/no-show/").status_code == 302
    with hospital_context(hospital_a):
        clinic.booked.refresh_from_db()
        assert clinic.booked.status == "noshow"
        other = Appointment.objects.get(practitioner=clinic.wilson)
    assert client.post(f"/appointments/{other.pk}/cancel/").status_code == 302
    with hospital_context(hospital_a):
        other.refresh_from_db()
    assert other.status == "cancelled"


def test_status_changes_need_a_post(hospital_a: Hospital, doctor_a: User, clinic: Clinic) -> None:
    response = client_for(hospital_a, doctor_a).get(f"/appointments/{clinic.booked.pk}/arrive/")
    assert response.status_code == 405


@pytest.mark.parametrize(
    ("role", "status"),
    [
        (Role.ADMIN, 200),
        (Role.DOCTOR, 200),
        (Role.NURSE, 200),
        (Role.RECEPTIONIST, 200),
        (Role.BILLING, 403),
        (Role.ANALYST, 403),
    ],
)
def test_who_may_open_the_appointment_pages(
    hospital_a: Hospital, clinic: Clinic, role: str, status: int
) -> None:
    client = client_for(hospital_a, member(hospital_a, role))
    assert client.get(f"/appointments/?day={DAY}").status_code == status
    assert client.get("/appointments/new/").status_code == status
    moved = client.post(f"/appointments/{clinic.booked.pk}/arrive/")
    assert moved.status_code == (302 if status == 200 else 403)
    home = client.get("/").content.decode()
    assert ('href="/appointments/"' in home) is (status == 200)


def test_another_hospitals_appointment_is_the_404_page(
    hospital_a: Hospital, hospital_b: Hospital, doctor_b: User, clinic: Clinic
) -> None:
    response = client_for(hospital_b, doctor_b).post(f"/appointments/{clinic.booked.pk}/cancel/")
    assert response.status_code == 404
    assert "Page not found" in response.content.decode()
    with hospital_context(hospital_a):
        clinic.booked.refresh_from_db()
    assert clinic.booked.status == "booked"


def test_another_hospitals_practitioner_cannot_be_booked(
    hospital_a: Hospital, hospital_b: Hospital, doctor_b: User, clinic: Clinic
) -> None:
    with hospital_context(hospital_b):
        patient_b = factories.patient()
    response = client_for(hospital_b, doctor_b).post(
        "/appointments/new/",
        {
            "patient": patient_b.pk,
            "practitioner": clinic.house.pk,
            "starts_at": f"{DAY}T14:00",
            "ends_at": f"{DAY}T14:30",
        },
    )
    assert response.status_code == 200
    assert 'id="id_practitioner_error"' in response.content.decode()
    with hospital_context(hospital_b):
        assert not Appointment.objects.exists()
