"""Appointments over the API: booking, the status actions, rescheduling, filters, the error
envelope, hospital isolation, the role matrix and audit events."""

from __future__ import annotations

import datetime as dt

import pytest

from hospitium.scheduling.models import Appointment
from hospitium.tenancy.context import hospital_context
from tests import factories
from tests.racehelp import run_together
from tests.staff.apihelp import (
    ALPHA,
    BRAVO,
    ROLES,
    audit_trail,
    client_for,
    envelope_of,
    may,
    user_with_role,
)

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)
HALF_HOUR = dt.timedelta(minutes=30)


@pytest.fixture
def clinic(hospital_a):
    with hospital_context(hospital_a):
        doctor = factories.practitioner()
        other = factories.practitioner(department=doctor.department)
        patient = factories.patient()
    return hospital_a, doctor, other, patient


def _payload(doctor, patient, start=T0):
    return {
        "patient": str(patient.pk),
        "practitioner": str(doctor.pk),
        "starts_at": start.isoformat(),
        "ends_at": (start + HALF_HOUR).isoformat(),
        "reason": "Check-up",
    }


def _book(hospital, doctor, patient, start=T0, status="booked"):
    with hospital_context(hospital):
        return Appointment.objects.create(
            patient=patient,
            practitioner=doctor,
            starts_at=start,
            ends_at=start + HALF_HOUR,
            status=status,
        )


def test_booking_and_the_status_flow_over_the_api(doctor_a, clinic):
    hospital, doctor, _other, patient = clinic
    api = client_for(doctor_a)
    created = api.post("/api/appointments/", _payload(doctor, patient), HTTP_HOST=ALPHA)
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    assert created.json()["status"] == "booked"
    arrived = api.post(f"/api/appointments/{pk}/arrive/", HTTP_HOST=ALPHA)
    assert arrived.json()["status"] == "arrived"
    fulfilled = api.post(f"/api/appointments/{pk}/fulfil/", HTTP_HOST=ALPHA)
    assert fulfilled.json()["status"] == "fulfilled"
    error = envelope_of(
        api.post(f"/api/appointments/{pk}/cancel/", HTTP_HOST=ALPHA),
        status=422,
        code="business_rule",
        category="business_rule",
    )
    assert "already fulfilled" in error["message"]
    assert api.get(f"/api/appointments/{pk}/", HTTP_HOST=ALPHA).json()["status"] == "fulfilled"
    events = audit_trail(hospital, "appointments", object_id=pk)
    assert [e.action for e in events] == ["create", "update", "update", "read"]
    assert {e.actor_id for e in events} == {doctor_a.pk}


def test_no_show_and_cancel_actions(doctor_a, clinic):
    hospital, doctor, _other, patient = clinic
    first = _book(hospital, doctor, patient)
    second = _book(hospital, doctor, patient, start=T0 + 2 * HALF_HOUR)
    api = client_for(doctor_a)
    no_show = api.post(f"/api/appointments/{first.pk}/no-show/", HTTP_HOST=ALPHA)
    assert no_show.json()["status"] == "noshow"
    assert api.post(f"/api/appointments/{second.pk}/cancel/", HTTP_HOST=ALPHA).status_code == 200
    error = envelope_of(
        api.post(f"/api/appointments/{second.pk}/fulfil/", HTTP_HOST=ALPHA),
        status=422,
        code="business_rule",
    )
    assert error["fields"]["status"]
    with hospital_context(hospital):
        assert sorted(Appointment.objects.values_list("status", flat=True)) == [
            "cancelled",
            "noshow",
        ]


def test_a_clash_answers_409_and_writes_nothing(doctor_a, clinic):
    hospital, doctor, _other, patient = clinic
    _book(hospital, doctor, patient)
    api = client_for(doctor_a)
    error = envelope_of(
        api.post(
            "/api/appointments/", _payload(doctor, patient, T0 + HALF_HOUR / 2), HTTP_HOST=ALPHA
        ),
        status=409,
        code="conflict",
        category="conflict",
    )
    assert error["fields"] == {"starts_at": ["The practitioner is already booked at this time."]}
    bad = _payload(doctor, patient, T0 + 4 * HALF_HOUR)
    bad["ends_at"] = bad["starts_at"]
    error = envelope_of(
        api.post("/api/appointments/", bad, HTTP_HOST=ALPHA), status=400, code="validation_error"
    )
    assert "ends_at" in error["fields"]
    with hospital_context(hospital):
        assert Appointment.objects.count() == 1


@pytest.mark.django_db(transaction=True)  # the clients' threads see the committed platform rows
def test_eight_clients_booking_one_slot_at_once_end_with_exactly_one_booking(doctor_a, clinic):
    hospital, doctor, _other, patient = clinic
    clients = [client_for(doctor_a) for _ in range(8)]

    def book(index: int) -> tuple[int, str]:
        answer = clients[index].post(
            "/api/appointments/", _payload(doctor, patient), HTTP_HOST=ALPHA
        )
        return answer.status_code, answer.json().get("error", {}).get("code", "")

    outcomes = run_together(None, 8, book)
    assert sorted(outcomes) == [(201, "")] + [(409, "conflict")] * 7
    with hospital_context(hospital):
        assert Appointment.objects.count() == 1


