"""Every API error answers one envelope, and every response carries a request id.

``{"error": {"code", "message", "category", "fields", "request_id"}}``; the request id in the
envelope is the one in the X-Request-ID header.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from django.test import Client
from rest_framework.throttling import SimpleRateThrottle

from hospitium.patients.models import Patient
from hospitium.tenancy.context import hospital_context
from tests.core.urls_for_errors import SECRET_DETAIL

pytestmark = pytest.mark.django_db

ALPHA = "alpha.example.test"
ENVELOPE_KEYS = {"code", "message", "category", "fields", "request_id"}
NEW_PATIENT = {
    "mrn": "A-100",
    "given_name": "Ada",
    "family_name": "Lovelace",
    "birth_date": "1815-12-10",
    "sex": "female",
}


def envelope_of(response: Any, *, status: int, code: str, category: str) -> dict[str, Any]:
    """Check that ``response`` is the error envelope with this status, code and category."""
    assert response.status_code == status, response.content
    assert "json" in response["Content-Type"]
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == ENVELOPE_KEYS
    assert error["code"] == code
    assert error["category"] == category
    assert isinstance(error["message"], str)
    assert error["message"]
    assert isinstance(error["fields"], dict)
    assert error["request_id"] == response["X-Request-ID"]
    return error


def _patient_count(code: str) -> int:
    with hospital_context(code):
        return Patient.objects.count()


# --- request ids -----------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/health/", "/api/schema/", "/api/hospital/", "/no-such-page/"])
def test_every_response_carries_a_request_id(web, path):
    response = web.get(path)
    assert len(response["X-Request-ID"]) >= 8


def test_two_requests_get_different_request_ids(web):
    first = web.get("/health/")["X-Request-ID"]
    second = web.get("/health/")["X-Request-ID"]
    assert first != second


@pytest.mark.parametrize(
    "incoming", ["abcd1234", "req-2024.11.21_0001", "A" * 64, str(uuid.uuid4())]
)
def test_a_valid_incoming_request_id_is_echoed_back(api, incoming):
    response = api.get("/api/hospital/", HTTP_X_REQUEST_ID=incoming)
    assert response["X-Request-ID"] == incoming
    assert response.json()["error"]["request_id"] == incoming


@pytest.mark.parametrize(
    "incoming",
    [
        "has spaces in it",
        "short",
        "A" * 65,
        "abc;def;ghi",
        "<script>alert(1)</script>",
        "abcdefgh\n",
        "abcdefgh\r\nSet-Cookie: x=1",
    ],
)
def test_an_invalid_incoming_request_id_is_replaced(api, incoming):
    response = api.get("/api/hospital/", HTTP_X_REQUEST_ID=incoming)
    assert response.status_code != 500
    replaced = response["X-Request-ID"]
    assert replaced != incoming
    assert incoming.strip() not in replaced
    assert len(replaced) >= 8
    assert response.json()["error"]["request_id"] == replaced


# --- the envelope, category by category ------------------------------------------------------


def test_a_validation_error_names_the_bad_fields(api, doctor_a):
    api.force_login(doctor_a)
    bad = {**NEW_PATIENT, "birth_date": "not-a-date"}
    del bad["given_name"]

    response = api.post("/api/patients/", bad, format="json", HTTP_HOST=ALPHA)

    error = envelope_of(response, status=400, code="validation_error", category="validation")
    assert set(error["fields"]) == {"birth_date", "given_name"}
    assert all(error["fields"][name] for name in error["fields"])
    assert _patient_count("ALPHA") == 0


def test_a_rule_checked_by_the_service_also_names_the_field(api, doctor_a):
    api.force_login(doctor_a)
    future = {**NEW_PATIENT, "birth_date": "2999-01-01"}

    response = api.post("/api/patients/", future, format="json", HTTP_HOST=ALPHA)

    error = envelope_of(response, status=400, code="validation_error", category="validation")
    assert list(error["fields"]) == ["birth_date"]
    assert _patient_count("ALPHA") == 0


def test_malformed_json_is_a_validation_error(api, doctor_a):
    api.force_login(doctor_a)
    response = api.post(
        "/api/patients/", "{not json", content_type="application/json", HTTP_HOST=ALPHA
    )
    envelope_of(response, status=400, code="malformed_request", category="validation")


def test_a_duplicate_mrn_is_a_409_conflict(api, doctor_a):
    api.force_login(doctor_a)
    first = api.post("/api/patients/", NEW_PATIENT, format="json", HTTP_HOST=ALPHA)
    assert first.status_code == 201

    second = api.post(
        "/api/patients/", {**NEW_PATIENT, "given_name": "Other"}, format="json", HTTP_HOST=ALPHA
    )

    error = envelope_of(second, status=409, code="conflict", category="conflict")
    assert "mrn" in error["fields"]
    assert _patient_count("ALPHA") == 1


def test_an_unknown_patient_id_is_404(api, doctor_a):
    api.force_login(doctor_a)
    response = api.get(f"/api/patients/{uuid.uuid4()}/", HTTP_HOST=ALPHA)
    envelope_of(response, status=404, code="not_found", category="not_found")


def test_a_non_uuid_patient_id_is_404(api, doctor_a):
    api.force_login(doctor_a)
    response = api.get("/api/patients/not-a-uuid/", HTTP_HOST=ALPHA)
    envelope_of(response, status=404, code="not_found", category="not_found")


def test_an_unknown_api_path_is_404_envelope(api, doctor_a):
    api.force_login(doctor_a)
    response = api.get("/api/no-such-endpoint/", HTTP_HOST=ALPHA)
    envelope_of(response, status=404, code="not_found", category="not_found")


def test_a_method_the_endpoint_does_not_allow_is_405(api, doctor_a):
    api.force_login(doctor_a)

    response = api.delete("/api/hospital/", HTTP_HOST=ALPHA)

    envelope_of(response, status=405, code="method_not_allowed", category="validation")
    assert "DELETE" not in response["Allow"]
    assert "GET" in response["Allow"]


def test_an_unauthenticated_request_is_refused_with_category_authentication(api, hospital_a):
    response = api.get("/api/patients/", HTTP_HOST=ALPHA)
    assert response.status_code in {401, 403}
    envelope_of(
        response,
        status=response.status_code,
        code="not_authenticated",
        category="authentication",
    )


def test_an_unknown_token_is_refused_with_category_authentication(api, hospital_a):
    response = api.get("/api/patients/", HTTP_HOST=ALPHA, HTTP_AUTHORIZATION="Token " + "0" * 40)
    assert response.status_code in {401, 403}
    envelope_of(
        response,
        status=response.status_code,
        code="authentication_failed",
        category="authentication",
    )


# --- CSRF ------------------------------------------------------------------------------------


def test_a_session_post_without_csrf_token_is_refused_with_the_envelope(doctor_a):
    client = Client(enforce_csrf_checks=True)
    client.force_login(doctor_a)

    response = client.post(
        "/api/patients/", NEW_PATIENT, content_type="application/json", HTTP_HOST=ALPHA
    )

    # DRF's SessionAuthentication checks CSRF itself; ours tells that refusal apart.
    error = envelope_of(response, status=403, code="csrf_failed", category="permission")
    assert "CSRF" in error["message"] and "X-CSRFToken" in error["message"]
    assert _patient_count("ALPHA") == 0


def test_the_same_session_post_with_a_csrf_token_succeeds(doctor_a):
    client = Client(enforce_csrf_checks=True)
    client.force_login(doctor_a)
    secret = "abcdefghijklmnopqrstuvwxyzABCDEF"
    client.cookies[django_settings.CSRF_COOKIE_NAME] = secret

    response = client.post(
        "/api/patients/",
        NEW_PATIENT,
        content_type="application/json",
        HTTP_HOST=ALPHA,
        HTTP_X_CSRFTOKEN=secret,
    )

    assert response.status_code == 201, response.content
    assert _patient_count("ALPHA") == 1


def test_a_web_form_without_csrf_token_gets_the_friendly_page(db):
    client = Client(enforce_csrf_checks=True)
    response = client.post(
        "/admin/login/", {"username": "x", "password": "y"}, HTTP_ACCEPT="text/html"
    )
    assert response.status_code == 403
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert "Reload the page" in page
    assert response["X-Request-ID"] in page


# --- throttling ------------------------------------------------------------------------------


@pytest.fixture
def tight_throttles(settings, monkeypatch) -> Iterator[None]:
    rates = {"anon": "1/minute", "user": "1/minute"}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    # DRF copies the rates onto the throttle class when it is imported, so a settings override
    # alone does not reach it.
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", rates)
    cache.clear()
    yield
    cache.clear()


def test_a_user_over_the_rate_is_throttled_with_429(api, doctor_a, tight_throttles):
    api.force_login(doctor_a)
    assert api.get("/api/hospital/", HTTP_HOST=ALPHA).status_code == 200

    response = api.get("/api/hospital/", HTTP_HOST=ALPHA)

    envelope_of(response, status=429, code="throttled", category="permission")
    assert int(response["Retry-After"]) > 0


def test_throttling_counts_each_user_apart(api, doctor_a, admin_a, tight_throttles):
    api.force_login(doctor_a)
    assert api.get("/api/hospital/", HTTP_HOST=ALPHA).status_code == 200
    api.force_login(admin_a)
    assert api.get("/api/hospital/", HTTP_HOST=ALPHA).status_code == 200


def test_an_anonymous_client_over_the_rate_is_throttled_with_429(api, tight_throttles):
    # Anonymous clients reach the throttle only on open endpoints (the permission check comes
    # first); the schema renders errors in the negotiated format, so ask for JSON.
    assert api.get("/api/schema/", HTTP_ACCEPT="application/json").status_code == 200
    response = api.get("/api/schema/", HTTP_ACCEPT="application/json")
    envelope_of(response, status=429, code="throttled", category="permission")


# --- unhandled errors ------------------------------------------------------------------------


@pytest.fixture
def failing_urls(settings) -> None:
    settings.ROOT_URLCONF = "tests.core.urls_for_errors"


@pytest.fixture
def tolerant() -> Client:
    """A client that returns the 500 response instead of re-raising the view's exception."""
    return Client(raise_request_exception=False)


