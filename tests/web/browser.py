"""What browser tests do again and again: open a hospital's page, sign in, check the page with
axe-core."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from axe_playwright_python.sync_playwright import Axe

from hospitium.tenancy.models import Hospital
from tests.conftest import PASSWORD

_AXE = Axe()
SERIOUS = {"serious", "critical"}


def url(live_server: Any, hospital: Hospital, path: str = "/") -> str:
    """``path`` on the hospital's local host, at the live server's port."""
    port = urlsplit(live_server.url).port
    return f"http://{hospital.code.lower()}.localhost:{port}{path}"


def check_axe(page: Any) -> None:
    """Assert the page as it stands has no serious or critical axe-core violation."""
    results = _AXE.run(page)
    bad = [v for v in results.response["violations"] if v.get("impact") in SERIOUS]
    page.hospitium_visits.checked.add(page.url)
    assert not bad, f"axe-core on {page.url}:\n" + "\n".join(
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']]}" for v in bad
    )


def arrive(page: Any) -> None:
    """After a navigation: wait for the page to settle, then check it with axe-core."""
    page.wait_for_load_state("load")
    check_axe(page)


def visit(page: Any, address: str) -> Any:
    """Open ``address`` and check the page; returns the navigation's response."""
    response = page.goto(address)
    arrive(page)
    return response


def sign_in(page: Any, live_server: Any, hospital: Hospital, email: str, path: str = "/") -> None:
    """Sign in on the hospital's host (by the labels, as a person would) and land on ``path``."""
    visit(page, url(live_server, hospital, path))
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    arrive(page)
