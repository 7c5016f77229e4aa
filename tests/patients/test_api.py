from __future__ import annotations

import pytest

from hospitium.accounts.models import Role
from hospitium.audit.models import AuditEvent
from hospitium.patients.models import Patient
from hospitium.tenancy.context import hospital_context
from tests import factories
from tests.conftest import make_user

pytestmark = pytest.mark.django_db

ALPHA = "alpha.example.test"
BRAVO = "bravo.example.test"
NEW = {
    "mrn": "MRN-1",
    "given_name": "Ada",
    "family_name": "Lovelace",
    "birth_date": "1990-12-10",
    "sex": "female",
}


def error(response) -> dict:
    return response.json()["error"]


@pytest.mark.parametrize(
    ("role", "can_read", "can_write"),
    [
        (Role.ADMIN, True, True),
        (Role.DOCTOR, True, True),
        (Role.NURSE, True, True),
        (Role.RECEPTIONIST, True, True),
        (Role.BILLING, True, False),
        (Role.ANALYST, False, False),
    ],
)
def test_the_role_matrix_decides_who_reads_and_writes_patients(
    api, hospital_a, role, can_read, can_write
):
    user = make_user(f"{role}@alpha.example.test", hospital=hospital_a, role=role)
    api.force_login(user)
    listing = api.get("/api/patients/", HTTP_HOST=ALPHA)
    created = api.post("/api/patients/", NEW, format="json", HTTP_HOST=ALPHA)
    assert listing.status_code == (200 if can_read else 403)
    assert created.status_code == (201 if can_write else 403), created.content
    if not can_read:
        assert error(listing)["code"] == "role_forbidden"
        assert role in error(listing)["message"]
    with hospital_context("ALPHA"):
        assert Patient.objects.filter(mrn="MRN-1").exists() == can_write


def test_a_patient_is_created_read_updated_and_audited(api, hospital_a, doctor_a):
    api.force_login(doctor_a)
    created = api.post("/api/patients/", NEW, format="json", HTTP_HOST=ALPHA)
    assert created.status_code == 201
    patient_id = created.json()["id"]
    assert api.get(f"/api/patients/{patient_id}/", HTTP_HOST=ALPHA).json()["mrn"] == "MRN-1"
    changed = api.patch(
        f"/api/patients/{patient_id}/", {"phone": "+1 555 0100"}, format="json", HTTP_HOST=ALPHA
    )
    assert changed.status_code == 200 and changed.json()["phone"] == "+1 555 0100"
    refused = api.patch(
        f"/api/patients/{patient_id}/", {"mrn": "OTHER"}, format="json", HTTP_HOST=ALPHA
    )
    assert refused.status_code == 400 and "mrn" in error(refused)["fields"]
    with hospital_context("ALPHA"):
        events = list(
            AuditEvent.objects.order_by("id").values_list("action", "object_id", "actor_id")
        )
    assert ("create", patient_id, doctor_a.pk) in events
    assert ("read", patient_id, doctor_a.pk) in events
    assert ("update", patient_id, doctor_a.pk) in events


def test_another_hospitals_patient_is_not_found_for_every_verb(api, hospital_a, doctor_b):
    with hospital_context("ALPHA"):
        patient = factories.patient()
    api.force_login(doctor_b)
    url = f"/api/patients/{patient.pk}/"
    for response in (
        api.get(url, HTTP_HOST=BRAVO),
        api.patch(url, {"phone": "x"}, format="json", HTTP_HOST=BRAVO),
        api.delete(url, HTTP_HOST=BRAVO),
        api.get(url + "delete-preview/", HTTP_HOST=BRAVO),
        api.get(url + "visits/", HTTP_HOST=BRAVO),
    ):
        assert response.status_code == 404, response.content
    with hospital_context("ALPHA"):
        assert Patient.objects.get(pk=patient.pk).phone == ""


def test_a_patient_without_history_can_be_deleted_after_a_preview(api, hospital_a, admin_a):
    with hospital_context("ALPHA"):
        patient = factories.patient()
    api.force_login(admin_a)
    preview = api.get(f"/api/patients/{patient.pk}/delete-preview/", HTTP_HOST=ALPHA)
    assert preview.json() == {"would_delete": {"patients": 1}, "blocked_by": {}, "allowed": True}
    assert api.delete(f"/api/patients/{patient.pk}/", HTTP_HOST=ALPHA).status_code == 204
    with hospital_context("ALPHA"):
        assert not Patient.objects.filter(pk=patient.pk).exists()
        assert AuditEvent.objects.filter(action="delete", object_id=str(patient.pk)).exists()


def test_a_patient_with_history_cannot_be_deleted_and_the_error_says_why(api, hospital_a, admin_a):
    import datetime as dt

    from hospitium.scheduling.models import Appointment

    with hospital_context("ALPHA"):
        patient = factories.patient()
        start = dt.datetime(2026, 1, 5, 9, tzinfo=dt.UTC)
        Appointment.objects.create(
            patient=patient,
            practitioner=factories.practitioner(),
            starts_at=start,
            ends_at=start + dt.timedelta(minutes=20),
        )
    api.force_login(admin_a)
    preview = api.get(f"/api/patients/{patient.pk}/delete-preview/", HTTP_HOST=ALPHA).json()
    assert preview["allowed"] is False and preview["blocked_by"] == {"appointments": 1}
    response = api.delete(f"/api/patients/{patient.pk}/", HTTP_HOST=ALPHA)
    assert response.status_code == 422
    assert error(response)["code"] == "business_rule"
    assert "1 appointments" in error(response)["message"]
    with hospital_context("ALPHA"):
        assert Patient.objects.filter(pk=patient.pk).exists()


