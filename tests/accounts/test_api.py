from __future__ import annotations

import pytest

from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

ALPHA = "alpha.example.test"


def test_a_token_is_issued_for_the_right_password_and_works_for_the_api(api, doctor_a):
    response = api.post(
        "/api/auth/token/",
        {"email": "Doctor@Alpha.example.test", "password": PASSWORD},
        format="json",
    )
    assert response.status_code == 200, response.content
    token = response.json()["token"]
    assert response.json()["user"]["email"] == doctor_a.email
    fresh = type(api)()
    listing = fresh.get("/api/patients/", HTTP_HOST=ALPHA, HTTP_AUTHORIZATION=f"Token {token}")
    assert listing.status_code == 200
    again = api.post(
        "/api/auth/token/", {"email": doctor_a.email, "password": PASSWORD}, format="json"
    )
    assert again.json()["token"] == token


@pytest.mark.parametrize(
    "body",
    [
        {"email": "doctor@alpha.example.test", "password": "wrong"},
        {"email": "nobody@example.test", "password": PASSWORD},
    ],
)
def test_a_wrong_email_or_password_gets_the_same_401_envelope(api, doctor_a, body):
    response = api.post("/api/auth/token/", body, format="json")
    assert response.status_code == 401
    error = response.json()["error"]
    assert (error["code"], error["category"]) == ("invalid_credentials", "authentication")
    assert "token" not in response.json()


def test_a_malformed_token_request_is_a_validation_error(api, db):
    response = api.post("/api/auth/token/", {"email": "not-an-email"}, format="json")
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"email", "password"}


def test_repeated_guessing_locks_the_account_out(api, doctor_a, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        api.post("/api/auth/token/", {"email": doctor_a.email, "password": "guess"}, format="json")
    response = api.post(
        "/api/auth/token/", {"email": doctor_a.email, "password": PASSWORD}, format="json"
    )
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "locked_out"
