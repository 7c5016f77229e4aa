"""The web interface's frame: signing in and out, the start page per role, the navigation,
the hospital switcher, lockout, and the error pages (Django's test client, both stores)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from hospitium.accounts.models import Role, User
from hospitium.billing.services import invoice_issue
from hospitium.feedback.services import feedback_submit
from hospitium.scheduling.models import Appointment
from hospitium.tenancy.context import hospital_context
from hospitium.tenancy.models import Hospital
from tests import factories
from tests.admissions.helpers import bed
from tests.billing import factories as billing
from tests.conftest import PASSWORD
from tests.web.helpers import client_for, host_of, max_queries, member

pytestmark = pytest.mark.django_db


def test_signed_out_start_page_goes_to_sign_in(hospital_a: Hospital) -> None:
    response = client_for(hospital_a).get("/")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/"


def test_the_platform_host_start_page_is_the_api_documentation(db: None) -> None:
    response = Client().get("/")
    assert response.status_code == 302
    assert response["Location"] == "/api/docs/"


def test_sign_in_page_names_the_hospital_and_labels_its_fields(hospital_a: Hospital) -> None:
    page = client_for(hospital_a).get("/login/").content.decode()
    assert "Alpha General" in page
    assert '<label for="id_username">Email address' in page
    assert '<label for="id_password">Password' in page
    assert "<style" not in page and "<script>" not in page


def test_signing_in_leads_to_the_page_asked_for(hospital_a: Hospital, doctor_a: User) -> None:
    client = client_for(hospital_a)
    response = client.post(
        "/login/", {"username": doctor_a.email, "password": PASSWORD, "next": "/patients/"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/patients/"
    assert client.get("/").status_code == 200


def test_signing_in_never_sends_the_user_to_another_site(
    hospital_a: Hospital, doctor_a: User
) -> None:
    response = client_for(hospital_a).post(
        "/login/", {"username": doctor_a.email, "password": PASSWORD, "next": "https://evil.test/"}
    )
    assert response["Location"] == "/"


def test_a_wrong_password_is_shown_in_the_error_summary(
    hospital_a: Hospital, doctor_a: User
) -> None:
    response = client_for(hospital_a).post(
        "/login/", {"username": doctor_a.email, "password": "wrong"}
    )
    assert response.status_code == 200
    assert 'class="error-summary"' in response.content.decode()


def test_repeated_failures_lock_signing_in_with_a_clear_message(
    hospital_a: Hospital, doctor_a: User, settings
) -> None:
    client = client_for(hospital_a)
    statuses = [
        client.post("/login/", {"username": doctor_a.email, "password": "wrong"}).status_code
        for _ in range(settings.AXES_FAILURE_LIMIT)
    ]
    assert statuses[-1] == 429
    locked = client.post("/login/", {"username": doctor_a.email, "password": PASSWORD})
    assert locked.status_code == 429
    page = locked.content.decode()
    assert "Too many failed attempts" in page
    assert "Alpha General" in page
    assert "_auth_user_id" not in client.session


def test_the_api_keeps_its_json_lockout_answer(db: None, settings) -> None:
    from django.test import RequestFactory

    from hospitium.web.views.auth import locked_out

    request = RequestFactory().post("/api/auth/token/")
    response = locked_out(request)
    assert response.status_code == 429
    assert response["Content-Type"] == "application/json"


def test_signing_out_needs_a_post(hospital_a: Hospital, doctor_a: User) -> None:
    client = client_for(hospital_a, doctor_a)
    assert client.get("/logout/").status_code == 405
    response = client.post("/logout/")
    assert response["Location"] == "/login/"
    assert client.get("/")["Location"] == "/login/?next=/"


def test_changing_the_password_shows_errors_beside_the_field_then_works(
    hospital_a: Hospital, doctor_a: User
) -> None:
    client = client_for(hospital_a, doctor_a)
    wrong = client.post(
        "/password/",
        {
            "old_password": "nope",
            "new_password1": "a-new-pass-9876",
            "new_password2": "a-new-pass-9876",
        },
    )
    page = wrong.content.decode()
    assert wrong.status_code == 200
    assert 'id="id_old_password_error"' in page
    assert 'href="#id_old_password"' in page
    right = client.post(
        "/password/",
        {
            "old_password": PASSWORD,
            "new_password1": "a-new-pass-9876",
            "new_password2": "a-new-pass-9876",
        },
    )
    assert right["Location"] == "/"
    doctor_a.refresh_from_db()
    assert doctor_a.check_password("a-new-pass-9876")
    assert client.get("/").status_code == 200  # still signed in


@pytest.mark.parametrize(
    ("role", "sections", "hidden"),
    [
        (
            Role.ADMIN,
            ["Today's appointments", "Admitted patients", "Open invoices", "Recent feedback"],
            [],
        ),
        (
            Role.DOCTOR,
            ["Today's appointments", "Admitted patients", "Recent feedback"],
            ["Open invoices"],
        ),
        (Role.RECEPTIONIST, ["Today's appointments", "Open invoices", "Recent feedback"], []),
        (
            Role.BILLING,
            ["Open invoices"],
            ["Today's appointments", "Admitted patients", "Recent feedback"],
        ),
        (
            Role.ANALYST,
            [],
            ["Today's appointments", "Admitted patients", "Open invoices", "Recent feedback"],
        ),
    ],
)
def test_the_overview_shows_only_what_the_role_may_read(
    hospital_a: Hospital, role: str, sections: list[str], hidden: list[str]
) -> None:
    page = client_for(hospital_a, member(hospital_a, role)).get("/").content.decode()
    for title in sections:
        assert title in page
    for title in hidden:
        assert title not in page


@pytest.mark.parametrize(
    ("role", "sees_patients"),
    [(Role.RECEPTIONIST, True), (Role.BILLING, True), (Role.ANALYST, False)],
)
def test_the_navigation_follows_the_role_table(
    hospital_a: Hospital, role: str, sees_patients: bool
) -> None:
    page = client_for(hospital_a, member(hospital_a, role)).get("/").content.decode()
    assert ('href="/patients/"' in page) is sees_patients
    assert 'aria-current="page"' in page


def _day_of_work(hospital: Hospital, n: int) -> None:
    """``n`` of everything the overview shows, today."""
    now = timezone.now()
    with hospital_context(hospital):
        doctor = factories.practitioner()
        for i in range(n):
            patient = factories.patient()
            start = now.replace(hour=0, minute=0, second=0, microsecond=0) + dt.timedelta(
                minutes=20 * i
            )
            Appointment.objects.create(
                patient=patient,
                practitioner=doctor,
                starts_at=start,
                ends_at=start + dt.timedelta(minutes=15),
            )
            from hospitium.admissions.services import admission_admit

            admission_admit(patient=patient, bed=bed(), admitted_at=now - dt.timedelta(hours=1))
            invoice_issue(invoice=billing.invoice(patient, lines=[("1", "10.00")]))
            visit = billing.visit(
                patient, practitioner=doctor, started_at=now - dt.timedelta(days=1)
            )
            feedback_submit(visit=visit, rating=4, comment="Kind staff")


def test_the_overview_costs_the_same_queries_with_more_data(
    hospital_a: Hospital, admin_a: User, django_assert_max_num_queries
) -> None:
    client = client_for(hospital_a, admin_a)
    _day_of_work(hospital_a, 2)
    with max_queries(django_assert_max_num_queries, hospital_a, 8):
        small = client.get("/")
    _day_of_work(hospital_a, 12)
    with max_queries(django_assert_max_num_queries, hospital_a, 8):
        big = client.get("/")
    assert small.status_code == big.status_code == 200
    assert big.content.decode().count("Kind staff") == 10


def test_a_signed_in_non_member_gets_the_404_page_without_the_hospital_name(
    hospital_a: Hospital, doctor_b: User
) -> None:
    response = client_for(hospital_a, doctor_b).get("/")
    assert response.status_code == 404
    page = response.content.decode()
    assert "Page not found" in page
    assert "Alpha General" not in page


def test_a_user_of_several_hospitals_can_switch(
    hospital_a: Hospital, hospital_b: Hospital, doctor_a: User
) -> None:
    from hospitium.accounts.models import Membership

    Membership.objects.create(user=doctor_a, hospital=hospital_b, role=Role.NURSE)
    page = client_for(hospital_a, doctor_a).get("/").content.decode()
    assert "Switch hospital" in page
    assert 'href="http://bravo.example.test/">Bravo Clinic</a>' in page


def test_a_user_of_one_hospital_sees_no_switcher(
    hospital_a: Hospital, hospital_b: Hospital, doctor_a: User
) -> None:
    assert "Switch hospital" not in client_for(hospital_a, doctor_a).get("/").content.decode()


def test_the_404_page_has_the_apps_look_and_the_request_id(
    hospital_a: Hospital, doctor_a: User
) -> None:
    response = client_for(hospital_a, doctor_a).get("/no-such-page/")
    assert response.status_code == 404
    page = response.content.decode()
    assert "/static/web/hospitium.css" in page
    assert response["X-Request-ID"] in page
    assert "Alpha General" in page


def test_the_api_keeps_its_json_errors(hospital_a: Hospital, doctor_a: User) -> None:
    response = client_for(hospital_a, doctor_a).get("/api/no-such-thing/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_a_page_the_role_may_not_open_answers_the_403_page(hospital_a: Hospital, rf) -> None:
    from hospitium.core.context import roles_var
    from hospitium.web.access import require
    from hospitium.web.pages import hospital_page

    @hospital_page
    def audit_page(request):  # a page of admins only
        require("audit-events")
        raise AssertionError("not reached")

    request = rf.get("/audit/", HTTP_HOST=host_of(hospital_a))
    request.hospital = hospital_a.as_ref()
    request.user = member(hospital_a, Role.NURSE)
    token = roles_var.set(frozenset({Role.NURSE}))
    try:
        response = audit_page(request)
    finally:
        roles_var.reset(token)
    assert response.status_code == 403
    assert "Not allowed" in response.content.decode()


def test_the_500_page_has_the_apps_look_and_no_internals(
    hospital_a: Hospital, doctor_a: User, settings
) -> None:
    settings.ROOT_URLCONF = "tests.web.urls_for_errors"
    client = Client(HTTP_HOST=host_of(hospital_a), raise_request_exception=False)
    client.force_login(doctor_a, backend="django.contrib.auth.backends.ModelBackend")
    response = client.get("/boom/")
    assert response.status_code == 500
    page = response.content.decode()
    assert "Something went wrong" in page
    assert response["X-Request-ID"] in page
    assert "/static/web/hospitium.css" in page
    for leak in ("secret.py", "RuntimeError", "Traceback", "SELECT"):
        assert leak not in page
