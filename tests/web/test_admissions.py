"""``/admissions/``: the bed board, admit, transfer and discharge (test client, both stores)."""

from __future__ import annotations

import pytest

from hospitium.accounts.models import Role
from hospitium.admissions.models import Admission
from hospitium.admissions.services import admission_admit
from hospitium.tenancy.context import hospital_context
from hospitium.tenancy.models import Hospital
from tests import factories
from tests.admissions.helpers import bed, ward
from tests.web.helpers import client_for, max_queries, member

pytestmark = pytest.mark.django_db


def _board(hospital: Hospital, beds: int, name: str) -> None:
    with hospital_context(hospital):
        surgery = ward(name=name)
        for n in range(beds):
            place = bed(ward_=surgery, room=str(n % 3 + 1))
            if n % 2 == 0:
                admission_admit(patient=factories.patient(), bed=place)


def test_the_board_shows_free_and_occupied_beds_with_who_and_since(hospital_a: Hospital) -> None:
    with hospital_context(hospital_a):
        taken = bed(ward_=ward(name="Cardiology"), room="12", label="A")
        bed(ward_=taken.room.ward, room="12", label="B")
        patient = factories.patient(given_name="Ada", family_name="Lovelace")
        admission_admit(patient=patient, bed=taken)
    page = client_for(hospital_a, member(hospital_a, Role.NURSE)).get("/admissions/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Cardiology" in text and "Lovelace, Ada" in text
    assert "Occupied" in text and "Free" in text
    assert "1 free, 1 occupied." in text


def test_the_board_costs_the_same_queries_for_3_beds_or_30(
    hospital_a: Hospital, django_assert_max_num_queries
) -> None:
    client = client_for(hospital_a, member(hospital_a, Role.NURSE))
    _board(hospital_a, 3, "Surgery")
    client.get("/admissions/")
    with max_queries(django_assert_max_num_queries, hospital_a, 6):
        assert client.get("/admissions/").status_code == 200
    _board(hospital_a, 30, "Medicine")
    with max_queries(django_assert_max_num_queries, hospital_a, 6):
        assert client.get("/admissions/").status_code == 200


@pytest.mark.parametrize(
    ("role", "board", "admit"),
    [
        (Role.ADMIN, 200, 200),
        (Role.DOCTOR, 200, 200),
        (Role.NURSE, 200, 200),
        (Role.RECEPTIONIST, 200, 200),
        (Role.BILLING, 403, 403),
        (Role.ANALYST, 403, 403),
    ],
)
def test_roles_open_the_pages_the_permission_table_gives_them(
    hospital_a: Hospital, role: str, board: int, admit: int
) -> None:
    client = client_for(hospital_a, member(hospital_a, role))
    assert client.get("/admissions/").status_code == board
    assert client.get("/admissions/admit/").status_code == admit
    nav = client.get("/").content.decode()
    assert ('href="/admissions/"' in nav) == (board == 200)


def test_admitting_finds_the_patient_then_admits_to_the_bed(hospital_a: Hospital) -> None:
    with hospital_context(hospital_a):
        place = bed(ward_=ward(name="Surgery"))
        patient = factories.patient(given_name="Grace", family_name="Hopper")
    client = client_for(hospital_a, member(hospital_a, Role.RECEPTIONIST))
    found = client.get("/admissions/admit/", {"q": "hopp", "bed": str(place.pk)}).content.decode()
    assert f"?patient={patient.pk}&amp;bed={place.pk}" in found
    response = client.post(
        "/admissions/admit/", {"patient": str(patient.pk), "bed": str(place.pk), "reason": "Fall"}
    )
    assert response.status_code == 302
    with hospital_context(hospital_a):
        stay = Admission.objects.get()
    assert (stay.patient_id, stay.bed_id, stay.reason) == (patient.pk, place.pk, "Fall")


def test_admitting_to_an_occupied_bed_shows_the_services_message(hospital_a: Hospital) -> None:
    with hospital_context(hospital_a):
        place = bed(ward_=ward(name="Surgery"), room="4", label="C")
        admission_admit(patient=factories.patient(), bed=place)
        other = factories.patient()
    client = client_for(hospital_a, member(hospital_a, Role.NURSE))
    response = client.post("/admissions/admit/", {"patient": str(other.pk), "bed": str(place.pk)})
    assert response.status_code == 200
    text = response.content.decode()
    assert 'class="error-summary"' in text
    assert "is occupied at that time." in text
    with hospital_context(hospital_a):
        assert Admission.objects.count() == 1


def test_transfer_then_discharge_frees_the_bed(hospital_a: Hospital) -> None:
    with hospital_context(hospital_a):
        first = bed(ward_=ward(name="Surgery"))
        second = bed(ward_=first.room.ward)
        stay = admission_admit(patient=factories.patient(), bed=first)
    client = client_for(hospital_a, member(hospital_a, Role.DOCTOR))
    assert client.get(f"/admissions/{stay.pk}/").status_code == 200
    moved = client.post(f"/admissions/{stay.pk}/transfer/", {"bed": str(second.pk)})
    assert moved.status_code == 302
    with hospital_context(hospital_a):
        new = Admission.objects.get(bed=second)
    same = client.post(f"/admissions/{new.pk}/transfer/", {"bed": str(second.pk)})
    assert same.status_code == 200
    assert "Choose another bed." in same.content.decode()
    assert client.post(f"/admissions/{new.pk}/discharge/").status_code == 302
    with hospital_context(hospital_a):
        assert Admission.objects.get(pk=new.pk).discharged_at is not None
    board = client.get("/admissions/").content.decode()
    assert "2 free, 0 occupied." in board


def test_a_nurse_without_write_cannot_be_a_billing_clerk_discharging(
    hospital_a: Hospital,
) -> None:
    with hospital_context(hospital_a):
        stay = admission_admit(patient=factories.patient(), bed=bed())
    client = client_for(hospital_a, member(hospital_a, Role.BILLING))
    assert client.post(f"/admissions/{stay.pk}/discharge/").status_code == 403
    with hospital_context(hospital_a):
        assert Admission.objects.get(pk=stay.pk).discharged_at is None


def test_another_hospitals_stay_and_patient_answer_404(
    hospital_a: Hospital, hospital_b: Hospital
) -> None:
    with hospital_context(hospital_b):
        stay = admission_admit(patient=factories.patient(), bed=bed())
    client = client_for(hospital_a, member(hospital_a, Role.ADMIN))
    for address in (f"/admissions/{stay.pk}/", "/admissions/not-an-id/"):
        response = client.get(address)
        assert response.status_code == 404
        assert "Page not found" in response.content.decode()
    assert client.post(f"/admissions/{stay.pk}/discharge/").status_code == 404
    chosen = client.get("/admissions/admit/", {"patient": str(stay.patient_id)}).content.decode()
    assert stay.patient.family_name not in chosen
