"""The visit pages (Django's test client, both stores): record a visit from a patient or an
appointment, the ICD-10 search by code or words, diagnoses and treatments, who may open them,
and another hospital's ids."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from django.utils import timezone

from hospitium.accounts.models import Role, User
from hospitium.encounters.models import Diagnosis, Treatment, Visit
from hospitium.encounters.selectors import icd10_search
from hospitium.patients.models import Patient
from hospitium.scheduling.models import Appointment
from hospitium.staff.models import Practitioner
from hospitium.tenancy.context import hospital_context
from hospitium.tenancy.models import Hospital
from tests import factories
from tests.encounters import factories as encounters
from tests.web.helpers import client_for, max_queries, member

pytestmark = pytest.mark.django_db


@dataclass
class Ward:
    patient: Patient
    doctor: Practitioner
    visit: Visit
    appointment: Appointment


@pytest.fixture
def ward(hospital_a: Hospital) -> Ward:
    with hospital_context(hospital_a):
        doctor = factories.practitioner(display_name="Dr. Quinn")
        patient = factories.patient(given_name="Ada", family_name="Lovelace")
        visit = encounters.visit(patient=patient, practitioner=doctor)
        start = timezone.now().replace(microsecond=0)
        appointment = Appointment.objects.create(
            patient=patient,
            practitioner=doctor,
            starts_at=start,
            ends_at=start + dt.timedelta(minutes=20),
            status="arrived",
            reason="Toothache",
        )
    return Ward(patient, doctor, visit, appointment)


def test_icd10_search_finds_codes_by_their_beginning(hospital_a: Hospital) -> None:
    with hospital_context(hospital_a):
        found = icd10_search("j45")
    assert [entry.code for entry in found][:3] == ["J45", "J45.0", "J45.1"]
    assert found[0].title == "Asthma"
    with hospital_context(hospital_a):
        assert [entry.code for entry in icd10_search("j450")] == ["J45.0"]


def test_icd10_search_finds_codes_by_words_in_any_order(hospital_a: Hospital) -> None:
    with hospital_context(hospital_a):
        cholera = icd10_search("cholera")
        diabetes = icd10_search("mellitus diab type 2", limit=50)
        nothing = icd10_search("diabetes xylophone")
    assert cholera[0].code == "A00" and cholera[0].title == "Cholera"
    assert diabetes and all(entry.code.startswith("E11") for entry in diabetes)
    assert nothing == []


def test_icd10_search_needs_two_letters_but_takes_a_lone_digit(hospital_a: Hospital) -> None:
    with hospital_context(hospital_a):
        assert icd10_search("c") == []
        femur = icd10_search("fracture of femur", limit=50)
        typed = icd10_search("diabetes 2", limit=50)
    assert femur and all("femur" in entry.title.lower() for entry in femur)
    assert typed and all("2" in entry.title for entry in typed)


def test_icd10_search_offers_only_codes_the_hospitals_table_holds(
    hospital_a: Hospital,
) -> None:
    from hospitium.encounters.models import Icd10Code

    with hospital_context(hospital_a):
        Icd10Code.objects.filter(code="A00.0").delete()
        codes = [entry.code for entry in icd10_search("cholera")]
    assert "A00" in codes and "A00.0" not in codes


def test_recording_a_visit_from_an_appointment(
    hospital_a: Hospital, doctor_a: User, ward: Ward
) -> None:
    client = client_for(hospital_a, doctor_a)
    form = client.get(f"/visits/new/?appointment={ward.appointment.pk}").content.decode()
    assert "Lovelace, Ada" in form and "Toothache" in form
    response = client.post(
        "/visits/new/",
        {
            "appointment": ward.appointment.pk,
            "kind": "dental",
            "practitioner": ward.doctor.pk,
            "started_at": "2031-03-04T09:00",
            "chief_complaint": "Toothache",
        },
    )
    with hospital_context(hospital_a):
        visit = Visit.objects.get(kind="dental")
    assert response["Location"] == f"/visits/{visit.pk}/"
    assert visit.patient_id == ward.patient.pk


def test_recording_a_visit_from_a_patient_shows_errors_beside_the_fields(
    hospital_a: Hospital, doctor_a: User, ward: Ward
) -> None:
    response = client_for(hospital_a, doctor_a).post(
        "/visits/new/", {"patient": ward.patient.pk, "kind": "medical", "started_at": "soon"}
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert 'id="id_started_at_error"' in page and 'id="id_practitioner_error"' in page


def test_the_icd10_choices_follow_the_typing(
    hospital_a: Hospital, doctor_a: User, ward: Ward
) -> None:
    client = client_for(hospital_a, doctor_a)
    fragment = client.get(
        "/visits/icd10/?diagnosis-icd_query=cholera", HTTP_HX_REQUEST="true"
    ).content.decode()
    assert fragment.startswith("<fieldset") and "A00 — Cholera" in fragment
    page = client.get(f"/visits/{ward.visit.pk}/?diagnosis-icd_query=cholera").content.decode()
    assert 'value="A00"' in page  # the same choices without JavaScript


def test_adding_a_diagnosis_and_a_treatment_shows_them_on_the_visit(
    hospital_a: Hospital, doctor_a: User, ward: Ward, django_assert_max_num_queries
) -> None:
    client = client_for(hospital_a, doctor_a)
    added = client.post(
        f"/visits/{ward.visit.pk}/diagnoses/",
        {"diagnosis-icd_query": "cholera", "diagnosis-code": "A00.1", "diagnosis-is_primary": "on"},
    )
    assert added["Location"] == f"/visits/{ward.visit.pk}/#diagnoses"
    treated = client.post(
        f"/visits/{ward.visit.pk}/treatments/",
        {
            "treatment-procedure": "Oral rehydration",
            "treatment-performed_on": "2026-11-23",
            "treatment-outcome": "improved",
            "treatment-follow_up_required": "on",
            "treatment-follow_up_date": "2026-11-30",
        },
    )
    assert treated.status_code == 302
    with hospital_context(hospital_a):
        for _ in range(5):
            encounters.treatment(ward.visit)
            encounters.diagnosis(ward.visit, code="R05")
    with max_queries(django_assert_max_num_queries, hospital_a, 8):
        page = client.get(f"/visits/{ward.visit.pk}/").content.decode()
    assert "A00.1" in page and "primary" in page and "Cholera due to Vibrio cholerae" in page
    assert "Oral rehydration" in page and "Improved" in page and "30 Nov 2026" in page


def test_a_second_primary_diagnosis_is_refused_beside_the_field(
    hospital_a: Hospital, doctor_a: User, ward: Ward
) -> None:
    with hospital_context(hospital_a):
        encounters.diagnosis(ward.visit, is_primary=True)
    response = client_for(hospital_a, doctor_a).post(
        f"/visits/{ward.visit.pk}/diagnoses/",
        {"diagnosis-code": "A00", "diagnosis-is_primary": "on"},
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert "A visit has only one primary diagnosis." in page
    assert 'id="id_diagnosis-is_primary_error"' in page
    with hospital_context(hospital_a):
        assert Diagnosis.objects.filter(visit=ward.visit).count() == 1


def test_a_treatment_before_the_visit_is_refused_beside_the_field(
    hospital_a: Hospital, doctor_a: User, ward: Ward
) -> None:
    response = client_for(hospital_a, doctor_a).post(
        f"/visits/{ward.visit.pk}/treatments/",
        {"treatment-procedure": "X-ray", "treatment-performed_on": "2020-01-01"},
    )
    page = response.content.decode()
    assert 'id="id_treatment-performed_on_error"' in page
    with hospital_context(hospital_a):
        assert not Treatment.objects.exists()


@pytest.mark.parametrize(
    ("role", "read", "record"),
    [
        (Role.ADMIN, 200, 200),
        (Role.DOCTOR, 200, 200),
        (Role.NURSE, 200, 403),
        (Role.RECEPTIONIST, 403, 403),
        (Role.BILLING, 403, 403),
        (Role.ANALYST, 403, 403),
    ],
)
def test_who_may_open_the_visit_pages(
    hospital_a: Hospital, ward: Ward, role: str, read: int, record: int
) -> None:
    client = client_for(hospital_a, member(hospital_a, role))
    page = client.get(f"/visits/{ward.visit.pk}/")
    assert page.status_code == read
    if read == 403:
        assert "Not allowed" in page.content.decode()
    assert client.get(f"/visits/new/?patient={ward.patient.pk}").status_code == record
    diagnosis = client.post(f"/visits/{ward.visit.pk}/diagnoses/", {"diagnosis-code": "A00"})
    assert diagnosis.status_code == (302 if record == 200 else 403)
    if read == 200:
        assert ("Add a diagnosis" in page.content.decode()) is (record == 200)


def test_another_hospitals_visit_is_the_404_page(
    hospital_a: Hospital, hospital_b: Hospital, doctor_b: User, ward: Ward
) -> None:
    client = client_for(hospital_b, doctor_b)
    page = client.get(f"/visits/{ward.visit.pk}/")
    assert page.status_code == 404 and "Page not found" in page.content.decode()
    assert client.get(f"/visits/new/?appointment={ward.appointment.pk}").status_code == 404
    assert client.get(f"/visits/new/?patient={ward.patient.pk}").status_code == 404
    added = client.post(f"/visits/{ward.visit.pk}/diagnoses/", {"diagnosis-code": "A00"})
    assert added.status_code == 404


@pytest.mark.parametrize(
    ("role", "books", "records"),
    [(Role.DOCTOR, True, True), (Role.NURSE, True, False), (Role.RECEPTIONIST, True, False)],
)
def test_the_patient_page_leads_to_booking_and_recording_a_visit(
    hospital_a: Hospital, ward: Ward, role: str, books: bool, records: bool
) -> None:
    page = (
        client_for(hospital_a, member(hospital_a, role))
        .get(f"/patients/{ward.patient.pk}/")
        .content.decode()
    )
    assert (f'href="/appointments/new/?patient={ward.patient.pk}"' in page) is books
    assert (f'href="/visits/new/?patient={ward.patient.pk}"' in page) is records
    # The timeline links a visit to its page for those who may read visits.
    assert (f'href="/visits/{ward.visit.pk}/"' in page) is (role != Role.RECEPTIONIST)


def test_booking_from_the_patient_page_has_the_patient_chosen(
    hospital_a: Hospital, doctor_a: User, ward: Ward
) -> None:
    page = (
        client_for(hospital_a, doctor_a)
        .get(f"/appointments/new/?patient={ward.patient.pk}")
        .content.decode()
    )
    assert f'value="{ward.patient.pk}"' in page and "checked" in page
