"""Patients in a real browser: register one (the MRN is given), find them by typing part of
the name, and another hospital's user who pastes the patient's address gets the 404 page."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from hospitium.accounts.models import User
from hospitium.tenancy.models import Hospital
from tests.web.browser import arrive, sign_in, url, visit

pytestmark = [pytest.mark.sqlite_only]


def _register(page: Any, given: str, family: str, born: str) -> None:
    page.get_by_role("link", name="Register a patient").click()
    arrive(page)
    page.get_by_label("Given name").fill(given)
    page.get_by_label("Family name").fill(family)
    page.get_by_label("Date of birth").fill(born)
    page.get_by_label("Sex").select_option("female")
    page.get_by_role("button", name="Register", exact=True).click()
    arrive(page)


def test_register_a_patient_then_find_them_by_typing_part_of_the_name(
    page: Any, live_server: Any, hospital_a: Hospital, doctor_a: User
) -> None:
    sign_in(page, live_server, hospital_a, doctor_a.email, "/patients/")
    _register(page, "Ada", "Lovelace", "1990-12-10")
    expect(page.get_by_role("heading", level=1)).to_have_text("Lovelace, Ada")
    expect(page.locator(".mrn")).to_have_text("P000001")
    expect(page.locator(".messages")).to_contain_text("P000001")

    page.get_by_role("link", name="Patients", exact=True).first.click()
    arrive(page)
    page.get_by_label("Search by name, medical record number or date of birth").press_sequentially(
        "ovel", delay=40
    )
    results = page.locator("#patient-results")
    expect(results).to_contain_text("1 patient found for “ovel”")
    expect(results.get_by_role("link", name="Lovelace, Ada")).to_be_visible()
    assert re.search(r"/patients/\?q=ovel$", page.url)  # the address follows the search
    arrive(page)  # the results, as they stand, pass axe too


def test_a_likely_duplicate_is_shown_before_registering(
    page: Any, live_server: Any, hospital_a: Hospital, doctor_a: User
) -> None:
    sign_in(page, live_server, hospital_a, doctor_a.email, "/patients/")
    _register(page, "Ada", "Lovelace", "1990-12-10")
    page.get_by_role("link", name="Patients", exact=True).first.click()
    arrive(page)
    _register(page, "Adah", "Lovelace", "1990-12-10")
    expect(
        page.get_by_role("heading", name="This may be a patient we already have")
    ).to_be_visible()
    page.get_by_role("button", name="Register as a new patient anyway").click()
    arrive(page)
    expect(page.locator(".mrn")).to_have_text("P000002")


def test_a_user_of_another_hospital_who_pastes_a_patients_address_gets_the_404_page(
    page: Any,
    live_server: Any,
    hospital_a: Hospital,
    hospital_b: Hospital,
    doctor_a: User,
    doctor_b: User,
) -> None:
    sign_in(page, live_server, hospital_a, doctor_a.email, "/patients/new/")
    page.get_by_label("Given name").fill("Ada")
    page.get_by_label("Family name").fill("Lovelace")
    page.get_by_label("Date of birth").fill("1990-12-10")
    page.get_by_role("button", name="Register", exact=True).click()
    arrive(page)
    path = "/" + page.url.split("/", 3)[3]
    page.context.clear_cookies()

    # On hospital A's host (sessions are per host): the sign-in page, then the 404 page.
    sign_in(page, live_server, hospital_a, doctor_b.email, path)
    expect(page.get_by_role("heading", level=1)).to_have_text("Page not found")
    assert "Lovelace" not in page.content() and "Alpha General" not in page.content()
    # On the user's own hospital's host, the same address is not found either.
    page.context.clear_cookies()
    sign_in(page, live_server, hospital_b, doctor_b.email)
    response = visit(page, url(live_server, hospital_b, path))
    assert response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Page not found")
    assert "Lovelace" not in page.content()


def test_the_register_form_shows_errors_beside_the_fields(
    page: Any, live_server: Any, hospital_a: Hospital, doctor_a: User
) -> None:
    sign_in(page, live_server, hospital_a, doctor_a.email, "/patients/new/")
    page.get_by_role("button", name="Register", exact=True).click()
    arrive(page)
    summary = page.get_by_role("alert")
    expect(summary).to_contain_text("There is a problem")
    summary.get_by_role("link", name=re.compile("Given name")).click()
    assert page.evaluate("document.activeElement.id") == "id_given_name"