def _assert_nothing_leaks(body: str) -> None:
    for leak in (SECRET_DETAIL, "RuntimeError", "Traceback", "/srv/", ".py", "SELECT"):
        assert leak not in body


def test_an_unhandled_error_in_an_api_view_is_a_500_envelope_without_details(
    tolerant, failing_urls, caplog
):
    with caplog.at_level(logging.ERROR):
        response = tolerant.get("/api/boom/")

    error = envelope_of(response, status=500, code="internal_error", category="system")
    assert error["fields"] == {}
    _assert_nothing_leaks(response.content.decode())
    logged = [r for r in caplog.records if r.exc_info and r.exc_info[0] is RuntimeError]
    assert logged, "the unhandled error must be logged with its traceback"


def test_an_unhandled_error_in_an_api_view_of_a_hospital_is_a_500_envelope(
    tolerant, failing_urls, doctor_a
):
    tolerant.force_login(doctor_a)
    response = tolerant.get("/api/boom/", HTTP_HOST=ALPHA)
    envelope_of(response, status=500, code="internal_error", category="system")
    _assert_nothing_leaks(response.content.decode())


def test_an_unhandled_error_in_a_plain_view_under_api_is_a_500_envelope(
    tolerant, failing_urls, caplog
):
    with caplog.at_level(logging.ERROR):
        response = tolerant.get("/api/plain-boom/", HTTP_ACCEPT="text/html")

    envelope_of(response, status=500, code="internal_error", category="system")
    _assert_nothing_leaks(response.content.decode())
    assert any(r.exc_info and r.exc_info[0] is RuntimeError for r in caplog.records)


def test_an_unhandled_error_in_a_web_page_is_the_friendly_page_with_the_request_id(
    tolerant, failing_urls
):
    response = tolerant.get("/boom/", HTTP_ACCEPT="text/html", HTTP_X_REQUEST_ID="support-ref-42")

    assert response.status_code == 500
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert "Something went wrong" in page
    assert "support-ref-42" in page
    assert response["X-Request-ID"] == "support-ref-42"
    _assert_nothing_leaks(page)


def test_an_unhandled_error_in_a_web_page_asked_for_as_json_is_the_envelope(tolerant, failing_urls):
    response = tolerant.get("/boom/", HTTP_ACCEPT="application/json")
    envelope_of(response, status=500, code="internal_error", category="system")
    _assert_nothing_leaks(response.content.decode())


def test_a_hospitium_error_escaping_a_plain_view_keeps_its_status_and_code(tolerant, failing_urls):
    response = tolerant.get("/api/plain-conflict/")
    error = envelope_of(response, status=409, code="conflict", category="conflict")
    assert error["message"] == "Plain views keep the error's own message."
