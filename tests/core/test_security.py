"""Security settings, proven: Django's deployment check is clean in production mode; production
sends secure cookies, HSTS and redirects to HTTPS; every response carries a Content-Security-
Policy without inline scripts and refuses framing; Swagger UI still loads its own assets under
it; signing in, asking for a token and generating reports are rate limited (429, the envelope,
Retry-After), counted per real client address."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from django.test import Client
from rest_framework.throttling import SimpleRateThrottle

from hospitium.accounts.models import User
from hospitium.tenancy.models import Hospital
from tests.conftest import PASSWORD
from tests.reports.fakes import PERIOD, fake_reports  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
ALPHA = "alpha.example.test"
CSP = "Content-Security-Policy"


def _production(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HOSPITIUM_", "DJANGO_"))}
    env.update(
        HOSPITIUM_ENV="production",
        HOSPITIUM_SECRET_KEY=secrets.token_urlsafe(50),
        HOSPITIUM_HOME=str(tmp_path / "var"),
        DJANGO_SETTINGS_MODULE="hospitium.settings",
        PYTHONPATH=os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
    )
    return env


def test_the_deployment_check_is_clean_in_production(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=_production(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "System check identified no issues" in done.stdout


PRODUCTION_REQUESTS = """
import json, django
django.setup()
from django.conf import settings
from django.test import Client
client = Client()
plain = client.get("/api/auth/login/")
secure = client.get("/api/auth/login/", secure=True)
print(json.dumps({
    "session_secure": settings.SESSION_COOKIE_SECURE,
    "session_httponly": settings.SESSION_COOKIE_HTTPONLY,
    "csrf_secure": settings.CSRF_COOKIE_SECURE,
    "plain": [plain.status_code, plain.get("Location")],
    "status": secure.status_code,
    "hsts": secure.get("Strict-Transport-Security"),
    "csrf_cookie": secure.cookies["csrftoken"].output(),
    "frame": secure.get("X-Frame-Options"),
    "csp": secure.get("Content-Security-Policy"),
}))
"""


def test_production_sends_secure_cookies_hsts_and_redirects_to_https(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PRODUCTION_REQUESTS],
        cwd=ROOT,
        env=_production(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["session_secure"] and seen["session_httponly"] and seen["csrf_secure"]
    assert seen["plain"] == [301, "https://testserver/api/auth/login/"]
    assert seen["status"] == 200
    assert seen["hsts"] == "max-age=31536000; includeSubDomains"
    assert "; Secure" in seen["csrf_cookie"]
    assert seen["frame"] == "DENY"
    assert seen["csp"] == django_settings.HOSPITIUM_CSP


def _directives(policy: str) -> dict[str, list[str]]:
    return {
        name: values
        for name, *values in (part.split() for part in policy.split(";") if part.strip())
    }


def test_the_policy_allows_only_this_origin_and_no_inline_script() -> None:
    policy = _directives(django_settings.HOSPITIUM_CSP)
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"][0] == "'self'"
    assert all(v.startswith("'sha256-") for v in policy["style-src"][1:])
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["object-src"] == ["'none'"]
    assert "unsafe-inline" not in django_settings.HOSPITIUM_CSP
    assert "unsafe-eval" not in django_settings.HOSPITIUM_CSP


@pytest.mark.django_db
def test_every_kind_of_response_carries_the_policy_and_refuses_framing(
    client: Client, hospital_a: Hospital, doctor_a: User
) -> None:
    answers = [
        client.get("/login/", HTTP_HOST=ALPHA),  # a web page
        client.get("/nowhere/", HTTP_HOST=ALPHA),  # an error page
        client.get("/api/hospital/", HTTP_HOST=ALPHA),  # an API error (not signed in)
        client.get("/api/docs/"),
        client.get("/admin/login/"),
    ]
    client.force_login(doctor_a)
    answers.append(client.get("/api/hospital/", HTTP_HOST=ALPHA))
    for response in answers:
        assert response[CSP] == django_settings.HOSPITIUM_CSP, response
        assert response["X-Frame-Options"] == "DENY"
        assert response["X-Content-Type-Options"] == "nosniff"


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I)
INLINE_HANDLER = re.compile(r"\son[a-z]+\s*=", re.I)


@pytest.mark.django_db
def test_the_web_pages_have_no_inline_script_or_style(
    client: Client, hospital_a: Hospital, doctor_a: User
) -> None:
    pages = [client.get("/login/", HTTP_HOST=ALPHA).content.decode()]
    client.force_login(doctor_a)
    pages.append(client.get("/", HTTP_HOST=ALPHA).content.decode())
    for page in pages:
        assert not INLINE_SCRIPT.search(page)
        assert not INLINE_HANDLER.search(page)
        assert "<style" not in page and " style=" not in page


@pytest.mark.django_db
def test_swagger_ui_loads_its_own_assets_under_the_policy(client: Client) -> None:
    page = client.get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assert not INLINE_SCRIPT.search(html)
    # Its one inline style block is allowed by its hash, which must match the installed page.
    (style,) = re.findall(r"<style>(.*?)</style>", html, re.S)
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    assert f"'sha256-{digest}'" in _directives(page[CSP])["style-src"]
    assets = re.findall(r'<(?:script src|link rel="stylesheet" href)="([^"]+)"', html)
    assert len(assets) == 4  # bundle, preset, the start script, the stylesheet
    for asset in assets:
        assert asset.startswith("/"), asset  # same origin
        response = client.get(asset.replace("&amp;", "&"))
        assert response.status_code == 200, asset
        body = b"".join(response) if response.streaming else response.content
        assert body
    start = client.get("/api/docs/?script=")
    assert start["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle" in start.content.decode()


# --- rate limits ---------------------------------------------------------------------------


@pytest.fixture
def tight(settings: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]}
    rates.update(sign_in="2/minute", token="2/minute", reports="1/hour")
    # DRF copies the rates onto the throttle class when it is imported.
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", rates)
    cache.clear()
    yield rates
    cache.clear()


def _is_throttled(response: Any, *, json_body: bool = True) -> None:
    assert response.status_code == 429, response.content
    assert int(response["Retry-After"]) >= 1
    if json_body:
        error = response.json()["error"]
        assert (error["code"], error["category"]) == ("throttled", "permission")
        assert error["request_id"] == response["X-Request-ID"]


@pytest.mark.django_db
def test_signing_in_is_rate_limited_per_address_on_every_sign_in_form(
    client: Client, hospital_a: Hospital, doctor_a: User, tight: dict[str, str]
) -> None:
    wrong = {"username": doctor_a.email, "password": "not it"}
    for _ in range(2):
        assert client.post("/login/", wrong, HTTP_HOST=ALPHA).status_code == 200
    page = client.post("/login/", {**wrong, "password": PASSWORD}, HTTP_HOST=ALPHA)
    _is_throttled(page, json_body=False)
    assert page["Content-Type"].startswith("text/html")
    assert "Too many sign-in attempts" in page.content.decode()
    # The same address on another sign-in form, and naming itself otherwise, is still counted.
    _is_throttled(client.post("/api/auth/login/", wrong))
    spoofed = client.post("/admin/login/", wrong, HTTP_X_FORWARDED_FOR="203.0.113.9")
    _is_throttled(spoofed, json_body=False)
    # Another address is not.
    other = client.post("/login/", wrong, HTTP_HOST=ALPHA, REMOTE_ADDR="198.51.100.7")
    assert other.status_code == 200


@pytest.mark.django_db
def test_asking_for_a_token_is_rate_limited_per_address(
    client: Client, doctor_a: User, tight: dict[str, str]
) -> None:
    body = {"email": doctor_a.email, "password": PASSWORD}
    for _ in range(2):
        assert client.post("/api/auth/token/", body).status_code == 200
    _is_throttled(client.post("/api/auth/token/", body, HTTP_X_FORWARDED_FOR="203.0.113.9"))


@pytest.mark.django_db
@pytest.mark.usefixtures("fake_reports")
def test_generating_reports_is_rate_limited_per_user(
    api: Any, hospital_a: Hospital, admin_a: User, tight: dict[str, str]
) -> None:
    api.force_login(admin_a)
    body = {**PERIOD, "format": "csv", "filters": {}, "include_rows": False}
    url = "/api/reports/templates/fake_counts/generate/"
    assert api.post(url, body, format="json", HTTP_HOST=ALPHA).status_code == 202
    _is_throttled(api.post(url, body, format="json", HTTP_HOST=ALPHA))
    # Reading is not generating.
    assert api.get("/api/reports/generated/", HTTP_HOST=ALPHA).status_code == 200
