"""Request → hospital over HTTP: by domain, by ``<code>.localhost``, by ``X-Hospital`` on a
platform host; non-members get 404, never 403; one hospital never reaches another's data."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from hospitium.accounts.models import Membership, Role, User
from hospitium.audit.services import break_glass_open
from hospitium.patients.models import Patient
from hospitium.tenancy.context import hospital_context
from hospitium.tenancy.models import Hospital
from hospitium.tenancy.provisioning import hospital_archive
from hospitium.tenancy.selectors import forget_cached_hospitals
from tests import factories

pytestmark = pytest.mark.django_db

ALPHA = "alpha.example.test"
BRAVO = "bravo.example.test"
NEW_PATIENT = {
    "mrn": "NEW-1",
    "given_name": "Grace",
    "family_name": "Hopper",
    "birth_date": "1906-12-09",
    "sex": "female",
}


def error_of(response: Any, status: int) -> dict[str, Any]:
    """The envelope's error of a JSON error response with this status."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert error["request_id"] == response["X-Request-ID"]
    return error


def login(client: APIClient, user: User, how: str) -> None:
    """Authenticate the client as ``user`` with a session or with a DRF token."""
    if how == "session":
        client.force_login(user)
    else:
        token, _ = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")


AUTH_MODES = pytest.mark.parametrize("how", ["session", "token"])


# --- which hospital a request addresses ------------------------------------------------------


@pytest.mark.parametrize("host", [ALPHA, f"{ALPHA}:8443", ALPHA.upper()])
def test_a_hospital_is_found_by_its_domain(api, doctor_a, host):
    api.force_login(doctor_a)
    response = api.get("/api/hospital/", HTTP_HOST=host)
    assert response.status_code == 200
    assert response.json() == {"code": "ALPHA", "name": "Alpha General", "status": "active"}


@pytest.mark.parametrize("host", ["alpha.localhost", "alpha.localhost:8000", "ALPHA.localhost"])
def test_a_hospital_is_found_by_code_dot_localhost(api, doctor_a, host):
    api.force_login(doctor_a)
    response = api.get("/api/hospital/", HTTP_HOST=host)
    assert response.status_code == 200
    assert response.json()["code"] == "ALPHA"


@pytest.mark.parametrize("host", ["testserver", "127.0.0.1", "127.0.0.1:8000", "localhost"])
@pytest.mark.parametrize("header", ["ALPHA", "alpha", " ALPHA "])
def test_a_hospital_is_found_by_the_x_hospital_header_on_a_platform_host(
    api, doctor_a, host, header
):
    api.force_login(doctor_a)
    response = api.get("/api/hospital/", HTTP_HOST=host, HTTP_X_HOSPITAL=header)
    assert response.status_code == 200
    assert response.json()["code"] == "ALPHA"


def test_each_host_addresses_its_own_hospital(api, doctor_a, hospital_b):
    Membership.objects.create(user=doctor_a, hospital=hospital_b, role=Role.DOCTOR)
    api.force_login(doctor_a)
    assert api.get("/api/hospital/", HTTP_HOST=ALPHA).json()["code"] == "ALPHA"
    assert api.get("/api/hospital/", HTTP_HOST=BRAVO).json()["code"] == "BRAVO"
    assert api.get("/api/hospital/", HTTP_HOST="bravo.localhost").json()["code"] == "BRAVO"


@pytest.mark.parametrize("host", ["nowhere.example.test", "nowhere.localhost", "a.b.localhost"])
def test_an_unknown_host_gets_a_404_page_on_a_web_path(web, superuser, hospital_a, host):
    web.force_login(superuser)
    response = web.get("/admin/", HTTP_HOST=host, HTTP_ACCEPT="text/html")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert "Page not found" in page
    assert response["X-Request-ID"] in page


@pytest.mark.parametrize("host", ["nowhere.example.test", "nowhere.localhost"])
def test_an_unknown_host_gets_a_404_envelope_on_an_api_path(api, superuser, hospital_a, host):
    api.force_login(superuser)
    error = error_of(api.get("/api/hospital/", HTTP_HOST=host), 404)
    assert error["code"] == "not_found"


