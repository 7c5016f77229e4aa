"""Request bodies the API cannot use answer a clear 4xx in the error envelope, never a 500:
too large (413), nested too deep or not JSON at all (400), of a type it does not read (415);
and a query string with a NUL character (400, which PostgreSQL would have failed on)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.test import Client
from rest_framework.test import APIClient

from hospitium.accounts.models import User
from hospitium.core.parsers import MAX_JSON_DEPTH, json_depth
from hospitium.patients.models import Patient
from hospitium.tenancy.context import hospital_context
from hospitium.tenancy.models import Hospital
from tests.core.test_errors import envelope_of

pytestmark = pytest.mark.django_db

ALPHA = "alpha.example.test"
NEW_PATIENT = {
    "mrn": "B-100",
    "given_name": "Ada",
    "family_name": "Lovelace",
    "birth_date": "1815-12-10",
    "sex": "female",
}


@pytest.fixture
def doctor_api(hospital_a: Hospital, doctor_a: User) -> APIClient:
    client = APIClient(raise_request_exception=False)
    client.force_login(doctor_a)
    return client


def _post_raw(client: Client, body: bytes | str, content_type: str, path: str = "/api/patients/"):
    return client.generic("POST", path, body, content_type=content_type, HTTP_HOST=ALPHA)


def _no_patients() -> bool:
    with hospital_context("ALPHA"):
        return not Patient.objects.exists()


def test_a_body_over_the_upload_limit_answers_413_naming_the_limit(doctor_api: APIClient) -> None:
    limit = django_settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    body = json.dumps(NEW_PATIENT | {"address": "x" * limit})
    response = _post_raw(doctor_api, body, "application/json")
    error = envelope_of(response, status=413, code="request_too_large", category="validation")
    assert f"{limit:,}" in error["message"]
    assert _no_patients()


def test_a_form_over_the_upload_limit_outside_the_api_views_answers_413_too() -> None:
    # Django's own sign-in view reads the form itself; Django hands the error to handler400.
    client = Client(raise_request_exception=False)
    limit = django_settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    body = "username=a&password=" + "x" * limit
    response = client.post(
        "/api/auth/login/", body, content_type="application/x-www-form-urlencoded"
    )
    envelope_of(response, status=413, code="request_too_large", category="validation")


def test_json_nested_100000_deep_answers_400_not_500(doctor_api: APIClient) -> None:
    response = _post_raw(doctor_api, "[" * 100_000 + "]" * 100_000, "application/json")
    error = envelope_of(response, status=400, code="malformed_request", category="validation")
    assert f"more than {MAX_JSON_DEPTH} levels" in error["message"]


def test_json_one_level_deeper_than_the_limit_is_refused_inside_a_field(
    doctor_api: APIClient,
) -> None:
    nested: Any = "leaf"
    for _ in range(MAX_JSON_DEPTH):
        nested = [nested]
    body = NEW_PATIENT | {"address": nested}  # the body object itself is one more level
    assert json_depth(body) == MAX_JSON_DEPTH + 1
    response = _post_raw(doctor_api, json.dumps(body), "application/json")
    envelope_of(response, status=400, code="malformed_request", category="validation")
    assert _no_patients()


def test_json_depth_counts_objects_and_lists_and_not_scalars() -> None:
    assert json_depth("text") == 0
    assert json_depth({}) == 1
    assert json_depth({"a": [1, {"b": []}], "c": 2}) == 4


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("{bad", "application/json"),
        (b"\xff\xfe\x00", "application/json"),
        ("NaN", "application/json"),
        ("garbage", "multipart/form-data"),
        ("&".join(f"f{i}=1" for i in range(1_200)), "application/x-www-form-urlencoded"),
    ],
    ids=["malformed-json", "not-utf8", "nan", "multipart-without-boundary", "too-many-fields"],
)
def test_a_body_that_cannot_be_read_answers_400(
    doctor_api: APIClient, body: str | bytes, content_type: str
) -> None:
    response = _post_raw(doctor_api, body, content_type)
    envelope_of(response, status=400, code="malformed_request", category="validation")
    assert _no_patients()


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", ""])
def test_a_body_of_a_type_the_api_does_not_read_answers_415(
    doctor_api: APIClient, content_type: str
) -> None:
    response = _post_raw(doctor_api, json.dumps(NEW_PATIENT), content_type)
    error = envelope_of(response, status=415, code="unsupported_media_type", category="validation")
    assert "application/json" in error["message"]
    assert _no_patients()


@pytest.mark.parametrize(
    "query",
    [
        "/api/patients/?ordering=%00",  # reached the audit log's JSON record of the listing
        "/api/patients/?search=a%00b",
        "/api/reports/generated/?template=%00",  # a filter read by hand
        "/api/reports/generated/?template=a+%00",
    ],
)
def test_a_nul_character_in_a_query_string_answers_400_on_every_store(
    hospital_a: Hospital, admin_a: User, query: str
) -> None:
    client = APIClient(raise_request_exception=False)
    client.force_login(admin_a)
    response = client.get(query, HTTP_HOST=ALPHA)
    error = envelope_of(response, status=400, code="malformed_request", category="validation")
    assert "NUL" in error["message"]
