"""Wards, beds and admissions over the API: the envelope for every refused rule, occupancy
reads, hospital isolation, the role matrix and audit events."""

from __future__ import annotations

import datetime as dt

import pytest

from hospitium.admissions.models import Admission, Bed, Ward
from hospitium.tenancy.context import hospital_context
from tests import factories
from tests.admissions import helpers
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
HOUR = dt.timedelta(hours=1)


def iso(value: dt.datetime) -> str:
    return value.isoformat().replace("+", "%2B")


@pytest.fixture
def ward_a(hospital_a):
    with hospital_context(hospital_a):
        ward = helpers.ward(name="North")
        beds = [helpers.bed(ward_=ward, room="101", label=label) for label in ("A", "B")]
        patients = [factories.patient(family_name=name) for name in ("Curie", "Noether")]
    return hospital_a, ward, beds, patients


def _admit(api, patient, bed, at=T0):
    return api.post(
        "/api/admissions/",
        {"patient": str(patient.pk), "bed": str(bed.pk), "admitted_at": at.isoformat()},
        HTTP_HOST=ALPHA,
    )


def test_an_admin_sets_up_wards_and_beds(admin_a, hospital_a):
    api = client_for(admin_a)
    ward = api.post("/api/wards/", {"name": "East"}, HTTP_HOST=ALPHA)
    assert ward.status_code == 201, ward.content
    ward_id = ward.json()["id"]
    for label in ("A", "B"):
        bed = api.post(
            "/api/beds/",
            {"ward": ward_id, "room_number": "12", "label": label},
            HTTP_HOST=ALPHA,
        )
        assert bed.status_code == 201, bed.content
        assert (bed.json()["ward_name"], bed.json()["room_number"]) == ("East", "12")
    error = envelope_of(
        api.post(
            "/api/beds/", {"ward": ward_id, "room_number": "12", "label": "A"}, HTTP_HOST=ALPHA
        ),
        status=409,
        code="conflict",
        category="conflict",
    )
    assert error["fields"] == {"label": ["Already used in this room."]}
    envelope_of(
        api.post("/api/wards/", {"name": "east"}, HTTP_HOST=ALPHA), status=409, code="conflict"
    )
    envelope_of(
        api.delete(f"/api/wards/{ward_id}/", HTTP_HOST=ALPHA), status=422, code="business_rule"
    )
    listed = api.get("/api/wards/", HTTP_HOST=ALPHA).json()["results"]
    assert [(w["name"], w["bed_count"], w["occupied_count"]) for w in listed] == [("East", 2, 0)]
    with hospital_context(hospital_a):
        assert Bed.objects.count() == 2
        assert Ward.objects.count() == 1
    assert [e.action for e in audit_trail(hospital_a, "wards")] == ["create", "list"]
    assert [e.action for e in audit_trail(hospital_a, "beds")] == ["create", "create"]


def test_admit_discharge_and_occupancy_over_the_api(doctor_a, admin_a, ward_a):
    hospital, ward, (bed, spare), (curie, _noether) = ward_a
    api = client_for(doctor_a)
    admitted = _admit(api, curie, bed)
    assert admitted.status_code == 201, admitted.content
    pk = admitted.json()["id"]
    assert admitted.json()["bed_label"] == "North 101 bed A"
    at = iso(T0 + HOUR)
    occupied = api.get(f"/api/beds/?occupancy=occupied&at={at}", HTTP_HOST=ALPHA).json()
    assert [b["id"] for b in occupied["results"]] == [str(bed.pk)]
    free = api.get(f"/api/beds/?occupancy=free&at={at}", HTTP_HOST=ALPHA).json()
    assert [b["id"] for b in free["results"]] == [str(spare.pk)]
    wards = api.get(f"/api/wards/?at={at}", HTTP_HOST=ALPHA).json()["results"]
    assert [(w["bed_count"], w["occupied_count"]) for w in wards] == [(2, 1)]
    occupancy = api.get(f"/api/wards/{ward.pk}/occupancy/?at={at}", HTTP_HOST=ALPHA).json()
    assert {b["label"]: b["occupied"] for b in occupancy["beds"]} == {"A": True, "B": False}
    error = envelope_of(
        api.post(
            f"/api/admissions/{pk}/discharge/",
            {"discharged_at": T0.isoformat()},
            HTTP_HOST=ALPHA,
        ),
        status=400,
        code="validation_error",
    )
    assert "discharged_at" in error["fields"]
    discharged = api.post(
        f"/api/admissions/{pk}/discharge/",
        {"discharged_at": (T0 + 2 * HOUR).isoformat()},
        HTTP_HOST=ALPHA,
    )
    assert discharged.status_code == 200, discharged.content
    assert dt.datetime.fromisoformat(discharged.json()["discharged_at"]) == T0 + 2 * HOUR
    # Still occupied just before the discharge, free from it.
    assert api.get(f"/api/beds/?occupancy=free&at={at}", HTTP_HOST=ALPHA).json()["count"] == 1
    later = iso(T0 + 2 * HOUR)
    assert api.get(f"/api/beds/?occupancy=free&at={later}", HTTP_HOST=ALPHA).json()["count"] == 2
    envelope_of(
        api.post(f"/api/admissions/{pk}/discharge/", HTTP_HOST=ALPHA),
        status=422,
        code="business_rule",
    )
    envelope_of(
        api.get("/api/beds/?occupancy=haunted", HTTP_HOST=ALPHA),
        status=400,
        code="validation_error",
    )
    envelope_of(
        api.get("/api/beds/?at=yesterday", HTTP_HOST=ALPHA), status=400, code="validation_error"
    )
    actions = [e.action for e in audit_trail(hospital, "admissions", object_id=pk)]
    assert actions == ["create", "update"]


