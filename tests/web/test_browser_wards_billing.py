"""Admissions, billing, feedback and campaigns in a real browser: admit a patient to a bed and
discharge them; issue an invoice, be refused an overpayment, pay the balance; answer feedback;
a patient joins and leaves a campaign."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from hospitium.accounts.models import Role
from hospitium.campaigns.services import campaign_create
from hospitium.feedback.services import feedback_submit
from hospitium.tenancy.context import hospital_context
from hospitium.tenancy.models import Hospital
from tests import factories
from tests.admissions.helpers import bed, ward
from tests.billing import factories as billing
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


def test_feedback_answered_and_a_patient_joins_and_leaves_a_campaign(
    page: Any, live_server: Any, hospital_a: Hospital
) -> None:
    today = timezone.now().date()
    with hospital_context(hospital_a):
        feedback_submit(visit=billing.visit(), rating=5, comment="Very kind")
        campaign_create(
            name="Flu 2026",
            starts_on=today - dt.timedelta(days=5),
            ends_on=today + dt.timedelta(days=20),
        )
        factories.patient(given_name="Marie", family_name="Curie")
    admin = member(hospital_a, Role.ADMIN)
    sign_in(page, live_server, hospital_a, admin.email, "/feedback/")
    page.get_by_role("table").get_by_role("link").first.click()
    arrive(page)
    page.get_by_label("Response").fill("Thank you")
    page.get_by_role("button", name="Save response").click()
    arrive(page)
    assert page.get_by_text("The response is saved.").is_visible()
    page.get_by_role("navigation").get_by_role("link", name="Campaigns").click()
    arrive(page)
    page.get_by_role("link", name="Flu 2026").click()
    arrive(page)
    page.get_by_label("Find the patient").fill("Curie")
    page.get_by_role("button", name="Search").click()
    arrive(page)
    page.get_by_role("link", name="Choose Curie, Marie").click()
    arrive(page)
    page.get_by_role("button", name="Join the campaign").click()
    arrive(page)
    assert "Enrolled" in page.get_by_role("row", name="Curie, Marie").inner_text()
    page.get_by_role("button", name="Leave Curie, Marie").click()
    arrive(page)
    assert "Dropped out" in page.get_by_role("row", name="Curie, Marie").inner_text()
