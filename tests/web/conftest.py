"""Browser tests: Debian's Chromium driven by Playwright against a live server.

- One browser for the whole package (fast); a fresh context (cookies, storage) per test.
- Never a downloaded browser build: Chromium is launched from /usr/bin/chromium.
- The live server answers every hospital on ``<code>.localhost:<port>`` (Chromium resolves any
  ``*.localhost`` to the loopback address; the app picks the hospital from the host).
- Every page a test visits must pass axe-core with no serious or critical violation: the
  helpers check each page they arrive on, and a test that reached a page nobody checked fails.
- A message the browser logs as an error (a refused script or style, a failed request for an
  asset) fails the test.
- A failing test keeps a screenshot under test-results/web/ (git-ignored); the path is printed
  with the failure.

These tests are about the browser, not the store: they run in the SQLite run only.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-results" / "web"


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    """One headless Chromium for the package's browser tests."""
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop registered on this thread while it lives, and
    # Django refuses ORM calls from a thread with a running loop. The tests' own ORM calls
    # (fixtures building data) are synchronous and safe, so the check is switched off while
    # the browser lives, and only then.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(
                executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
            )
            try:
                yield chromium
            finally:
                chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


class Visits:
    """The pages a test reached and the ones axe-core checked."""

    def __init__(self) -> None:
        self.reached: list[str] = []
        self.navigated: list[str] = []
        self.checked: set[str] = set()
        self.console_errors: list[str] = []

    def unchecked(self) -> list[str]:
        # A jump to an anchor on the same page is not a new page.
        checked = {url.split("#", 1)[0] for url in self.checked}
        reached = dict.fromkeys(url.split("#", 1)[0] for url in self.reached)
        return [url for url in reached if url not in checked and url != "about:blank"]


@pytest.fixture
def page(browser: Any, live_server: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh browser page (own cookies); fails the test if it reached a page axe never saw."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    tab = context.new_page()
    visits = Visits()
    tab.on(
        "framenavigated",
        lambda frame: visits.navigated.append(frame.url) if frame == tab.main_frame else None,
    )
    # Pages that loaded, not every change of address: htmx's hx-push-url changes the address
    # (history.pushState) for each search typed, and the results are checked where they land.
    tab.on("load", lambda loaded: visits.reached.append(loaded.url))

    def console(message: Any) -> None:
        # An error page (403, 404, a 409 clash) is a page the app meant to show: the browser
        # logs its status, but only a failed request for anything else is a fault.
        document = message.location.get("url") in visits.navigated
        if message.type == "error" and "status of 404" not in message.text and not document:
            visits.console_errors.append(message.text)

    tab.on("console", console)
    tab.hospitium_visits = visits
    try:
        yield tab
        report = getattr(request.node, "rep_call", None)
        if report is not None and report.passed:
            missed = visits.unchecked()
            assert not missed, f"pages reached but never checked with axe-core: {missed}"
            assert not visits.console_errors, f"the browser logged: {visits.console_errors}"
    finally:
        context.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if report.when != "call":
        return
    item.rep_call = report  # type: ignore[attr-defined]
    tab = getattr(item, "funcargs", {}).get("page")
    if report.failed and tab is not None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / (re.sub(r"[^A-Za-z0-9_.-]+", "_", item.nodeid) + ".png")
        try:
            tab.screenshot(path=str(path), full_page=True)
            report.sections.append(("screenshot", f"kept at {path}"))
        except Exception as exc:
            report.sections.append(("screenshot", f"could not be taken: {exc}"))
