"""Nobody learns which hospital codes exist by asking: a request that may not see a hospital gets
the same answer for a real code (in any state) as for a code that exists nowhere — status, body
and headers, the request id apart."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from hospitium.tenancy.models import Hospital
from hospitium.tenancy.selectors import forget_cached_hospitals

pytestmark = pytest.mark.django_db

UNKNOWN = "NOWHERE"
PATHS = [
    ("get", "/api/hospital/"),
    ("get", "/api/patients/"),
    ("get", f"/api/patients/{uuid.uuid4()}/"),
    ("post", "/api/patients/"),
    ("get", "/api/audit-events/"),
    ("get", "/api/reports/generated/"),
    ("get", "/api/schema/"),
    ("post", "/api/auth/token/"),
    ("get", "/api/auth/login/"),
    ("get", "/health/"),
]


# Headers that differ from one response to the next, whatever the request.
VARYING_HEADERS = {"x-request-id", "date", "expires"}


def answer(response: Any) -> tuple[int, Any, dict[str, str]]:
    """What a client sees of a response, without what differs between any two responses."""
    headers = {k: v for k, v in response.headers.items() if k.lower() not in VARYING_HEADERS}
    if headers.get("Content-Type", "").startswith("application/json"):
        body: Any = response.json()
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            body["error"].pop("request_id", None)
    else:
        # The request id (in an envelope or a page), and a sign-in form's CSRF token, differ from one response to the next.
        body = re.sub(
            rb"request_id: \w+|<code>\w+</code>|name=\"csrfmiddlewaretoken\" value=\"\w+\"",
            b"",
            response.content,
        )
    return response.status_code, body, headers


def ask(client: APIClient, method: str, path: str, code: str) -> Any:
    return getattr(client, method)(path, {}, format="json", HTTP_X_HOSPITAL=code)


def set_status(code: str, status: str) -> None:
    Hospital.objects.filter(code=code).update(status=status)
    forget_cached_hospitals()


STATUSES = pytest.mark.parametrize("status", ["active", "archived", "provisioning", "failed"])
CREDENTIALS = pytest.mark.parametrize(
    "credentials",
    [{}, {"HTTP_AUTHORIZATION": "Token not-a-real-token"}, {"HTTP_AUTHORIZATION": "Token"}],
    ids=["none", "wrong-token", "malformed-token"],
)


@STATUSES
@CREDENTIALS
@pytest.mark.parametrize(("method", "path"), PATHS)
def test_an_anonymous_request_cannot_tell_a_hospital_code_from_an_unknown_one(
    hospital_a, status, credentials, method, path
):
    set_status("ALPHA", status)
    client = APIClient()
    client.credentials(**credentials)

    assert answer(ask(client, method, path, "ALPHA")) == answer(ask(client, method, path, UNKNOWN))


def test_an_anonymous_request_naming_a_hospital_is_asked_to_authenticate(hospital_a):
    response = APIClient().get("/api/patients/", HTTP_X_HOSPITAL="ALPHA")
    assert response.status_code in (401, 403)
    assert response.json()["error"]["code"] == "not_authenticated"


def _sign_in(client: APIClient, user: Any, how: str) -> None:
    if how == "session":
        client.force_login(user)
    else:
        token, _ = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")


@STATUSES
@pytest.mark.parametrize("how", ["session", "token"])
@pytest.mark.parametrize(("method", "path"), PATHS[:6])
def test_a_non_member_cannot_tell_a_hospital_in_any_state_from_an_unknown_one(
    hospital_a, outsider, status, how, method, path
):
    set_status("ALPHA", status)
    client = APIClient()
    _sign_in(client, outsider, how)

    existing = answer(ask(client, method, path, "ALPHA"))
    assert existing == answer(ask(client, method, path, UNKNOWN))
    assert existing[0] == 404


@pytest.mark.parametrize("how", ["session", "token"])
def test_a_member_still_learns_that_their_hospital_is_not_active(doctor_a, how):
    set_status("ALPHA", "failed")
    client = APIClient()
    _sign_in(client, doctor_a, how)
    response = client.get("/api/hospital/", HTTP_X_HOSPITAL="ALPHA")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "hospital_not_active"


def test_a_token_request_is_looked_up_once(doctor_a):
    """The middleware and DRF share one look-up of the token."""
    client = APIClient()
    _sign_in(client, doctor_a, "token")
    client.get("/api/hospital/", HTTP_X_HOSPITAL="ALPHA")  # warm up what is cached per process
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/api/hospital/", HTTP_X_HOSPITAL="ALPHA").status_code == 200
    token_reads = [q for q in queries.captured_queries if "authtoken_token" in q["sql"]]
    assert len(token_reads) == 1


@pytest.mark.parametrize("path", ["/api/hospital/", "/api/auth/login/", "/health/"])
def test_production_serves_no_code_dot_localhost_names(hospital_a, settings, path):
    settings.HOSPITIUM_LOCALHOST_NAMES = False
    client = APIClient()
    existing = answer(client.get(path, HTTP_HOST="alpha.localhost"))
    assert existing == answer(client.get(path, HTTP_HOST="nowhere.localhost"))
    assert existing[0] == 404


def test_production_leaves_localhost_names_off(monkeypatch):
    monkeypatch.setenv("HOSPITIUM_ENV", "production")
    monkeypatch.setenv("HOSPITIUM_SECRET_KEY", "x" * 50)
    monkeypatch.delenv("HOSPITIUM_LOCALHOST_NAMES", raising=False)
    import importlib

    from hospitium.settings import core

    try:
        assert importlib.reload(core).HOSPITIUM_LOCALHOST_NAMES is False
    finally:
        monkeypatch.undo()
        importlib.reload(core)