def test_an_occupied_bed_and_a_second_admission_answer_409(doctor_a, ward_a):
    hospital, _ward, (bed, spare), (curie, noether) = ward_a
    api = client_for(doctor_a)
    assert _admit(api, curie, bed).status_code == 201
    error = envelope_of(
        _admit(api, noether, bed, T0 + HOUR), status=409, code="conflict", category="conflict"
    )
    assert "occupied by Curie" in error["message"]
    assert error["fields"] == {"bed": ["The bed is occupied at that time."]}
    error = envelope_of(_admit(api, curie, spare, T0 + HOUR), status=409, code="conflict")
    assert "already admitted" in error["message"]
    with hospital_context(hospital):
        assert Admission.objects.count() == 1


def test_an_inactive_bed_takes_no_admission(admin_a, doctor_a, ward_a):
    hospital, _ward, (bed, _spare), (curie, _noether) = ward_a
    admin = client_for(admin_a)
    changed = admin.patch(f"/api/beds/{bed.pk}/", {"is_active": False}, HTTP_HOST=ALPHA)
    assert changed.status_code == 200, changed.content
    assert changed.json()["is_active"] is False
    envelope_of(
        admin.patch(f"/api/beds/{bed.pk}/", {"label": "Z"}, HTTP_HOST=ALPHA),
        status=400,
        code="validation_error",
    )
    envelope_of(
        admin.delete(f"/api/beds/{bed.pk}/", HTTP_HOST=ALPHA), status=422, code="business_rule"
    )
    envelope_of(_admit(client_for(doctor_a), curie, bed), status=422, code="business_rule")
    with hospital_context(hospital):
        assert not Admission.objects.exists()
        assert Bed.objects.get(pk=bed.pk).label == "A"


def test_transfer_and_void_over_the_api(doctor_a, ward_a):
    hospital, _ward, (bed, spare), (curie, noether) = ward_a
    api = client_for(doctor_a)
    pk = _admit(api, curie, bed).json()["id"]
    moved = api.post(
        f"/api/admissions/{pk}/transfer/",
        {"bed": str(spare.pk), "at": (T0 + HOUR).isoformat()},
        HTTP_HOST=ALPHA,
    )
    assert moved.status_code == 201, moved.content
    new_pk = moved.json()["id"]
    assert moved.json()["bed"] == str(spare.pk)
    old = api.get(f"/api/admissions/{pk}/", HTTP_HOST=ALPHA).json()
    assert old["discharged_at"] == moved.json()["admitted_at"]
    envelope_of(
        api.post(f"/api/admissions/{new_pk}/transfer/", {"bed": str(spare.pk)}, HTTP_HOST=ALPHA),
        status=400,
        code="validation_error",
    )
    envelope_of(
        api.post(f"/api/admissions/{new_pk}/void/", {"reason": " "}, HTTP_HOST=ALPHA),
        status=400,
        code="validation_error",
    )
    envelope_of(
        api.delete(f"/api/admissions/{new_pk}/", HTTP_HOST=ALPHA), status=422, code="business_rule"
    )
    envelope_of(
        api.patch(f"/api/admissions/{new_pk}/", {"reason": "x"}, HTTP_HOST=ALPHA),
        status=405,
        code="method_not_allowed",
    )
    voided = api.post(f"/api/admissions/{new_pk}/void/", {"reason": "Wrong bed"}, HTTP_HOST=ALPHA)
    assert voided.status_code == 200, voided.content
    assert voided.json()["void_reason"] == "Wrong bed"
    envelope_of(
        api.get(f"/api/admissions/{new_pk}/", HTTP_HOST=ALPHA), status=404, code="not_found"
    )
    assert _admit(api, noether, spare, T0 + HOUR).status_code == 201
    actions = [e.action for e in audit_trail(hospital, "admissions", object_id=new_pk)]
    assert actions == ["create", "void"]


