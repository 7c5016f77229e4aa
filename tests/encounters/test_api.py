"""Visits, diagnoses and treatments over the REST API: the life of a visit, every rule in the
error envelope, filters, voiding, the role matrix, audit, and hospital isolation."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from hospitium.accounts.models import Role
from hospitium.audit.models import AuditEvent
from hospitium.audit.services import break_glass_open
from hospitium.encounters.models import Diagnosis, Treatment, Visit
from hospitium.tenancy.context import hospital_context
from tests import factories
from tests.conftest import make_user
from tests.encounters import factories as enc
from tests.encounters.factories import T0

pytestmark = pytest.mark.django_db

ALPHA = "alpha.example.test"
BRAVO = "bravo.example.test"


def error_of(response: Any, status: int) -> dict[str, Any]:
    """The envelope's error of a JSON error response with this status."""
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == {"code", "message", "category", "fields", "request_id"}
    assert error["request_id"] == response["X-Request-ID"]
    return error


def results(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.content
    return response.json()["results"]


def counts(hospital: Any) -> tuple[int, int, int]:
    with hospital_context(hospital):
        return (
            Visit.all_objects.count(),
            Diagnosis.all_objects.count(),
            Treatment.all_objects.count(),
        )


def audit(hospital: Any, action: str, object_type: str) -> list[tuple[str, int | None]]:
    with hospital_context(hospital):
        return list(
            AuditEvent.objects.filter(action=action, object_type=object_type)
            .order_by("id")
            .values_list("object_id", "actor_id")
        )


# --- the life of a visit ---------------------------------------------------------------------


def test_a_visit_is_recorded_read_changed_closed_and_audited(api, clinic, doctor_a):
    api.force_login(doctor_a)
    created = api.post(
        "/api/visits/",
        {
            "patient": str(clinic.patient.pk),
            "practitioner": str(clinic.practitioner.pk),
            "kind": "dental",
            "started_at": "2026-11-24T10:00:00Z",
            "chief_complaint": "Toothache",
        },
        format="json",
        HTTP_HOST=ALPHA,
    )
    assert created.status_code == 201, created.content
    body = created.json()
    visit_id = body["id"]
    assert body["patient"] == str(clinic.patient.pk)
    assert (body["kind"], body["ended_at"], body["diagnoses"], body["treatments"]) == (
        "dental",
        None,
        [],
        [],
    )
    read = api.get(f"/api/visits/{visit_id}/", HTTP_HOST=ALPHA)
    assert read.status_code == 200 and read.json()["chief_complaint"] == "Toothache"
    changed = api.patch(
        f"/api/visits/{visit_id}/", {"chief_complaint": "Abscess"}, format="json", HTTP_HOST=ALPHA
    )
    assert changed.status_code == 200 and changed.json()["chief_complaint"] == "Abscess"
    closed = api.post(
        f"/api/visits/{visit_id}/close/",
        {"ended_at": "2026-11-24T10:30:00Z"},
        format="json",
        HTTP_HOST=ALPHA,
    )
    assert closed.status_code == 200 and closed.json()["ended_at"] == "2026-11-24T10:30:00Z"
    again = api.post(f"/api/visits/{visit_id}/close/", {}, format="json", HTTP_HOST=ALPHA)
    assert error_of(again, 422)["code"] == "business_rule"
    assert audit(clinic.hospital, "create", "visits") == [(visit_id, doctor_a.pk)]
    assert audit(clinic.hospital, "read", "visits") == [(visit_id, doctor_a.pk)]
    assert audit(clinic.hospital, "update", "visits") == [(visit_id, doctor_a.pk)] * 2


def test_diagnoses_and_treatments_are_added_through_their_visit(api, clinic, doctor_a):
    api.force_login(doctor_a)
    with hospital_context(clinic.hospital):
        visit = enc.visit(patient=clinic.patient)
    diagnosis = api.post(
        f"/api/visits/{visit.pk}/diagnoses/",
        {"code": "j450", "is_primary": True},
        format="json",
        HTTP_HOST=ALPHA,
    )
    assert diagnosis.status_code == 201, diagnosis.content
    assert diagnosis.json()["code"] == "J45.0"
    assert diagnosis.json()["description"] == "Predominantly allergic asthma"
    assert diagnosis.json()["visit"] == str(visit.pk)
    treatment = api.post(
        f"/api/visits/{visit.pk}/treatments/",
        {"procedure": "Inhaler", "follow_up_required": True, "follow_up_date": "2026-12-01"},
        format="json",
        HTTP_HOST=ALPHA,
    )
    assert treatment.status_code == 201, treatment.content
    assert treatment.json()["performed_on"] == "2026-11-23"
    nested = api.get(f"/api/visits/{visit.pk}/", HTTP_HOST=ALPHA).json()
    assert [d["code"] for d in nested["diagnoses"]] == ["J45.0"]
    assert [t["procedure"] for t in nested["treatments"]] == ["Inhaler"]
    through_patient = api.get(f"/api/patients/{clinic.patient.pk}/visits/", HTTP_HOST=ALPHA)
    assert through_patient.status_code == 200
    by_id = {v["id"]: v for v in through_patient.json()}
    assert set(by_id) == {str(visit.pk), str(clinic.visit.pk)}
    assert [d["code"] for d in by_id[str(visit.pk)]["diagnoses"]] == ["J45.0"]
    assert audit(clinic.hospital, "create", "diagnoses") == [(diagnosis.json()["id"], doctor_a.pk)]
    assert audit(clinic.hospital, "create", "treatments") == [(treatment.json()["id"], doctor_a.pk)]


def test_diagnoses_and_treatments_are_changed_and_read_on_their_own(api, clinic, doctor_a):
    api.force_login(doctor_a)
    diagnosis_url = f"/api/diagnoses/{clinic.diagnosis.pk}/"
    treatment_url = f"/api/treatments/{clinic.treatment.pk}/"
    changed = api.patch(diagnosis_url, {"code": "I10"}, format="json", HTTP_HOST=ALPHA)
    assert changed.status_code == 200, changed.content
    assert changed.json()["description"] == "Essential (primary) hypertension"
    outcome = api.patch(
        treatment_url,
        {"outcome": "resolved", "follow_up_kept_on": "2026-11-30"},
        format="json",
        HTTP_HOST=ALPHA,
    )
    assert outcome.status_code == 200, outcome.content
    assert (outcome.json()["outcome"], outcome.json()["follow_up_kept_on"]) == (
        "resolved",
        "2026-11-30",
    )
    assert api.get(diagnosis_url, HTTP_HOST=ALPHA).json()["code"] == "I10"
    assert api.get(treatment_url, HTTP_HOST=ALPHA).json()["outcome"] == "resolved"
    listed = results(api.get("/api/diagnoses/", HTTP_HOST=ALPHA))
    assert [d["id"] for d in listed] == [str(clinic.diagnosis.pk)]
    with hospital_context(clinic.hospital):
        assert Treatment.objects.get().follow_up_kept_on.isoformat() == "2026-11-30"
    for resource, pk in (("diagnoses", clinic.diagnosis.pk), ("treatments", clinic.treatment.pk)):
        assert audit(clinic.hospital, "update", resource) == [(str(pk), doctor_a.pk)]
        assert audit(clinic.hospital, "read", resource) == [(str(pk), doctor_a.pk)]
    assert len(audit(clinic.hospital, "list", "diagnoses")) == 1


def test_children_are_not_created_on_their_own_nor_deleted(api, clinic, doctor_a):
    api.force_login(doctor_a)
    for resource in ("diagnoses", "treatments"):
        posted = api.post(f"/api/{resource}/", {"code": "I10"}, format="json", HTTP_HOST=ALPHA)
        error = error_of(posted, 405)
        assert error["code"] == "method_not_allowed"
        assert f"/api/visits/{{id}}/{resource}/" in error["message"]
    deleted = api.delete(f"/api/visits/{clinic.visit.pk}/", HTTP_HOST=ALPHA)
    assert "void" in error_of(deleted, 422)["message"]
    put = api.put(f"/api/visits/{clinic.visit.pk}/", {}, format="json", HTTP_HOST=ALPHA)
    assert error_of(put, 405)["code"] == "method_not_allowed"
    assert counts(clinic.hospital) == (1, 1, 1)


# --- every rule in the envelope ---------------------------------------------------------------


def _visit_body(clinic: Any, **extra: Any) -> dict[str, Any]:
    return {
        "patient": str(clinic.patient.pk),
        "practitioner": str(clinic.practitioner.pk),
        "started_at": "2026-11-23T09:00:00Z",
    } | extra


RULES = [
    pytest.param(
        "visits", {"ended_at": "2026-11-23T08:00:00Z"}, 400, "validation_error", "ended_at",
        id="visit-ends-before-start",
    ),
    pytest.param("visits", {"kind": "surgical"}, 400, "validation_error", "kind", id="visit-kind"),
    pytest.param(
        "diagnoses", {"code": "XYZ.99"}, 400, "validation_error", "code", id="icd10-unknown"
    ),
    pytest.param(
        "diagnoses", {"code": "J40-J47"}, 400, "validation_error", "code", id="icd10-block"
    ),
    pytest.param(
        "diagnoses", {"code": "I10", "is_primary": True}, 409, "conflict", "is_primary",
        id="second-primary",
    ),
    pytest.param(
        "treatments", {"procedure": "Cast", "performed_on": "2026-11-22"}, 400,
        "validation_error", "performed_on", id="treatment-before-visit",
    ),
    pytest.param(
        "treatments", {"procedure": "Cast", "follow_up_date": "2026-11-30"}, 400,
        "validation_error", "follow_up_date", id="follow-up-not-required",
    ),
    pytest.param(
        "treatments",
        {"procedure": "Cast", "performed_on": "2026-11-25", "follow_up_required": True,
         "follow_up_date": "2026-11-24"},
        400, "validation_error", "follow_up_date", id="follow-up-before-treatment",
    ),
    pytest.param(
        "treatments", {"procedure": "Cast", "outcome": "cured"}, 400, "validation_error",
        "outcome", id="outcome",
    ),
    pytest.param(
        "treatments", {"procedure": "Cast", "follow_up_kept_on": "2026-11-01"}, 400,
        "validation_error", "follow_up_kept_on", id="kept-before-treatment",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("kind", "body", "status", "code", "field"), RULES)
def test_each_rule_answers_in_the_envelope_and_writes_nothing(
    api, clinic, doctor_a, kind, body, status, code, field
):
    api.force_login(doctor_a)
    before = counts(clinic.hospital)
    if kind == "visits":
        response = api.post(
            "/api/visits/", _visit_body(clinic, **body), format="json", HTTP_HOST=ALPHA
        )
    else:
        url = f"/api/visits/{clinic.visit.pk}/{kind}/"
        response = api.post(url, body, format="json", HTTP_HOST=ALPHA)
    error = error_of(response, status)
    assert error["code"] == code
    assert error["category"] == ("conflict" if status == 409 else "validation")
    assert field in error["fields"], error
    assert counts(clinic.hospital) == before
    assert audit(clinic.hospital, "create", kind) == []


def test_changes_keep_the_rules_too(api, clinic, doctor_a):
    api.force_login(doctor_a)
    visit_url = f"/api/visits/{clinic.visit.pk}/"
    moved = api.patch(
        visit_url, {"patient": str(factories_patient(clinic).pk)}, format="json", HTTP_HOST=ALPHA
    )
    assert "patient" in error_of(moved, 400)["fields"]
    late = api.patch(
        visit_url, {"started_at": "2026-11-25T09:00:00Z"}, format="json", HTTP_HOST=ALPHA
    )
    assert "started_at" in error_of(late, 400)["fields"]
    treatment = api.patch(
        f"/api/treatments/{clinic.treatment.pk}/",
        {"follow_up_date": "2026-12-01"},
        format="json",
        HTTP_HOST=ALPHA,
    )
    assert "follow_up_date" in error_of(treatment, 400)["fields"]
    diagnosis = api.patch(
        f"/api/diagnoses/{clinic.diagnosis.pk}/", {"code": "nope"}, format="json", HTTP_HOST=ALPHA
    )
    assert "code" in error_of(diagnosis, 400)["fields"]
    with hospital_context(clinic.hospital):
        assert Visit.objects.get().started_at == T0
        assert Treatment.objects.get().follow_up_date is None
        assert Diagnosis.objects.get().code == "J45.0"


def factories_patient(clinic: Any) -> Any:
    with hospital_context(clinic.hospital):
        return factories.patient()


def test_another_hospitals_patient_is_simply_not_there(api, clinic, hospital_b, doctor_a):
    with hospital_context(hospital_b):
        stranger = factories.patient()
        their_doctor = factories.practitioner()
    api.force_login(doctor_a)

    def attempt(**ids: str) -> dict[str, Any]:
        response = api.post(
            "/api/visits/", _visit_body(clinic, **ids), format="json", HTTP_HOST=ALPHA
        )
        return error_of(response, 400)

    theirs = attempt(patient=str(stranger.pk))
    unknown = attempt(patient=str(uuid.uuid4()))
    assert theirs["fields"] == unknown["fields"]
    assert list(theirs["fields"]) == ["patient"]
    assert list(attempt(practitioner=str(their_doctor.pk))["fields"]) == ["practitioner"]
    assert counts(clinic.hospital) == (1, 1, 1)


# --- voiding ----------------------------------------------------------------------------------


def test_a_voided_visit_and_its_children_vanish_from_every_list(api, clinic, doctor_a):
    api.force_login(doctor_a)
    url = f"/api/visits/{clinic.visit.pk}/void/"
    assert "reason" in error_of(api.post(url, {}, format="json", HTTP_HOST=ALPHA), 400)["fields"]
    voided = api.post(url, {"reason": "wrong patient"}, format="json", HTTP_HOST=ALPHA)
    assert voided.status_code == 200, voided.content
    assert voided.json()["void_reason"] == "wrong patient" and voided.json()["voided_at"]
    for resource in ("visits", "diagnoses", "treatments"):
        assert results(api.get(f"/api/{resource}/", HTTP_HOST=ALPHA)) == []
    assert api.get(f"/api/visits/{clinic.visit.pk}/", HTTP_HOST=ALPHA).status_code == 404
    assert api.get(f"/api/diagnoses/{clinic.diagnosis.pk}/", HTTP_HOST=ALPHA).status_code == 404
    again = api.post(url, {"reason": "again"}, format="json", HTTP_HOST=ALPHA)
    assert error_of(again, 404)["code"] == "not_found"
    child = api.post(
        f"/api/visits/{clinic.visit.pk}/diagnoses/", {"code": "I10"}, format="json", HTTP_HOST=ALPHA
    )
    assert error_of(child, 404)["code"] == "not_found"
    assert api.get(f"/api/patients/{clinic.patient.pk}/visits/", HTTP_HOST=ALPHA).json() == []
    with hospital_context(clinic.hospital):
        for model in (Visit, Diagnosis, Treatment):
            assert model.objects.count() == 0
            assert model.all_objects.get().void_reason == "wrong patient"
    assert audit(clinic.hospital, "void", "visits") == [(str(clinic.visit.pk), doctor_a.pk)]
    assert audit(clinic.hospital, "void", "diagnoses") == [(str(clinic.diagnosis.pk), doctor_a.pk)]


@pytest.mark.parametrize("resource", ["diagnoses", "treatments"])
def test_a_child_is_voided_on_its_own(api, clinic, doctor_a, resource):
    api.force_login(doctor_a)
    pk = clinic.diagnosis.pk if resource == "diagnoses" else clinic.treatment.pk
    voided = api.post(
        f"/api/{resource}/{pk}/void/", {"reason": "entered twice"}, format="json", HTTP_HOST=ALPHA
    )
    assert voided.status_code == 200, voided.content
    assert results(api.get(f"/api/{resource}/", HTTP_HOST=ALPHA)) == []
    visit = api.get(f"/api/visits/{clinic.visit.pk}/", HTTP_HOST=ALPHA).json()
    assert visit[resource] == []
    assert counts(clinic.hospital) == (1, 1, 1)
    assert audit(clinic.hospital, "void", resource) == [(str(pk), doctor_a.pk)]


# --- filters and ordering --------------------------------------------------------------------


def test_visits_are_filtered_and_ordered(api, clinic, doctor_a):
    import datetime as dt

    with hospital_context(clinic.hospital):
        later = enc.visit(
            patient=clinic.patient, kind="dental", started_at=T0 + dt.timedelta(days=3)
        )
        other = enc.visit(started_at=T0 + dt.timedelta(days=1))
    api.force_login(doctor_a)

    def ids(query: str) -> list[str]:
        return [v["id"] for v in results(api.get(f"/api/visits/?{query}", HTTP_HOST=ALPHA))]

    first, second, third = str(clinic.visit.pk), str(other.pk), str(later.pk)
    assert ids("") == [third, second, first]
    assert ids("ordering=started_at") == [first, second, third]
    assert ids(f"patient={clinic.patient.pk}&ordering=started_at") == [first, third]
    assert ids(f"practitioner={other.practitioner_id}") == [second]
    assert ids("kind=dental") == [third]
    assert ids("started_after=2026-11-24T00:00:00Z&started_before=2026-11-25T00:00:00Z") == [second]
    assert ids(f"patient={uuid.uuid4()}") == []
    bad = api.get("/api/visits/?patient=not-a-uuid", HTTP_HOST=ALPHA)
    assert "patient" in error_of(bad, 400)["fields"]
    assert [
        d["id"] for d in results(api.get(f"/api/diagnoses/?visit={other.pk}", HTTP_HOST=ALPHA))
    ] == []
    assert [
        t["id"]
        for t in results(api.get(f"/api/treatments/?visit={clinic.visit.pk}", HTTP_HOST=ALPHA))
    ] == [str(clinic.treatment.pk)]
    with hospital_context(clinic.hospital):
        [event, *_] = AuditEvent.objects.filter(action="list", object_type="visits").order_by("id")
    assert event.detail == {"count": 3, "query": {}}


# --- the role matrix -------------------------------------------------------------------------

READERS = {Role.ADMIN, Role.DOCTOR, Role.NURSE}
WRITERS = {Role.ADMIN, Role.DOCTOR}


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("resource", ["visits", "diagnoses", "treatments"])
def test_the_role_matrix_decides_who_reads_and_writes(api, clinic, role, resource):
    user = make_user(f"{role}@alpha.example.test", hospital=clinic.hospital, role=role)
    api.force_login(user)
    pk = {"visits": clinic.visit.pk, "diagnoses": clinic.diagnosis.pk}.get(
        resource, clinic.treatment.pk
    )
    listing = api.get(f"/api/{resource}/", HTTP_HOST=ALPHA)
    detail = api.get(f"/api/{resource}/{pk}/", HTTP_HOST=ALPHA)
    change = {"visits": {"chief_complaint": "Fever"}, "diagnoses": {"code": "I10"}}.get(
        resource, {"outcome": "improved"}
    )
    patched = api.patch(f"/api/{resource}/{pk}/", change, format="json", HTTP_HOST=ALPHA)
    if resource == "visits":
        added = api.post("/api/visits/", _visit_body(clinic), format="json", HTTP_HOST=ALPHA)
    else:
        body = {"code": "E11.9"} if resource == "diagnoses" else {"procedure": "Splint"}
        added = api.post(
            f"/api/visits/{clinic.visit.pk}/{resource}/", body, format="json", HTTP_HOST=ALPHA
        )
    may_read, may_write = role in READERS, role in WRITERS
    for response in (listing, detail):
        if may_read:
            assert response.status_code == 200, response.content
        else:
            error = error_of(response, 403)
            assert error["code"] == "role_forbidden" and role in error["message"]
    assert patched.status_code == (200 if may_write else 403), patched.content
    assert added.status_code == (201 if may_write else 403), added.content
    if not may_write:
        assert error_of(added, 403)["code"] == "role_forbidden"
        assert counts(clinic.hospital) == (1, 1, 1)
        assert audit(clinic.hospital, "update", resource) == []
    else:
        expected = {"visits": (2, 1, 1), "diagnoses": (1, 2, 1), "treatments": (1, 1, 2)}
        assert counts(clinic.hospital) == expected[resource]


def test_a_superuser_reads_nothing_without_break_glass(api, clinic, superuser):
    api.force_login(superuser)
    for path in ("/api/visits/", f"/api/visits/{clinic.visit.pk}/"):
        assert error_of(api.get(path, HTTP_HOST=ALPHA), 404)["code"] == "not_found"


def test_a_superuser_with_break_glass_may_do_everything(api, clinic, superuser):
    break_glass_open(user=superuser, hospital=clinic.hospital, reason="Fix a stuck visit")
    api.force_login(superuser)
    assert results(api.get("/api/visits/", HTTP_HOST=ALPHA))[0]["id"] == str(clinic.visit.pk)
    added = api.post(
        f"/api/visits/{clinic.visit.pk}/treatments/",
        {"procedure": "Splint"},
        format="json",
        HTTP_HOST=ALPHA,
    )
    assert added.status_code == 201


# --- isolation -------------------------------------------------------------------------------


def _every_verb(api: Any, clinic: Any, host: str) -> list[Any]:
    visit, diagnosis, treatment = clinic.visit.pk, clinic.diagnosis.pk, clinic.treatment.pk
    void = {"reason": "sabotage"}
    return [
        api.get(f"/api/visits/{visit}/", HTTP_HOST=host),
        api.patch(f"/api/visits/{visit}/", {"kind": "dental"}, format="json", HTTP_HOST=host),
        api.post(f"/api/visits/{visit}/void/", void, format="json", HTTP_HOST=host),
        api.post(f"/api/visits/{visit}/close/", {}, format="json", HTTP_HOST=host),
        api.post(f"/api/visits/{visit}/diagnoses/", {"code": "I10"}, format="json", HTTP_HOST=host),
        api.post(
            f"/api/visits/{visit}/treatments/", {"procedure": "X"}, format="json", HTTP_HOST=host
        ),
        api.get(f"/api/visits/{visit}/delete-preview/", HTTP_HOST=host),
        api.get(f"/api/diagnoses/{diagnosis}/", HTTP_HOST=host),
        api.patch(f"/api/diagnoses/{diagnosis}/", {"code": "I10"}, format="json", HTTP_HOST=host),
        api.post(f"/api/diagnoses/{diagnosis}/void/", void, format="json", HTTP_HOST=host),
        api.get(f"/api/treatments/{treatment}/", HTTP_HOST=host),
        api.patch(
            f"/api/treatments/{treatment}/", {"outcome": "worsened"}, format="json", HTTP_HOST=host
        ),
        api.post(f"/api/treatments/{treatment}/void/", void, format="json", HTTP_HOST=host),
    ]


def _unchanged(clinic: Any) -> None:
    with hospital_context(clinic.hospital):
        visit = Visit.objects.get()
        assert (visit.kind, visit.ended_at) == ("medical", None)
        assert Diagnosis.objects.get().code == "J45.0"
        assert Treatment.objects.get().outcome == ""
    assert counts(clinic.hospital) == (1, 1, 1)


def test_a_doctor_of_another_hospital_gets_404_on_alphas_host(api, clinic, doctor_b):
    api.force_login(doctor_b)
    for resource in ("visits", "diagnoses", "treatments"):
        assert error_of(api.get(f"/api/{resource}/", HTTP_HOST=ALPHA), 404)["code"] == "not_found"
    for response in _every_verb(api, clinic, ALPHA):
        assert error_of(response, 404)["code"] == "not_found"
    _unchanged(clinic)


def test_alphas_rows_do_not_exist_in_bravo(api, clinic, doctor_b):
    api.force_login(doctor_b)
    for resource in ("visits", "diagnoses", "treatments"):
        assert results(api.get(f"/api/{resource}/", HTTP_HOST=BRAVO)) == []
    for response in _every_verb(api, clinic, BRAVO):
        assert error_of(response, 404)["code"] == "not_found"
    _unchanged(clinic)
    with hospital_context("BRAVO"):
        assert Visit.all_objects.count() == 0
        assert not AuditEvent.objects.filter(action__in=["update", "void", "create"]).exists()
