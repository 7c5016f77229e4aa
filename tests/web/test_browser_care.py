"""Appointments and visits in a real browser: a clash on a second booking with the nearest
free slots, a diagnosis found by typing words, a receptionist kept out of a visit."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from hospitium.accounts.models import Role, User
from hospitium.encounters.models import Diagnosis
from hospitium.tenancy.context import hospital_context
from hospitium.tenancy.models import Hospital
from tests import factories
from tests.encounters import factories as encounters
from tests.web.browser import arrive, check_axe, sign_in, url, visit
from tests.web.helpers import member

pytestmark = [pytest.mark.sqlite_only]

DAY = (dt.date.today() + dt.timedelta(days=30)).isoformat()


def _book(page: Any, practitioner: str, *, check: bool = False) -> None:
    page.get_by_label("Find the patient").fill("Lovelace")
    page.get_by_label("Lovelace, Ada", exact=False).check()
    if check:  # the choices htmx brought in
        check_axe(page)
    page.get_by_label("Practitioner").select_option(label=practitioner)
    page.get_by_label("Starts").fill(f"{DAY}T10:00")
    page.get_by_label("Ends").fill(f"{DAY}T10:30")
    page.get_by_role("button", name="Book", exact=True).click()
    arrive(page)


def test_a_second_booking_of_a_slot_shows_the_clash_and_free_slots(
    page: Any, live_server: Any, hospital_a: Hospital
) -> None:
    with hospital_context(hospital_a):
        department = factories.department(name="Medicine")
        factories.practitioner(display_name="Dr. House", department=department)
        factories.patient(given_name="Ada", family_name="Lovelace")
    receptionist = member(hospital_a, Role.RECEPTIONIST)
    sign_in(page, live_server, hospital_a, receptionist.email, "/appointments/")
    page.get_by_role("link", name="Book an appointment").click()
    arrive(page)
    _book(page, "Dr. House (Medicine)", check=True)
    assert page.get_by_role("cell", name="10:00–10:30").is_visible()
    page.get_by_role("link", name="Book an appointment").click()
    arrive(page)
    _book(page, "Dr. House (Medicine)")
    assert page.get_by_role("heading", name="This slot is taken").is_visible()
    page.get_by_role("button", name="Book").filter(has_text="10:30–11:00").click()
    arrive(page)
    assert page.get_by_role("cell", name="10:30–11:00").is_visible()


def test_a_doctor_records_a_diagnosis_found_by_words(
    page: Any, live_server: Any, hospital_a: Hospital, doctor_a: User
) -> None:
    with hospital_context(hospital_a):
        record = encounters.visit()
    sign_in(page, live_server, hospital_a, doctor_a.email, f"/visits/{record.pk}/")
    page.get_by_label("Find an ICD-10 diagnosis").fill("cholera vibrio eltor")
    choice = page.get_by_label("A00.1 — Cholera due to Vibrio cholerae 01, biovar eltor")
    choice.check()
    check_axe(page)
    page.get_by_label("Primary diagnosis").check()
    page.get_by_role("button", name="Add diagnosis").click()
    arrive(page)
    assert page.locator("#diagnoses").get_by_text("A00.1").is_visible()
    with hospital_context(hospital_a):
        assert Diagnosis.objects.get(visit=record).is_primary


def test_a_receptionist_who_opens_a_visit_gets_the_403_page(
    page: Any, live_server: Any, hospital_a: Hospital
) -> None:
    with hospital_context(hospital_a):
        record = encounters.visit()
    receptionist = member(hospital_a, Role.RECEPTIONIST)
    sign_in(page, live_server, hospital_a, receptionist.email)
    response = visit(page, url(live_server, hospital_a, f"/visits/{record.pk}/"))
    assert response.status == 403
    assert page.get_by_role("heading", level=1).inner_text() == "Not allowed"