def test_another_hospital_cannot_see_or_change_admissions(doctor_b, hospital_b, ward_a):
    hospital, ward, (bed, spare), (curie, _noether) = ward_a
    with hospital_context(hospital):
        stay = Admission.objects.create(patient=curie, bed=bed, admitted_at=T0)
    api = client_for(doctor_b)
    paths = [
        "/api/wards/",
        f"/api/wards/{ward.pk}/",
        f"/api/wards/{ward.pk}/occupancy/",
        "/api/beds/",
        f"/api/beds/{bed.pk}/",
        "/api/admissions/",
        f"/api/admissions/{stay.pk}/",
    ]
    for path in paths:
        envelope_of(api.get(path, HTTP_HOST=ALPHA), status=404, code="not_found")
    for host in (ALPHA, BRAVO):
        for action, body in (("discharge", {}), ("transfer", {"bed": str(spare.pk)})):
            envelope_of(
                api.post(f"/api/admissions/{stay.pk}/{action}/", body, HTTP_HOST=host),
                status=404,
                code="not_found",
            )
        envelope_of(
            api.post(f"/api/admissions/{stay.pk}/void/", {"reason": "x"}, HTTP_HOST=host),
            status=404,
            code="not_found",
        )
    for path in paths[1:3] + paths[4:5] + paths[6:]:
        envelope_of(api.get(path, HTTP_HOST=BRAVO), status=404, code="not_found")
    for path in ("/api/wards/", "/api/beds/", "/api/admissions/"):
        assert api.get(path, HTTP_HOST=BRAVO).json()["results"] == []
    with hospital_context(hospital):
        assert Admission.objects.get().discharged_at is None


@pytest.mark.parametrize("role", ROLES)
def test_the_role_matrix_decides_who_reads_and_writes(ward_a, role):
    hospital, ward, (_bed, spare), (curie, _noether) = ward_a
    api = client_for(user_with_role(hospital, role))
    attempts = {
        "wards": api.post("/api/wards/", {"name": f"W-{role}"}, HTTP_HOST=ALPHA),
        "beds": api.post(
            "/api/beds/", {"ward": str(ward.pk), "room_number": "9", "label": role}, HTTP_HOST=ALPHA
        ),
        "admissions": _admit(api, curie, spare),
    }
    for resource, created in attempts.items():
        listed = api.get(f"/api/{resource}/", HTTP_HOST=ALPHA)
        if may(resource, "read", role):
            assert listed.status_code == 200, (resource, listed.content)
        else:
            envelope_of(listed, status=403, code="role_forbidden", category="permission")
        if may(resource, "write", role):
            assert created.status_code == 201, (resource, created.content)
        else:
            envelope_of(created, status=403, code="role_forbidden", category="permission")
    with hospital_context(hospital):
        assert Ward.objects.count() == 1 + may("wards", "write", role)
        assert Bed.objects.count() == 2 + may("beds", "write", role)
        assert Admission.objects.count() == int(may("admissions", "write", role))


def test_a_patients_admissions_are_read_with_this_serializer(doctor_a, ward_a):
    hospital, _ward, (bed, _spare), (curie, _noether) = ward_a
    with hospital_context(hospital):
        stay = Admission.objects.create(patient=curie, bed=bed, admitted_at=T0)
    response = client_for(doctor_a).get(f"/api/patients/{curie.pk}/admissions/", HTTP_HOST=ALPHA)
    assert response.status_code == 200, response.content
    assert [(a["id"], a["bed_label"]) for a in response.json()] == [
        (str(stay.pk), "North 101 bed A")
    ]