def test_an_unknown_x_hospital_code_gets_a_404_envelope(api, superuser, hospital_a):
    api.force_login(superuser)
    response = api.get("/api/hospital/", HTTP_X_HOSPITAL="NOWHERE")
    assert error_of(response, 404)["code"] == "not_found"


@pytest.mark.parametrize("host", [ALPHA, "alpha.localhost"])
def test_a_host_and_an_x_hospital_header_naming_different_hospitals_get_404(
    api, superuser, hospital_a, hospital_b, host
):
    api.force_login(superuser)
    response = api.get("/api/hospital/", HTTP_HOST=host, HTTP_X_HOSPITAL="BRAVO")
    assert error_of(response, 404)["code"] == "not_found"


def test_a_host_and_an_x_hospital_header_naming_the_same_hospital_pass(api, doctor_a):
    api.force_login(doctor_a)
    response = api.get("/api/hospital/", HTTP_HOST=ALPHA, HTTP_X_HOSPITAL="alpha")
    assert response.status_code == 200
    assert response.json()["code"] == "ALPHA"


def test_platform_endpoints_answer_on_a_platform_host_without_a_hospital(web, db):
    assert web.get("/health/").json() == {"status": "ok"}
    assert web.get("/api/schema/").status_code == 200
    assert web.get("/api/docs/").status_code == 200
    admin = web.get("/admin/")
    assert admin.status_code == 302
    assert "/admin/login/" in admin["Location"]


def test_no_hospital_selected_on_a_hospital_endpoint_gets_the_envelope(api, doctor_a):
    api.force_login(doctor_a)
    for path in ("/api/patients/", "/api/hospital/"):
        error = error_of(api.get(path, HTTP_HOST="testserver"), 400)
        assert error["code"] == "no_hospital_selected"
        assert error["category"] == "tenant"


# --- membership: 404, never 403 --------------------------------------------------------------


@AUTH_MODES
@pytest.mark.parametrize("who", ["outsider", "doctor_b"])
def test_a_non_member_gets_404_not_403(api, request, hospital_a, how, who):
    login(api, request.getfixturevalue(who), how)
    for path in ("/api/hospital/", "/api/patients/"):
        error = error_of(api.get(path, HTTP_HOST=ALPHA), 404)
        assert error["code"] == "not_found"


@AUTH_MODES
def test_a_non_member_gets_404_through_the_x_hospital_header_too(api, outsider, hospital_a, how):
    login(api, outsider, how)
    response = api.get("/api/hospital/", HTTP_X_HOSPITAL="ALPHA")
    assert error_of(response, 404)["code"] == "not_found"


@AUTH_MODES
def test_a_non_member_cannot_tell_an_existing_hospital_from_an_unknown_one(
    api, outsider, hospital_a, how
):
    login(api, outsider, how)

    def without_id(response: Any) -> dict[str, Any]:
        error = error_of(response, 404)
        return {k: v for k, v in error.items() if k != "request_id"}

    existing = without_id(api.get("/api/hospital/", HTTP_X_HOSPITAL="ALPHA"))
    unknown = without_id(api.get("/api/hospital/", HTTP_X_HOSPITAL="NOWHERE"))
    assert existing == unknown


def test_a_non_member_gets_404_on_a_web_path_of_the_hospital(web, outsider, hospital_a):
    web.force_login(outsider)
    response = web.get("/admin/", HTTP_HOST=ALPHA, HTTP_ACCEPT="text/html")
    assert response.status_code == 404
    assert "Page not found" in response.content.decode()


@AUTH_MODES
def test_a_member_passes(api, doctor_a, how):
    login(api, doctor_a, how)
    response = api.get("/api/hospital/", HTTP_HOST=ALPHA)
    assert response.status_code == 200
    assert response.json()["code"] == "ALPHA"


@AUTH_MODES
def test_a_platform_superuser_is_not_a_member_by_default(api, superuser, hospital_a, how):
    login(api, superuser, how)
    for path in ("/api/hospital/", "/api/patients/"):
        for address in ({"HTTP_HOST": ALPHA}, {"HTTP_X_HOSPITAL": "ALPHA"}):
            assert error_of(api.get(path, **address), 404)["code"] == "not_found"


