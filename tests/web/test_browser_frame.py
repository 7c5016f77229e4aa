"""The frame of the web interface in a real browser: sign in, the start page, keyboard use,
another hospital's pages."""

from __future__ import annotations

from typing import Any

import pytest

from hospitium.accounts.models import User
from hospitium.tenancy.models import Hospital
from tests.web.browser import arrive, sign_in

pytestmark = [pytest.mark.sqlite_only]


def test_sign_in_shows_the_days_overview_with_the_hospital_name(
    page: Any, live_server: Any, hospital_a: Hospital, doctor_a: User
) -> None:
    sign_in(page, live_server, hospital_a, doctor_a.email)
    assert page.get_by_role("heading", level=1).inner_text().startswith("Today")
    assert page.locator(".hospital-name").inner_text() == "Alpha General"
    assert page.get_by_role("link", name="Patients").is_visible()


def test_the_skip_link_is_the_first_stop_of_the_keyboard(
    page: Any, live_server: Any, hospital_a: Hospital, doctor_a: User
) -> None:
    sign_in(page, live_server, hospital_a, doctor_a.email)
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.textContent")
    assert focused.strip() == "Skip to main content"
    assert page.locator(".skip-link").is_visible()
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"


def test_signing_out_returns_to_the_sign_in_page(
    page: Any, live_server: Any, hospital_a: Hospital, doctor_a: User
) -> None:
    sign_in(page, live_server, hospital_a, doctor_a.email)
    page.get_by_role("button", name="Sign out").click()
    arrive(page)
    assert page.url.endswith("/login/")


def test_a_user_of_another_hospital_gets_the_404_page(
    page: Any, live_server: Any, hospital_a: Hospital, hospital_b: Hospital, doctor_b: User
) -> None:
    sign_in(page, live_server, hospital_a, doctor_b.email)
    assert page.get_by_role("heading", level=1).inner_text() == "Page not found"
    assert "Alpha General" not in page.content()
