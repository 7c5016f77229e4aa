"""Staff in a real browser: an admin adds a receptionist, who then signs in and is kept out of
clinical and admin pages (the 403 page). Also takes the README's screenshots."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

import pytest
from django.urls import NoReverseMatch, reverse
from playwright.sync_api import expect

from hospitium.accounts.models import User
from hospitium.tenancy.context import hospital_context
from hospitium.tenancy.models import Hospital
from tests import factories
from tests.encounters import factories as encounters
from tests.web.browser import arrive, sign_in, url, visit

pytestmark = [pytest.mark.sqlite_only]

FIRST_PASSWORD = "a long first passphrase 42"
#: Where the README's screenshots go when HOSPITIUM_SCREENSHOTS=1 (``make screenshots``);
#: otherwise the test takes them into its own temporary folder.
README_SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def _visit_page_path(visit_id: str) -> str | None:
    """The web page of one visit, when the web app has one."""
    for name in ("web-visit", "web-visit-detail"):
        try:
            return reverse(name, kwargs={"visit_id": visit_id})
        except NoReverseMatch:
            continue
    return None


def test_an_admin_adds_a_receptionist_who_cannot_open_clinical_pages(
    page: Any, live_server: Any, hospital_a: Hospital, admin_a: User
) -> None:
    with hospital_context(hospital_a):
        visit_id = str(encounters.visit(patient=factories.patient()).pk)
    sign_in(page, live_server, hospital_a, admin_a.email)
    page.get_by_role("link", name="Staff", exact=True).click()
    arrive(page)
    page.get_by_label("Email address").fill("rita@alpha.example.test")
    page.get_by_label("Full name").fill("Rita Reception")
    page.get_by_label("Receptionist").check()
    page.get_by_label("First password").fill(FIRST_PASSWORD)
    page.get_by_role("button", name="Add to the staff").click()
    arrive(page)
    expect(page.locator(".messages")).to_contain_text("Account created for rita@alpha.example.test")
    expect(page.get_by_role("row", name="rita@alpha.example.test")).to_contain_text("Receptionist")
    page.get_by_role("button", name="Sign out").click()
    arrive(page)

    page.get_by_label("Email address").fill("rita@alpha.example.test")
    page.get_by_label("Password").fill(FIRST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    arrive(page)
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Patients")).to_be_visible()
    for hidden in ("Staff", "Audit log", "Visits"):
        expect(nav.get_by_role("link", name=hidden)).to_have_count(0)
    for path in filter(None, ["/staff/", "/audit/", _visit_page_path(visit_id)]):
        response = visit(page, url(live_server, hospital_a, path))
        assert response.status == 403, path
        expect(page.get_by_role("heading", level=1)).to_have_text("Not allowed")


def test_the_readmes_screenshots(
    page: Any, live_server: Any, hospital_a: Hospital, admin_a: User, tmp_path: Path
) -> None:
    folder = README_SCREENSHOTS if os.environ.get("HOSPITIUM_SCREENSHOTS") == "1" else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    with hospital_context(hospital_a):
        patient = factories.patient(given_name="Ada", family_name="Lovelace")
        encounters.visit(patient=patient, started_at=dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC))
    page.set_viewport_size({"width": 1280, "height": 800})
    sign_in(page, live_server, hospital_a, admin_a.email)
    shots = {
        "overview.png": "/",
        "patient.png": f"/patients/{patient.pk}/",
        "staff.png": "/staff/",
    }
    for name, path in shots.items():
        visit(page, url(live_server, hospital_a, path))
        page.screenshot(path=str(folder / name), full_page=False)
        assert (folder / name).stat().st_size > 1000