@AUTH_MODES
def test_a_platform_superuser_passes_with_break_glass_access(api, superuser, hospital_a, how):
    break_glass_open(user=superuser, hospital=hospital_a, reason="Restore a lost record")
    login(api, superuser, how)
    response = api.get("/api/hospital/", HTTP_HOST=ALPHA)
    assert response.status_code == 200
    assert response.json()["code"] == "ALPHA"


def test_a_member_of_one_hospital_passes_only_there(api, doctor_b, hospital_a):
    api.force_login(doctor_b)
    assert api.get("/api/hospital/", HTTP_HOST=BRAVO).status_code == 200
    assert api.get("/api/hospital/", HTTP_HOST=ALPHA).status_code == 404


# --- isolation through HTTP ------------------------------------------------------------------


@pytest.fixture
def alpha_patient(hospital_a) -> Patient:
    with hospital_context(hospital_a):
        return factories.patient(mrn="ALPHA-1", given_name="Ada")


@AUTH_MODES
def test_a_member_reads_the_patients_of_their_own_hospital(api, doctor_a, alpha_patient, how):
    login(api, doctor_a, how)
    listing = api.get("/api/patients/", HTTP_HOST=ALPHA)
    assert listing.status_code == 200
    assert [row["id"] for row in listing.json()["results"]] == [str(alpha_patient.pk)]
    detail = api.get(f"/api/patients/{alpha_patient.pk}/", HTTP_HOST=ALPHA)
    assert detail.status_code == 200
    assert detail.json()["mrn"] == "ALPHA-1"


@AUTH_MODES
def test_doctor_b_does_not_see_alpha_patients_through_bravo(api, doctor_b, alpha_patient, how):
    login(api, doctor_b, how)

    listing = api.get("/api/patients/", HTTP_HOST=BRAVO)
    assert listing.status_code == 200
    assert listing.json()["count"] == 0
    assert "ALPHA-1" not in listing.content.decode()

    detail = api.get(f"/api/patients/{alpha_patient.pk}/", HTTP_HOST=BRAVO)
    assert error_of(detail, 404)["code"] == "not_found"


@AUTH_MODES
@pytest.mark.parametrize(
    "address",
    [{"HTTP_HOST": ALPHA}, {"HTTP_HOST": "alpha.localhost"}, {"HTTP_X_HOSPITAL": "ALPHA"}],
    ids=["alpha-domain", "alpha-localhost", "x-hospital"],
)
def test_doctor_b_cannot_read_alpha_patients_by_addressing_alpha(
    api, doctor_b, alpha_patient, how, address
):
    login(api, doctor_b, how)

    listing = api.get("/api/patients/", **address)
    detail = api.get(f"/api/patients/{alpha_patient.pk}/", **address)

    for response in (listing, detail):
        assert error_of(response, 404)["code"] == "not_found"
        assert "ALPHA-1" not in response.content.decode()
        assert "Ada" not in response.content.decode()


@AUTH_MODES
@pytest.mark.parametrize(
    "address",
    [{"HTTP_HOST": ALPHA}, {"HTTP_X_HOSPITAL": "ALPHA"}],
    ids=["alpha-domain", "x-hospital"],
)
def test_doctor_b_cannot_create_a_patient_in_alpha(api, doctor_b, hospital_a, how, address):
    login(api, doctor_b, how)

    response = api.post("/api/patients/", NEW_PATIENT, format="json", **address)

    assert error_of(response, 404)["code"] == "not_found"
    with hospital_context(hospital_a):
        assert not Patient.objects.exists()


@AUTH_MODES
def test_a_patient_created_through_bravo_lands_only_in_bravo(
    api, doctor_b, hospital_a, hospital_b, how
):
    login(api, doctor_b, how)

    response = api.post("/api/patients/", NEW_PATIENT, format="json", HTTP_HOST=BRAVO)

    assert response.status_code == 201, response.content
    created_id = response.json()["id"]
    with hospital_context(hospital_b):
        created = Patient.objects.get(pk=created_id)
        assert created.mrn == "NEW-1"
        assert created.registered_by_id == doctor_b.pk
    with hospital_context(hospital_a):
        assert not Patient.objects.filter(pk=created_id).exists()
        assert not Patient.objects.filter(mrn="NEW-1").exists()


