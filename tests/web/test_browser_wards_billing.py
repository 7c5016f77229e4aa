"""Admissions and billing in a real browser: admit a patient to a bed and discharge them; issue
an invoice, be refused an overpayment, pay the balance."""

from __future__ import annotations

from typing import Any

import pytest

from hospitium.accounts.models import Role
from hospitium.tenancy.context import hospital_context
from hospitium.tenancy.models import Hospital
from tests import factories
from tests.admissions.helpers import bed, ward
from tests.web.browser import arrive, sign_in
from tests.web.helpers import member

pytestmark = [pytest.mark.sqlite_only]


def test_admit_a_patient_to_a_bed_then_discharge_them(
    page: Any, live_server: Any, hospital_a: Hospital
) -> None:
    with hospital_context(hospital_a):
        bed(ward_=ward(name="Surgery"), room="7", label="A")
        factories.patient(given_name="Ada", family_name="Lovelace", mrn="MRN-ADA")
    nurse = member(hospital_a, Role.NURSE)
    sign_in(page, live_server, hospital_a, nurse.email, "/admissions/")
    assert page.get_by_role("heading", level=1).inner_text() == "Bed board"
    page.get_by_role("link", name="Admit to room 7 bed A").click()
    arrive(page)
    page.get_by_label("Find the patient").fill("Lovel")
    page.get_by_role("button", name="Search").click()
    arrive(page)
    page.get_by_role("link", name="Choose Lovelace, Ada").click()
    arrive(page)
    page.get_by_label("Reason").fill("Observation")
    page.get_by_role("button", name="Admit").click()
    arrive(page)
    row = page.get_by_role("row", name="Lovelace, Ada")
    assert "Occupied" in row.inner_text()
    page.get_by_role("link", name="Stay Lovelace, Ada").click()
    arrive(page)
    page.get_by_role("button", name="Discharge now").click()
    arrive(page)
    assert "is discharged" in page.locator(".messages").inner_text()
    assert "Free" in page.get_by_role("row").nth(1).inner_text()
    assert page.get_by_text("1 free, 0 occupied.").is_visible()


def test_issue_an_invoice_overpaying_is_refused_then_the_balance_is_paid(
    page: Any, live_server: Any, hospital_a: Hospital
) -> None:
    with hospital_context(hospital_a):
        factories.patient(given_name="Alan", family_name="Turing")
    clerk = member(hospital_a, Role.BILLING)
    sign_in(page, live_server, hospital_a, clerk.email, "/billing/")
    page.get_by_role("link", name="New invoice").click()
    arrive(page)
    page.get_by_label("Find the patient").fill("Turing")
    page.get_by_role("button", name="Search").click()
    arrive(page)
    page.get_by_role("link", name="Choose Turing, Alan").click()
    arrive(page)
    page.get_by_label("Description").fill("Consultation")
    page.get_by_label("Unit price").fill("80.00")
    page.get_by_role("button", name="Open draft invoice").click()
    arrive(page)
    page.get_by_role("button", name="Issue invoice").click()
    arrive(page)
    page.get_by_label("Amount").fill("100.00")
    page.get_by_role("button", name="Record payment").click()
    arrive(page)
    summary = page.locator(".error-summary").inner_text()
    assert "is more than the balance of 80.00" in summary
    page.get_by_label("Amount").fill("80.00")
    page.get_by_role("button", name="Record payment").click()
    arrive(page)
    assert page.locator("#balance").inner_text().startswith("0.00")
    assert page.get_by_role("link", name="Receipt (PDF)").count() == 1
