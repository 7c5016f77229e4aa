"""Patient pages with Django's test client, on both stores: search, the patient's page and its
timeline per role, register (MRN given, likely duplicates first), edit, void; query counts that
do not grow with the data."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from hospitium.accounts.models import Role, User
from hospitium.audit.models import AuditEvent
from hospitium.billing.services import invoice_issue
from hospitium.patients.models import Patient
from hospitium.patients.services import patient_register
from hospitium.scheduling.models import Appointment
from hospitium.tenancy.context import hospital_context
from hospitium.tenancy.models import Hospital
from tests import factories
from tests.billing import factories as billing
from tests.web.helpers import client_for, max_queries, member

pytestmark = pytest.mark.django_db

BORN = dt.date(1990, 12, 10)
FORM = {
    "given_name": "Ada",
    "family_name": "Lovelace",
    "birth_date": "1990-12-10",
    "sex": "female",
    "phone": "",
    "email": "",
    "address": "",
}


def _ada(hospital: Hospital) -> Patient:
    with hospital_context(hospital):
        return patient_register(given_name="Ada", family_name="Lovelace", birth_date=BORN)


def _history(hospital: Hospital, patient: Patient, n: int) -> None:
    """``n`` appointments, visits with a diagnosis-free note, and issued invoices."""
    now = timezone.now()
    with hospital_context(hospital):
        doctor = factories.practitioner()
        for i in range(n):
            start = now - dt.timedelta(days=i + 1)
            Appointment.objects.create(
                patient=patient,
                practitioner=doctor,
                starts_at=start,
                ends_at=start + dt.timedelta(minutes=15),
                reason=f"Check-up {i}",
            )
            billing.visit(patient, practitioner=doctor, started_at=start)
            invoice_issue(invoice=billing.invoice(patient, lines=[("1", "10.00")]))


def test_search_answers_the_fragment_to_htmx_and_the_page_otherwise(
    hospital_a: Hospital, doctor_a: User
) -> None:
    _ada(hospital_a)
    client = client_for(hospital_a, doctor_a)
    page = client.get("/patients/", {"q": "lovel"})
    fragment = client.get("/patients/", {"q": "lovel"}, HTTP_HX_REQUEST="true")
    assert "Lovelace, Ada" in page.content.decode()
    assert "<html" in page.content.decode()
    assert "Lovelace, Ada" in fragment.content.decode()
    assert "<html" not in fragment.content.decode()
    assert "Lovelace" not in client.get("/patients/", {"q": "hopper"}).content.decode()


def test_search_costs_the_same_queries_with_more_patients(
    hospital_a: Hospital, doctor_a: User, django_assert_max_num_queries
) -> None:
    client = client_for(hospital_a, doctor_a)
    _ada(hospital_a)
    with max_queries(django_assert_max_num_queries, hospital_a, 6):
        client.get("/patients/", {"q": "lovel"}, HTTP_HX_REQUEST="true")
    with hospital_context(hospital_a):
        for _ in range(30):
            factories.patient(family_name="Lovell")
    with max_queries(django_assert_max_num_queries, hospital_a, 6):
        response = client.get("/patients/", {"q": "lovel"}, HTTP_HX_REQUEST="true")
    assert response.content.decode().count("<tr>") == 26  # 25 rows and the header


def test_an_analyst_may_not_open_patients(hospital_a: Hospital) -> None:
    response = client_for(hospital_a, member(hospital_a, Role.ANALYST)).get("/patients/")
    assert response.status_code == 403


def test_the_patient_page_shows_the_timeline_and_audits_the_read(
    hospital_a: Hospital, admin_a: User, django_assert_max_num_queries
) -> None:
    ada = _ada(hospital_a)
    client = client_for(hospital_a, admin_a)
    _history(hospital_a, ada, 2)
    with max_queries(django_assert_max_num_queries, hospital_a, 14):
        small = client.get(f"/patients/{ada.pk}/")
    _history(hospital_a, ada, 10)
    with max_queries(django_assert_max_num_queries, hospital_a, 14):
        big = client.get(f"/patients/{ada.pk}/")
    page = big.content.decode()
    assert small.status_code == big.status_code == 200
    assert ada.mrn in page
    assert page.count("Check-up") == 12
    assert "Invoice" in page and "Visit (" in page
    with hospital_context(hospital_a):
        assert AuditEvent.objects.filter(action="read", object_id=str(ada.pk)).count() == 2


@pytest.mark.parametrize(
    ("role", "sees", "hidden"),
    [
        (Role.RECEPTIONIST, ["Appointment", "Invoice"], ["Visit ("]),
        (Role.NURSE, ["Appointment", "Visit ("], ["Invoice"]),
        (Role.BILLING, ["Invoice"], ["Appointment", "Visit ("]),
    ],
)
def test_the_timeline_shows_only_what_the_role_may_read(
    hospital_a: Hospital, role: str, sees: list[str], hidden: list[str]
) -> None:
    ada = _ada(hospital_a)
    _history(hospital_a, ada, 1)
    page = client_for(hospital_a, member(hospital_a, role)).get(f"/patients/{ada.pk}/")
    text = page.content.decode()
    for word in sees:
        assert word in text
    for word in hidden:
        assert word not in text


def test_billing_reads_but_does_not_edit(hospital_a: Hospital) -> None:
    ada = _ada(hospital_a)
    client = client_for(hospital_a, member(hospital_a, Role.BILLING))
    assert "Edit details" not in client.get(f"/patients/{ada.pk}/").content.decode()
    assert client.get(f"/patients/{ada.pk}/edit/").status_code == 403
    assert client.get("/patients/new/").status_code == 403


def test_another_hospitals_patient_is_not_found(
    hospital_a: Hospital, hospital_b: Hospital, doctor_b: User
) -> None:
    ada = _ada(hospital_a)
    assert client_for(hospital_b, doctor_b).get(f"/patients/{ada.pk}/").status_code == 404
    assert client_for(hospital_a, doctor_b).get(f"/patients/{ada.pk}/").status_code == 404


def test_registering_gives_the_mrn_and_leads_to_the_patient(
    hospital_a: Hospital, doctor_a: User
) -> None:
    client = client_for(hospital_a, doctor_a)
    response = client.post("/patients/new/", FORM)
    assert response.status_code == 302
    with hospital_context(hospital_a):
        ada = Patient.objects.get()
    assert ada.mrn == "P000001"
    assert ada.registered_by_id == doctor_a.pk
    assert response["Location"] == f"/patients/{ada.pk}/"
    assert "P000001" in client.get(response["Location"]).content.decode()


def test_invalid_input_is_shown_beside_the_field_and_in_the_summary(
    hospital_a: Hospital, doctor_a: User
) -> None:
    future = (timezone.localdate() + dt.timedelta(days=3)).isoformat()
    response = client_for(hospital_a, doctor_a).post(
        "/patients/new/", {**FORM, "given_name": "", "birth_date": future}
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert 'id="id_given_name_error"' in page
    assert 'href="#id_given_name"' in page
    assert 'aria-describedby="id_given_name_error"' in page


def test_a_service_rule_is_shown_beside_its_field(hospital_a: Hospital, doctor_a: User) -> None:
    future = (timezone.localdate() + dt.timedelta(days=3)).isoformat()
    page = client_for(hospital_a, doctor_a).post("/patients/new/", {**FORM, "birth_date": future})
    assert 'id="id_birth_date_error"' in page.content.decode()
    assert "A birth date cannot be in the future." in page.content.decode()


def test_a_likely_duplicate_is_shown_before_saving(hospital_a: Hospital, doctor_a: User) -> None:
    ada = _ada(hospital_a)
    client = client_for(hospital_a, doctor_a)
    first = client.post("/patients/new/", {**FORM, "given_name": "Adah"})
    assert first.status_code == 200
    assert f'href="/patients/{ada.pk}/"' in first.content.decode()
    with hospital_context(hospital_a):
        assert Patient.objects.count() == 1
    confirmed = client.post("/patients/new/", {**FORM, "given_name": "Adah", "confirm_new": "1"})
    assert confirmed.status_code == 302
    with hospital_context(hospital_a):
        assert Patient.objects.count() == 2


def test_editing_saves_through_the_service(hospital_a: Hospital, doctor_a: User) -> None:
    ada = _ada(hospital_a)
    client = client_for(hospital_a, doctor_a)
    form = client.get(f"/patients/{ada.pk}/edit/").content.decode()
    assert 'value="Lovelace"' in form
    response = client.post(
        f"/patients/{ada.pk}/edit/", {**FORM, "family_name": "King", "status": "active"}
    )
    assert response["Location"] == f"/patients/{ada.pk}/"
    with hospital_context(hospital_a):
        assert Patient.objects.get(pk=ada.pk).family_name == "King"
        assert AuditEvent.objects.filter(action="update", object_id=str(ada.pk)).exists()


def test_voiding_needs_a_reason_and_hides_the_patient(hospital_a: Hospital, doctor_a: User) -> None:
    ada = _ada(hospital_a)
    client = client_for(hospital_a, doctor_a)
    refused = client.post(f"/patients/{ada.pk}/void/", {"reason": ""})
    assert 'id="id_reason_error"' in refused.content.decode()
    done = client.post(f"/patients/{ada.pk}/void/", {"reason": "Registered twice"})
    assert done["Location"] == "/patients/"
    assert client.get(f"/patients/{ada.pk}/").status_code == 404
    with hospital_context(hospital_a):
        assert Patient.all_objects.get(pk=ada.pk).void_reason == "Registered twice"


def test_a_search_with_more_matches_than_shown_asks_for_more_letters(
    hospital_a: Hospital, doctor_a: User
) -> None:
    with hospital_context(hospital_a):
        for _ in range(26):
            factories.patient(family_name="Lovell")
        factories.patient(family_name="Hopper")
    client = client_for(hospital_a, doctor_a)
    crowded = client.get("/patients/", {"q": "lovel"}, HTTP_HX_REQUEST="true").content.decode()
    assert "The first 25 patients" in crowded and "type more" in crowded
    few = client.get("/patients/", {"q": "hopper"}, HTTP_HX_REQUEST="true").content.decode()
    assert "1 patient found" in few
    assert "type more" not in few