def test_the_same_mrn_may_be_used_by_two_hospitals(api, doctor_b, alpha_patient, hospital_b):
    api.force_login(doctor_b)
    response = api.post(
        "/api/patients/", {**NEW_PATIENT, "mrn": "ALPHA-1"}, format="json", HTTP_HOST=BRAVO
    )
    assert response.status_code == 201, response.content
    with hospital_context(hospital_b):
        assert Patient.objects.get(mrn="ALPHA-1").given_name == "Grace"


# --- hospital status -------------------------------------------------------------------------


def test_an_archived_hospital_answers_reads(api, doctor_a, alpha_patient):
    hospital_archive(code="ALPHA")
    api.force_login(doctor_a)

    hospital = api.get("/api/hospital/", HTTP_HOST=ALPHA)
    listing = api.get("/api/patients/", HTTP_HOST=ALPHA)
    detail = api.get(f"/api/patients/{alpha_patient.pk}/", HTTP_HOST=ALPHA)

    assert hospital.status_code == 200
    assert hospital.json()["status"] == "archived"
    assert listing.status_code == 200
    assert listing.json()["count"] == 1
    assert detail.status_code == 200


@AUTH_MODES
def test_an_archived_hospital_refuses_writes_with_409_read_only(api, doctor_a, alpha_patient, how):
    hospital_archive(code="ALPHA")
    login(api, doctor_a, how)

    response = api.post("/api/patients/", NEW_PATIENT, format="json", HTTP_HOST=ALPHA)

    error = error_of(response, 409)
    assert error["code"] == "hospital_read_only"
    with hospital_context("ALPHA"):
        assert list(Patient.objects.values_list("mrn", flat=True)) == ["ALPHA-1"]


def test_archiving_one_hospital_leaves_the_other_writable(api, doctor_b, hospital_a):
    hospital_archive(code="ALPHA")
    api.force_login(doctor_b)
    response = api.post("/api/patients/", NEW_PATIENT, format="json", HTTP_HOST=BRAVO)
    assert response.status_code == 201, response.content


def _set_status(code: str, status: str) -> None:
    Hospital.objects.filter(code=code).update(status=status)
    forget_cached_hospitals()


@pytest.mark.parametrize("status", ["provisioning", "failed"])
@pytest.mark.parametrize(
    "address",
    [{"HTTP_HOST": ALPHA}, {"HTTP_X_HOSPITAL": "ALPHA"}],
    ids=["alpha-domain", "x-hospital"],
)
def test_a_hospital_that_is_not_active_answers_503(api, doctor_a, status, address):
    _set_status("ALPHA", status)
    api.force_login(doctor_a)

    for response in (
        api.get("/api/hospital/", **address),
        api.post("/api/patients/", NEW_PATIENT, format="json", **address),
    ):
        error = error_of(response, 503)
        assert error["code"] == "hospital_not_active"
        assert error["category"] == "tenant"


def test_a_hospital_that_is_not_active_shows_a_friendly_page_on_a_web_path(web, doctor_a):
    _set_status("ALPHA", "failed")
    web.force_login(doctor_a)
    response = web.get("/admin/", HTTP_HOST=ALPHA, HTTP_ACCEPT="text/html")
    assert response.status_code == 503
    assert response["Content-Type"].startswith("text/html")
    assert response["X-Request-ID"] in response.content.decode()


def test_a_hospital_that_becomes_active_again_answers_again(api, doctor_a):
    _set_status("ALPHA", "failed")
    api.force_login(doctor_a)
    assert api.get("/api/hospital/", HTTP_HOST=ALPHA).status_code == 503
    _set_status("ALPHA", "active")
    assert api.get("/api/hospital/", HTTP_HOST=ALPHA).status_code == 200
