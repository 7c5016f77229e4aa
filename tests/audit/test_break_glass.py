"""Break-glass: a platform superuser reads no hospital's data by default; access to one hospital
is explicit, time-limited, carries a reason, is written to that hospital's audit log and is
listed for its admins — while fleet reports (figures only) stay open to superusers."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from rest_framework.authtoken.models import Token

from hospitium.accounts.models import BreakGlassAccess, User
from hospitium.audit.models import AuditEvent
from hospitium.audit.services import break_glass_open
from hospitium.core.errors import HospitiumError
from hospitium.tenancy.context import hospital_context
from hospitium.tenancy.provisioning import hospital_archive
from tests import factories

pytestmark = pytest.mark.django_db

ALPHA = "alpha.example.test"
BRAVO = "bravo.example.test"
PLATFORM = "testserver"
REASON = "Ticket 4711: restore a merged patient record"


@pytest.fixture
def alpha_patient(hospital_a: Any) -> Any:
    with hospital_context(hospital_a):
        return factories.patient(mrn="ALPHA-1", given_name="Ada")


def sign_in(api: Any, user: User, how: str = "session") -> None:
    if how == "session":
        api.force_login(user)
    else:
        token, _ = Token.objects.get_or_create(user=user)
        api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")


def patients_seen(api: Any, **address: str) -> int:
    """How many patients a listing shows, or -1 for 404 (the hospital is closed to the user)."""
    response = api.get("/api/patients/", **address)
    if response.status_code == 404:
        return -1
    assert response.status_code == 200, response.content
    return int(response.json()["count"])


def expire(access: BreakGlassAccess) -> None:
    past = timezone.now() - dt.timedelta(seconds=1)
    BreakGlassAccess.objects.filter(pk=access.pk).update(
        opened_at=past - dt.timedelta(hours=1), expires_at=past
    )


def glass_events(hospital: Any) -> list[tuple[str, dict[str, Any], int | None]]:
    with hospital_context(hospital):
        return [
            (e.action, e.detail, e.actor_id)
            for e in AuditEvent.objects.filter(object_type="break_glass").order_by("id")
        ]


# --- no silent reading -----------------------------------------------------------------------


@pytest.mark.parametrize("how", ["session", "token"])
@pytest.mark.parametrize(
    "address", [{"HTTP_X_HOSPITAL": "ALPHA"}, {"HTTP_HOST": ALPHA}], ids=["x-hospital", "host"]
)
def test_a_superuser_does_not_read_a_hospitals_patients(
    api, superuser, alpha_patient, how, address
):
    sign_in(api, superuser, how)
    response = api.get("/api/patients/", **address)
    assert response.status_code == 404
    assert "ALPHA-1" not in response.content.decode()
    detail = api.get(f"/api/patients/{alpha_patient.pk}/", **address)
    assert detail.status_code == 404


def test_a_superuser_gets_the_same_answer_as_for_a_hospital_that_does_not_exist(
    api, superuser, hospital_a
):
    sign_in(api, superuser)
    existing = api.get("/api/patients/", HTTP_X_HOSPITAL="ALPHA").json()["error"]
    unknown = api.get("/api/patients/", HTTP_X_HOSPITAL="NOWHERE").json()["error"]
    existing.pop("request_id"), unknown.pop("request_id")
    assert existing == unknown


def test_fleet_reports_stay_open_to_a_superuser_on_the_platform_host(api, superuser, hospital_a):
    sign_in(api, superuser)
    assert api.get("/api/reports/fleet/templates/", HTTP_HOST=PLATFORM).status_code == 200


# --- break-glass opens one hospital, for a while ---------------------------------------------


@pytest.mark.parametrize("how", ["session", "token"])
def test_break_glass_opens_that_hospital_only(
    api, superuser, alpha_patient, hospital_b, how, hospital_a
):
    break_glass_open(user=superuser, hospital=hospital_a, reason=REASON)
    sign_in(api, superuser, how)
    assert patients_seen(api, HTTP_X_HOSPITAL="ALPHA") == 1
    assert patients_seen(api, HTTP_HOST=ALPHA) == 1
    assert patients_seen(api, HTTP_X_HOSPITAL="BRAVO") == -1


def test_break_glass_lasts_an_hour_unless_asked_otherwise(superuser, hospital_a):
    before = timezone.now()
    access = break_glass_open(user=superuser, hospital=hospital_a, reason=REASON)
    assert dt.timedelta(minutes=59) < access.expires_at - before <= dt.timedelta(minutes=61)
    short = break_glass_open(user=superuser, hospital=hospital_a, reason=REASON, minutes=5)
    assert short.expires_at - short.opened_at == dt.timedelta(minutes=5)


def test_an_expired_access_is_refused_at_the_next_request(
    api, superuser, alpha_patient, hospital_a
):
    access = break_glass_open(user=superuser, hospital=hospital_a, reason=REASON)
    sign_in(api, superuser)
    assert patients_seen(api, HTTP_HOST=ALPHA) == 1
    expire(access)
    assert patients_seen(api, HTTP_HOST=ALPHA) == -1


def test_a_user_who_is_no_longer_a_superuser_loses_the_access(
    api, superuser, alpha_patient, hospital_a
):
    break_glass_open(user=superuser, hospital=hospital_a, reason=REASON)
    superuser.is_superuser = False
    superuser.save(update_fields=["is_superuser"])
    sign_in(api, superuser)
    assert patients_seen(api, HTTP_HOST=ALPHA) == -1


@pytest.mark.parametrize(
    ("change", "field"),
    [({"reason": "  "}, "reason"), ({"minutes": 0}, "minutes"), ({"minutes": 241}, "minutes")],
)
def test_break_glass_needs_a_reason_and_a_bounded_time(superuser, hospital_a, change, field):
    with pytest.raises(HospitiumError) as refused:
        break_glass_open(**{"user": superuser, "hospital": hospital_a, "reason": REASON, **change})
    assert refused.value.code == "validation_error"
    assert list(refused.value.fields) == [field]
    assert not BreakGlassAccess.objects.exists()


def test_break_glass_is_for_superusers_only(admin_a, hospital_a):
    with pytest.raises(HospitiumError) as refused:
        break_glass_open(user=admin_a, hospital=hospital_a, reason=REASON)
    assert refused.value.code == "break_glass_not_superuser"
    assert not BreakGlassAccess.objects.exists()


def test_break_glass_into_an_archived_hospital_is_refused(superuser, hospital_a):
    archived = hospital_archive(code="ALPHA")
    with pytest.raises(HospitiumError) as refused:
        break_glass_open(user=superuser, hospital=archived, reason=REASON)
    assert refused.value.code == "break_glass_hospital_not_active"


# --- the hospital sees it --------------------------------------------------------------------


def test_opening_is_written_to_that_hospitals_audit_log_only(superuser, hospital_a, hospital_b):
    access = break_glass_open(user=superuser, hospital=hospital_a, reason=REASON, minutes=30)
    [(action, detail, actor)] = glass_events(hospital_a)
    assert (action, actor) == ("create", superuser.pk)
    assert detail["event"] == "opened" and detail["reason"] == REASON
    assert detail["user"] == superuser.email and detail["minutes"] == 30
    assert detail["expires_at"] == access.expires_at.isoformat()
    assert glass_events(hospital_b) == []


def test_the_hospitals_admins_list_its_accesses(api, superuser, admin_a, hospital_a, hospital_b):
    access = break_glass_open(user=superuser, hospital=hospital_a, reason=REASON)
    break_glass_open(user=superuser, hospital=hospital_b, reason="Elsewhere")
    sign_in(api, admin_a)
    listing = api.get("/api/break-glass/", HTTP_HOST=ALPHA)
    assert listing.status_code == 200, listing.content
    [row] = listing.json()["results"]
    assert row["id"] == access.pk and row["user"] == superuser.email
    assert row["reason"] == REASON and row["state"] == "open" and row["hospital"] == "ALPHA"
    audit = api.get("/api/audit-events/?object_type=break_glass", HTTP_HOST=ALPHA)
    assert [e["detail"]["reason"] for e in audit.json()["results"]] == [REASON]


def test_other_roles_do_not_list_accesses(api, superuser, doctor_a, hospital_a):
    break_glass_open(user=superuser, hospital=hospital_a, reason=REASON)
    sign_in(api, doctor_a)
    response = api.get("/api/break-glass/", HTTP_HOST=ALPHA)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "role_forbidden"


def test_an_admin_ends_an_access_and_the_log_says_so(
    api, superuser, admin_a, alpha_patient, hospital_a
):
    access = break_glass_open(user=superuser, hospital=hospital_a, reason=REASON)
    sign_in(api, admin_a)
    closed = api.post(f"/api/break-glass/{access.pk}/close/", HTTP_HOST=ALPHA)
    assert closed.status_code == 200, closed.content
    assert closed.json()["state"] == "closed" and closed.json()["closed_by"] == admin_a.email
    again = api.post(f"/api/break-glass/{access.pk}/close/", HTTP_HOST=ALPHA)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "break_glass_not_open"
    assert [(a, d["event"], who) for a, d, who in glass_events(hospital_a)] == [
        ("create", "opened", superuser.pk),
        ("update", "closed", admin_a.pk),
    ]
    sign_in(api, superuser)
    assert patients_seen(api, HTTP_HOST=ALPHA) == -1


# --- the platform API ------------------------------------------------------------------------


def test_a_superuser_opens_and_ends_their_own_access_over_the_api(api, superuser, alpha_patient):
    sign_in(api, superuser)
    opened = api.post(
        "/api/platform/break-glass/",
        {"hospital": "alpha", "reason": REASON, "minutes": 30},
        format="json",
        HTTP_HOST=PLATFORM,
    )
    assert opened.status_code == 201, opened.content
    body = opened.json()
    assert (body["user"], body["hospital"], body["state"]) == (superuser.email, "ALPHA", "open")
    assert body["opened_via"] == "api"
    assert patients_seen(api, HTTP_X_HOSPITAL="ALPHA") == 1
    listing = api.get("/api/platform/break-glass/", HTTP_HOST=PLATFORM)
    assert [row["id"] for row in listing.json()["results"]] == [body["id"]]
    closed = api.post(f"/api/platform/break-glass/{body['id']}/close/", HTTP_HOST=PLATFORM)
    assert closed.json()["state"] == "closed"
    assert patients_seen(api, HTTP_X_HOSPITAL="ALPHA") == -1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"hospital": "ALPHA"}, "reason"),
        ({"hospital": "ALPHA", "reason": REASON, "minutes": 600}, "minutes"),
        ({"hospital": "ALPHA", "reason": REASON, "user": "someone@else"}, "user"),
    ],
)
def test_a_bad_platform_request_names_the_field(api, superuser, hospital_a, body, field):
    sign_in(api, superuser)
    response = api.post("/api/platform/break-glass/", body, format="json", HTTP_HOST=PLATFORM)
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    assert not BreakGlassAccess.objects.exists()


def test_an_unknown_hospital_is_not_found(api, superuser, hospital_a):
    sign_in(api, superuser)
    response = api.post(
        "/api/platform/break-glass/",
        {"hospital": "NOWHERE", "reason": REASON},
        format="json",
        HTTP_HOST=PLATFORM,
    )
    assert response.status_code == 404


def test_only_superusers_use_the_platform_api(api, admin_a, hospital_a):
    anonymous = api.get("/api/platform/break-glass/", HTTP_HOST=PLATFORM)
    assert anonymous.json()["error"]["code"] == "not_authenticated"
    sign_in(api, admin_a)
    for response in (
        api.get("/api/platform/break-glass/", HTTP_HOST=PLATFORM),
        api.post(
            "/api/platform/break-glass/",
            {"hospital": "ALPHA", "reason": REASON},
            format="json",
            HTTP_HOST=PLATFORM,
        ),
    ):
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "superuser_required"
    assert not BreakGlassAccess.objects.exists()


# --- the command line ------------------------------------------------------------------------


def test_the_command_line_opens_an_access(capsys, superuser, alpha_patient, hospital_a):
    call_command(
        "hospitals",
        "break-glass",
        "alpha",
        "--user",
        superuser.email.upper(),
        "--reason",
        REASON,
        "--minutes",
        "90",
    )
    out = capsys.readouterr().out
    access = BreakGlassAccess.objects.get()
    assert f"break-glass access {access.pk}: {superuser.email} may act in ALPHA" in out
    assert access.opened_via == "cli" and access.reason == REASON
    assert access.expires_at - access.opened_at == dt.timedelta(minutes=90)
    [(action, detail, actor)] = glass_events(hospital_a)
    assert (action, detail["via"], actor) == ("create", "cli", superuser.pk)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--user", "nobody@example.test"], "there is no user nobody@example.test"),
        (["--user", "admin@alpha.example.test"], "Break-glass access is for platform superusers"),
        (["--user", "root@example.test", "--minutes", "1000"], "Some of the input is not valid"),
    ],
)
def test_the_command_line_refuses_with_a_message(superuser, admin_a, args, message):
    with pytest.raises(CommandError) as refused:
        call_command("hospitals", "break-glass", "ALPHA", "--reason", REASON, *args)
    assert message in str(refused.value)
    assert not BreakGlassAccess.objects.exists()