def test_rescheduling_over_the_api(doctor_a, clinic):
    hospital, doctor, _other, patient = clinic
    _book(hospital, doctor, patient)
    later = _book(hospital, doctor, patient, start=T0 + 4 * HALF_HOUR)
    api = client_for(doctor_a)
    path = f"/api/appointments/{later.pk}/"
    clash = {"starts_at": T0.isoformat(), "ends_at": (T0 + HALF_HOUR).isoformat()}
    envelope_of(api.patch(path, clash, HTTP_HOST=ALPHA), status=409, code="conflict")
    free = {
        "starts_at": (T0 + 2 * HALF_HOUR).isoformat(),
        "ends_at": (T0 + 3 * HALF_HOUR).isoformat(),
    }
    moved = api.patch(path, free, HTTP_HOST=ALPHA)
    assert moved.status_code == 200, moved.content
    assert dt.datetime.fromisoformat(moved.json()["starts_at"]) == T0 + 2 * HALF_HOUR
    envelope_of(
        api.patch(path, {"practitioner": str(_other.pk)}, HTTP_HOST=ALPHA),
        status=400,
        code="validation_error",
    )
    envelope_of(api.delete(path, HTTP_HOST=ALPHA), status=422, code="business_rule")
    with hospital_context(hospital):
        assert Appointment.objects.get(pk=later.pk).practitioner == doctor


def test_filters_by_patient_practitioner_status_and_dates(doctor_a, clinic):
    hospital, doctor, other, patient = clinic
    with hospital_context(hospital):
        someone = factories.patient()
    a = _book(hospital, doctor, patient)
    b = _book(hospital, other, someone, status="cancelled")
    c = _book(hospital, doctor, someone, start=T0 + dt.timedelta(days=2))
    api = client_for(doctor_a)

    def ids(query: str) -> set[str]:
        response = api.get(f"/api/appointments/?{query}", HTTP_HOST=ALPHA)
        assert response.status_code == 200, response.content
        return {row["id"] for row in response.json()["results"]}

    assert ids(f"patient={patient.pk}") == {str(a.pk)}
    assert ids(f"practitioner={doctor.pk}") == {str(a.pk), str(c.pk)}
    assert ids("status=cancelled") == {str(b.pk)}
    assert ids("date_from=2026-11-24") == {str(c.pk)}
    assert ids("date_to=2026-11-23") == {str(a.pk), str(b.pk)}
    after = (T0 + dt.timedelta(days=1)).isoformat().replace("+", "%2B")
    assert ids(f"starts_after={after}") == {str(c.pk)}
    assert ids(f"starts_before={after}") == {str(a.pk), str(b.pk)}
    lists = audit_trail(hospital, "appointments", action="list")
    assert lists[0].detail["query"] == {"patient": str(patient.pk)}


def test_another_hospital_cannot_see_or_change_appointments(doctor_b, hospital_b, clinic):
    hospital, doctor, _other, patient = clinic
    appointment = _book(hospital, doctor, patient)
    api = client_for(doctor_b)
    path = f"/api/appointments/{appointment.pk}/"
    envelope_of(api.get("/api/appointments/", HTTP_HOST=ALPHA), status=404, code="not_found")
    envelope_of(api.get(path, HTTP_HOST=ALPHA), status=404, code="not_found")
    envelope_of(api.post(f"{path}cancel/", HTTP_HOST=ALPHA), status=404, code="not_found")
    assert api.get("/api/appointments/", HTTP_HOST=BRAVO).json()["results"] == []
    envelope_of(api.get(path, HTTP_HOST=BRAVO), status=404, code="not_found")
    envelope_of(api.post(f"{path}cancel/", HTTP_HOST=BRAVO), status=404, code="not_found")
    envelope_of(
        api.patch(path, {"starts_at": T0.isoformat()}, HTTP_HOST=BRAVO),
        status=404,
        code="not_found",
    )
    # Booking in B with A's patient and practitioner ids finds neither.
    error = envelope_of(
        api.post("/api/appointments/", _payload(doctor, patient), HTTP_HOST=BRAVO),
        status=400,
        code="validation_error",
    )
    assert {"patient", "practitioner"} <= set(error["fields"])
    with hospital_context(hospital):
        assert Appointment.objects.get().status == "booked"


@pytest.mark.parametrize("role", ROLES)
def test_the_role_matrix_decides_who_reads_and_writes_appointments(clinic, role):
    hospital, doctor, _other, patient = clinic
    appointment = _book(hospital, doctor, patient, start=T0 + 8 * HALF_HOUR)
    api = client_for(user_with_role(hospital, role))
    listed = api.get("/api/appointments/", HTTP_HOST=ALPHA)
    created = api.post("/api/appointments/", _payload(doctor, patient), HTTP_HOST=ALPHA)
    arrived = api.post(f"/api/appointments/{appointment.pk}/arrive/", HTTP_HOST=ALPHA)
    if may("appointments", "read", role):
        assert listed.status_code == 200
    else:
        envelope_of(listed, status=403, code="role_forbidden", category="permission")
    if may("appointments", "write", role):
        assert created.status_code == 201, created.content
        assert arrived.status_code == 200, arrived.content
    else:
        envelope_of(created, status=403, code="role_forbidden")
        envelope_of(arrived, status=403, code="role_forbidden")
        with hospital_context(hospital):
            assert list(Appointment.objects.values_list("status", flat=True)) == ["booked"]


def test_a_patients_appointments_are_read_with_this_serializer(doctor_a, clinic):
    hospital, doctor, _other, patient = clinic
    appointment = _book(hospital, doctor, patient)
    response = client_for(doctor_a).get(
        f"/api/patients/{patient.pk}/appointments/", HTTP_HOST=ALPHA
    )
    assert response.status_code == 200, response.content
    assert [(a["id"], a["status"]) for a in response.json()] == [(str(appointment.pk), "booked")]