def test_search_filter_and_pagination_work(api, hospital_a, doctor_a):
    with hospital_context("ALPHA"):
        factories.patient(family_name="Curie", status="inactive")
        for _ in range(3):
            factories.patient(family_name="Noether")
    api.force_login(doctor_a)
    found = api.get("/api/patients/?search=curie", HTTP_HOST=ALPHA).json()
    assert [p["family_name"] for p in found["results"]] == ["Curie"]
    inactive = api.get("/api/patients/?status=inactive", HTTP_HOST=ALPHA).json()
    assert inactive["count"] == 1
    ordered = api.get("/api/patients/?ordering=-family_name", HTTP_HOST=ALPHA).json()
    assert ordered["results"][0]["family_name"] == "Noether"


def test_the_audit_log_is_for_hospital_admins_only_and_cannot_be_changed(
    api, hospital_a, admin_a, doctor_a
):
    with hospital_context("ALPHA"):
        patient = factories.patient()
    api.force_login(doctor_a)
    api.get(f"/api/patients/{patient.pk}/", HTTP_HOST=ALPHA)
    assert api.get("/api/audit-events/", HTTP_HOST=ALPHA).status_code == 403
    api.force_login(admin_a)
    listing = api.get(f"/api/audit-events/?action=read&object_id={patient.pk}", HTTP_HOST=ALPHA)
    assert listing.status_code == 200
    rows = listing.json()["results"]
    assert len(rows) == 1 and rows[0]["actor_label"] == doctor_a.email
    event_id = rows[0]["id"]
    # Nobody may write the audit log: the role matrix answers before the method check does.
    for response in (
        api.delete(f"/api/audit-events/{event_id}/", HTTP_HOST=ALPHA),
        api.patch(f"/api/audit-events/{event_id}/", {}, format="json", HTTP_HOST=ALPHA),
    ):
        assert response.status_code == 403 and error(response)["code"] == "role_forbidden"
    assert api.get(f"/api/audit-events/{event_id}/", HTTP_HOST=ALPHA).json()["action"] == "read"


def test_audit_events_are_append_only_in_the_database(hospital_a):
    from django.db import DatabaseError, transaction

    from hospitium.audit.services import audit_record
    from hospitium.tenancy.router import current_alias

    with hospital_context("ALPHA"):
        event = audit_record(action="read", object_type="patients", object_id="x")
        assert event is not None
        alias = current_alias(write=True)
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(using=alias):
            AuditEvent.objects.filter(pk=event).update(action="delete")
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(using=alias):
            AuditEvent.objects.filter(pk=event).delete()
        assert AuditEvent.objects.get(pk=event).action == "read"


def test_a_patient_created_without_an_mrn_gets_the_hospitals_next_number(api, hospital_a, doctor_a):
    api.force_login(doctor_a)
    without = {k: v for k, v in NEW.items() if k != "mrn"}
    first = api.post("/api/patients/", without, format="json", HTTP_HOST=ALPHA)
    second = api.post("/api/patients/", without, format="json", HTTP_HOST=ALPHA)
    assert first.status_code == second.status_code == 201, first.content
    assert [first.json()["mrn"], second.json()["mrn"]] == ["P000001", "P000002"]


def test_a_patient_is_voided_with_a_reason_through_the_api(api, hospital_a, doctor_a):
    api.force_login(doctor_a)
    patient_id = api.post("/api/patients/", NEW, format="json", HTTP_HOST=ALPHA).json()["id"]
    url = f"/api/patients/{patient_id}/"
    refused = api.post(url + "void/", {}, format="json", HTTP_HOST=ALPHA)
    assert refused.status_code == 400
    voided = api.post(url + "void/", {"reason": "Registered twice"}, format="json", HTTP_HOST=ALPHA)
    assert voided.status_code == 200, voided.content
    assert api.get(url, HTTP_HOST=ALPHA).status_code == 404


@pytest.mark.parametrize(
    "role",
    [Role.ADMIN, Role.DOCTOR, Role.NURSE, Role.RECEPTIONIST, Role.BILLING, Role.ANALYST],
)
def test_a_patients_nested_reads_follow_the_role_of_what_they_read(api, hospital_a, role):
    # They used to check only "may read patients": receptionists and billing staff read visits
    # with their diagnoses, billing read appointments and admissions, doctors and nurses read
    # invoices, while the direct routes answered 403.
    from hospitium.accounts.roles import READ, allowed
    from tests.billing import factories as billing

    with hospital_context("ALPHA"):
        patient = factories.patient()
        billing.visit(patient)
        billing.invoice(patient)
    api.force_login(make_user(f"{role}@alpha.example.test", hospital=hospital_a, role=role))
    for nested, rows in (("visits", 1), ("appointments", 0), ("admissions", 0), ("invoices", 1)):
        response = api.get(f"/api/patients/{patient.pk}/{nested}/", HTTP_HOST=ALPHA)
        direct = api.get(f"/api/{nested}/", HTTP_HOST=ALPHA)
        if allowed(nested, READ, {role}):
            assert response.status_code == direct.status_code == 200, (nested, response.content)
            assert len(response.json()) == rows, nested
        else:
            assert response.status_code == direct.status_code == 403, (nested, response.content)
            assert error(response)["code"] == "role_forbidden"
            assert nested in error(response)["message"]
