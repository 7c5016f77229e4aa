"""/audit/: the audit log for admins, filtered by person, patient (their visits, admissions and
invoices included), action and period, paged by id with a flat query count."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from hospitium.accounts.models import Role, User
from hospitium.admissions.services import admission_admit
from hospitium.audit.services import audit_record
from hospitium.billing.services import invoice_issue
from hospitium.core.context import actor_var
from hospitium.tenancy.context import hospital_context
from hospitium.tenancy.models import Hospital
from tests import factories
from tests.admissions.helpers import bed
from tests.billing import factories as billing
from tests.encounters import factories as encounters
from tests.web.helpers import client_for, max_queries, member

pytestmark = pytest.mark.django_db


def acting(user: User) -> Any:
    return actor_var.set((user.pk, user.email))


@pytest.fixture
def history(hospital_a: Hospital, admin_a: User, doctor_a: User) -> dict[str, Any]:
    """Two patients; Ada has a visit, an admission and an invoice, written by the doctor."""
    token = acting(doctor_a)
    try:
        with hospital_context(hospital_a):
            ada = factories.patient(mrn="ADA-1", given_name="Ada")
            bob = factories.patient(mrn="BOB-1", given_name="Bob")
            audit_record(action="update", object_type="patients", object_id=ada.pk)
            visit = encounters.visit(patient=ada)
            audit_record(action="create", object_type="visits", object_id=visit.pk)
            admission = admission_admit(patient=ada, bed=bed())
            invoice = invoice_issue(invoice=billing.invoice(ada))
            audit_record(action="read", object_type="patients", object_id=bob.pk)
    finally:
        actor_var.reset(token)
    return {"ada": ada, "bob": bob, "visit": visit, "admission": admission, "invoice": invoice}


def shown(response: Any) -> list[tuple[str, str]]:
    events = response.context["events"]
    return [(event.object_type, event.object_id) for event in events]


def test_a_patients_events_include_their_visits_admissions_and_invoices(
    hospital_a: Hospital, admin_a: User, history: dict[str, Any]
) -> None:
    response = client_for(hospital_a, admin_a).get("/audit/", {"patient": "ADA-1"})
    assert response.status_code == 200
    ids = {object_id for _type, object_id in shown(response)}
    for name in ("ada", "visit", "admission", "invoice"):
        assert str(history[name].pk) in ids, name
    assert str(history["bob"].pk) not in ids


def test_filters_by_person_action_and_period(
    hospital_a: Hospital, admin_a: User, doctor_a: User, history: dict[str, Any]
) -> None:
    client = client_for(hospital_a, admin_a)
    by_doctor = shown(client.get("/audit/", {"person": doctor_a.pk}))
    assert by_doctor and ("patients", str(history["bob"].pk)) in by_doctor
    assert shown(client.get("/audit/", {"person": admin_a.pk})) == []
    reads = shown(client.get("/audit/", {"action": "read"}))
    assert reads == [("patients", str(history["bob"].pk))]
    today = timezone.localdate()
    assert shown(client.get("/audit/", {"start": today, "end": today}))
    yesterday = today - dt.timedelta(days=1)
    assert shown(client.get("/audit/", {"end": yesterday})) == []


def test_invalid_filters_are_shown_beside_the_fields(
    hospital_a: Hospital, admin_a: User, history: dict[str, Any]
) -> None:
    client = client_for(hospital_a, admin_a)
    unknown = client.get("/audit/", {"patient": "NOBODY"})
    assert unknown.status_code == 200
    assert "No patient has this medical record number." in unknown.content.decode()
    backwards = client.get("/audit/", {"start": "2030-01-02", "end": "2030-01-01"})
    assert "The end of the period is before its start." in backwards.content.decode()


def test_pages_follow_the_id_and_cost_the_same_queries(
    hospital_a: Hospital, admin_a: User, django_assert_max_num_queries: Any
) -> None:
    with hospital_context(hospital_a):
        for i in range(60):
            audit_record(action="update", object_type="things", object_id=f"t{i}")
    client = client_for(hospital_a, admin_a)
    with max_queries(django_assert_max_num_queries, hospital_a, 8):
        first = client.get("/audit/", {"action": "update"})
    assert len(shown(first)) == 50
    assert shown(first)[0] == ("things", "t59")
    older = first.context["older"]
    with max_queries(django_assert_max_num_queries, hospital_a, 8):
        second = client.get("/audit/" + older)
    assert shown(second) == [("things", f"t{i}") for i in range(9, -1, -1)]
    assert second.context["older"] is None


def test_a_patients_filter_costs_the_same_queries_with_more_records(
    hospital_a: Hospital, admin_a: User, history: dict[str, Any], django_assert_max_num_queries: Any
) -> None:
    client = client_for(hospital_a, admin_a)
    with max_queries(django_assert_max_num_queries, hospital_a, 16):
        client.get("/audit/", {"patient": "ADA-1"})
    with hospital_context(hospital_a):
        for _ in range(5):
            encounters.visit(patient=history["ada"])
    with max_queries(django_assert_max_num_queries, hospital_a, 16):
        assert client.get("/audit/", {"patient": "ADA-1"}).status_code == 200


@pytest.mark.parametrize(
    "role", [Role.DOCTOR, Role.NURSE, Role.RECEPTIONIST, Role.BILLING, Role.ANALYST]
)
def test_only_admins_open_the_audit_log(hospital_a: Hospital, role: str) -> None:
    client = client_for(hospital_a, member(hospital_a, role))
    assert client.get("/audit/").status_code == 403
    assert 'href="/audit/"' not in client.get("/").content.decode()


def test_another_hospitals_admin_gets_the_404_page(
    hospital_a: Hospital, hospital_b: Hospital
) -> None:
    admin_b = member(hospital_b, Role.ADMIN)
    assert client_for(hospital_a, admin_b).get("/audit/").status_code == 404
