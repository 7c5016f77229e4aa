"""Departments and practitioners over the API: the envelope for every refused rule, hospital
isolation, the role matrix, and audit events."""

from __future__ import annotations

import pytest

from hospitium.staff.models import Department, Practitioner
from hospitium.tenancy.context import hospital_context
from tests import factories
from tests.staff.apihelp import (
    ALPHA,
    ROLES,
    audit_trail,
    client_for,
    envelope_of,
    may,
    user_with_role,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def cardiology(hospital_a) -> Department:
    with hospital_context(hospital_a):
        return factories.department(name="Cardiology")


def test_an_admin_manages_departments(admin_a, hospital_a):
    api = client_for(admin_a)
    created = api.post("/api/departments/", {"name": "Cardiology"}, HTTP_HOST=ALPHA)
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    renamed = api.patch(f"/api/departments/{pk}/", {"name": "Cardiac"}, HTTP_HOST=ALPHA)
    assert renamed.json()["name"] == "Cardiac"
    listed = api.get("/api/departments/", HTTP_HOST=ALPHA).json()["results"]
    assert [(d["name"], d["practitioner_count"]) for d in listed] == [("Cardiac", 0)]
    assert api.get(f"/api/departments/{pk}/", HTTP_HOST=ALPHA).json()["name"] == "Cardiac"
    assert api.delete(f"/api/departments/{pk}/", HTTP_HOST=ALPHA).status_code == 204
    actions = [e.action for e in audit_trail(hospital_a, "departments")]
    assert actions == ["create", "update", "list", "read", "delete"]
    assert {e.actor_id for e in audit_trail(hospital_a, "departments")} == {admin_a.pk}


def test_department_rules_answer_with_the_envelope(admin_a, hospital_a, cardiology):
    api = client_for(admin_a)
    with hospital_context(hospital_a):
        factories.practitioner(department=cardiology)
    error = envelope_of(
        api.post("/api/departments/", {"name": "cardiology"}, HTTP_HOST=ALPHA),
        status=409,
        code="conflict",
        category="conflict",
    )
    assert error["fields"] == {"name": ["Already in use in this hospital."]}
    envelope_of(
        api.post("/api/departments/", {"name": ""}, HTTP_HOST=ALPHA),
        status=400,
        code="validation_error",
    )
    error = envelope_of(
        api.delete(f"/api/departments/{cardiology.pk}/", HTTP_HOST=ALPHA),
        status=422,
        code="business_rule",
        category="business_rule",
    )
    assert "still has 1 practitioner" in error["message"]
    with hospital_context(hospital_a):
        assert list(Department.objects.values_list("name", flat=True)) == ["Cardiology"]


def test_an_admin_manages_practitioners(admin_a, doctor_a, hospital_a, cardiology):
    api = client_for(admin_a)
    payload = {
        "display_name": "Dr. Ada",
        "kind": "doctor",
        "specialty": "Cardiology",
        "department": str(cardiology.pk),
        "user": doctor_a.pk,
    }
    created = api.post("/api/practitioners/", payload, format="json", HTTP_HOST=ALPHA)
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["user"], body["department_name"]) == (doctor_a.pk, "Cardiology")
    changed = api.patch(
        f"/api/practitioners/{body['id']}/",
        {"specialty": "Surgery", "user": None},
        format="json",
        HTTP_HOST=ALPHA,
    )
    assert changed.status_code == 200, changed.content
    assert (changed.json()["specialty"], changed.json()["user"]) == ("Surgery", None)
    filtered = api.get(f"/api/practitioners/?department={cardiology.pk}", HTTP_HOST=ALPHA)
    assert [p["display_name"] for p in filtered.json()["results"]] == ["Dr. Ada"]
    assert [e.action for e in audit_trail(hospital_a, "practitioners")] == [
        "create",
        "update",
        "list",
    ]


def test_practitioner_rules_answer_with_the_envelope(admin_a, hospital_a, cardiology):
    api = client_for(admin_a)
    base = {"display_name": "Dr. X", "department": str(cardiology.pk)}
    error = envelope_of(
        api.post("/api/practitioners/", {**base, "user": 999999}, format="json", HTTP_HOST=ALPHA),
        status=400,
        code="validation_error",
        category="validation",
    )
    assert "user" in error["fields"]
    error = envelope_of(
        api.post("/api/practitioners/", {**base, "kind": "wizard"}, format="json", HTTP_HOST=ALPHA),
        status=400,
        code="validation_error",
    )
    assert "kind" in error["fields"]
    with hospital_context(hospital_a):
        practitioner = factories.practitioner(department=cardiology)
    envelope_of(
        api.delete(f"/api/practitioners/{practitioner.pk}/", HTTP_HOST=ALPHA),
        status=422,
        code="business_rule",
    )
    with hospital_context(hospital_a):
        assert Practitioner.objects.count() == 1


def test_another_hospital_cannot_see_or_change_departments_or_practitioners(
    doctor_b, hospital_a, hospital_b, cardiology
):
    with hospital_context(hospital_a):
        practitioner = factories.practitioner(department=cardiology)
    api = client_for(doctor_b)
    # On A's host a member of B is not a member: 404, so A's existence is not revealed.
    for path in ("/api/departments/", f"/api/departments/{cardiology.pk}/"):
        envelope_of(api.get(path, HTTP_HOST=ALPHA), status=404, code="not_found")
    envelope_of(
        api.patch(f"/api/practitioners/{practitioner.pk}/", {"specialty": "x"}, HTTP_HOST=ALPHA),
        status=404,
        code="not_found",
    )
    # On B's own host A's rows simply do not exist.
    bravo = "bravo.example.test"
    assert api.get("/api/departments/", HTTP_HOST=bravo).json()["results"] == []
    envelope_of(
        api.get(f"/api/practitioners/{practitioner.pk}/", HTTP_HOST=bravo),
        status=404,
        code="not_found",
    )
    with hospital_context(hospital_a):
        assert Practitioner.objects.get().specialty == ""


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("resource", ["departments", "practitioners"])
def test_the_role_matrix_decides_who_reads_and_writes(hospital_a, cardiology, role, resource):
    api = client_for(user_with_role(hospital_a, role))
    listed = api.get(f"/api/{resource}/", HTTP_HOST=ALPHA)
    if may(resource, "read", role):
        assert listed.status_code == 200
    else:
        envelope_of(listed, status=403, code="role_forbidden", category="permission")
    payload = (
        {"name": "Oncology"}
        if resource == "departments"
        else {"display_name": "Dr. New", "department": str(cardiology.pk)}
    )
    created = api.post(f"/api/{resource}/", payload, format="json", HTTP_HOST=ALPHA)
    if may(resource, "write", role):
        assert created.status_code == 201, created.content
    else:
        envelope_of(created, status=403, code="role_forbidden", category="permission")
        with hospital_context(hospital_a):
            assert Department.objects.count() == 1
            assert not Practitioner.objects.exists()
