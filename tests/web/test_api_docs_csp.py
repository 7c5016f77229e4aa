"""Swagger UI at /api/docs/ works in a real browser under the Content-Security-Policy: its
scripts and styles load from this origin and nothing the page does is blocked."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = [pytest.mark.sqlite_only, pytest.mark.django_db]

WATCH = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__violations.push(e.violatedDirective + " " + e.blockedURI);
});
"""


def test_swagger_ui_renders_the_schema_with_nothing_blocked(browser: Any, live_server: Any) -> None:
    context = browser.new_context()
    context.set_default_timeout(20_000)
    context.add_init_script(WATCH)
    tab = context.new_page()
    console: list[str] = []
    tab.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    try:
        response = tab.goto(f"{live_server.url}/api/docs/")
        assert response is not None and response.status == 200
        assert "script-src 'self'" in response.headers["content-security-policy"]
        tab.locator(".swagger-ui .information-container .title").wait_for()
        tab.locator(".opblock").first.wait_for()
        assert tab.locator(".opblock").count() > 0
        assert tab.evaluate("window.__violations") == []
        assert not [line for line in console if "Content Security Policy" in line]
    finally:
        context.close()


def test_the_sign_in_page_runs_with_nothing_blocked(
    browser: Any, live_server: Any, hospital_a: Any
) -> None:
    from tests.web.browser import url

    context = browser.new_context()
    context.add_init_script(WATCH)
    tab = context.new_page()
    try:
        response = tab.goto(url(live_server, hospital_a, "/login/"))
        assert response is not None and response.status == 200
        tab.wait_for_load_state("load")
        assert tab.evaluate("typeof window.htmx") == "object"
        assert tab.evaluate("window.__violations") == []
    finally:
        context.close()
