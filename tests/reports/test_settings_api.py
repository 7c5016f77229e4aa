"""A hospital's report settings over the API: admins change them, analysts read them; every
change is validated (nothing written on a refusal), audited, and stays in its hospital."""

from __future__ import annotations

import pytest

from hospitium.accounts.models import Role
from hospitium.audit.models import AuditEvent
from hospitium.reports.models import GeneratedReport, ReportPolicy, ReportTemplateSetting
from hospitium.tenancy.context import hospital_context
from tests.conftest import make_user
from tests.reports.fakes import PERIOD, fake_reports  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fake_reports")]

ALPHA = "alpha.example.test"
BRAVO = "bravo.example.test"
SETTING = "/api/reports/settings/templates/fake_counts/"
RETENTION = "/api/reports/settings/retention/"


@pytest.fixture
def analyst_a(hospital_a):
    return make_user("analyst@alpha.example.test", hospital=hospital_a, role=Role.ANALYST)


def patch(api, path, body, host=ALPHA):
    return api.patch(path, body, format="json", HTTP_HOST=host)


def settings_events(code: str) -> list[AuditEvent]:
    with hospital_context(code):
        return list(AuditEvent.objects.filter(object_type="report-settings").order_by("id"))


def test_an_admin_changes_a_template_setting_and_it_is_audited(api, hospital_a, admin_a):
    api.force_login(admin_a)
    before = api.get(SETTING, HTTP_HOST=ALPHA)
    assert before.status_code == 200
    assert before.json() | {"updated_at": None} == {
        "id": "fake_counts",
        "title": "Fake counts",
        "enabled": True,
        "display_name": "Fake counts",
        "default_parameters": {},
        "formats": [],
        "supported_formats": ["csv", "json"],
        "filters": ["explode", "sex"],
        "updated_at": None,
    }
    changed = patch(
        api,
        SETTING,
        {
            "display_name": "  Headcount ",
            "default_parameters": {"sex": "female"},
            "formats": ["json"],
        },
    )
    assert changed.status_code == 200, changed.content
    body = changed.json()
    assert body["display_name"] == "Headcount"
    assert body["default_parameters"] == {"sex": "female"}
    assert body["formats"] == ["json"] and body["enabled"] is True
    listed = api.get("/api/reports/settings/templates/", HTTP_HOST=ALPHA).json()
    assert [row["display_name"] for row in listed] == ["Headcount"]
    # what generators see follows
    offered = api.get("/api/reports/templates/", HTTP_HOST=ALPHA).json()[0]
    assert offered["display_name"] == "Headcount" and offered["formats"] == ["json"]
    [event] = settings_events("ALPHA")
    assert (event.action, event.object_id, event.actor_id) == ("update", "fake_counts", admin_a.pk)
    assert event.detail["changed"]["default_parameters"] == {"sex": "female"}


def test_default_parameters_and_formats_apply_to_generation(api, hospital_a, admin_a):
    api.force_login(admin_a)
    patch(api, SETTING, {"default_parameters": {"sex": "male"}, "formats": ["json"]})
    body = {**PERIOD, "format": "json", "filters": {}}
    created = api.post(
        "/api/reports/templates/fake_counts/generate/", body, format="json", HTTP_HOST=ALPHA
    )
    assert created.status_code == 202
    assert created.json()["parameters"]["sex"] == "male"
    overridden = api.post(
        "/api/reports/templates/fake_counts/generate/",
        {**body, "filters": {"sex": "female"}},
        format="json",
        HTTP_HOST=ALPHA,
    )
    assert overridden.json()["parameters"]["sex"] == "female"
    csv = api.post(
        "/api/reports/templates/fake_counts/generate/",
        {**body, "format": "csv"},
        format="json",
        HTTP_HOST=ALPHA,
    )
    assert csv.status_code == 400
    assert csv.json()["error"]["fields"]["format"] == ["Choose one of: json."]


def test_a_disabled_template_refuses_generation_with_a_clear_error(api, hospital_a, admin_a):
    api.force_login(admin_a)
    assert patch(api, SETTING, {"enabled": False}).json()["enabled"] is False
    refused = api.post(
        "/api/reports/templates/fake_counts/generate/",
        {**PERIOD, "format": "csv"},
        format="json",
        HTTP_HOST=ALPHA,
    )
    assert refused.status_code == 422
    error = refused.json()["error"]
    assert error["category"] == "business_rule"
    assert error["message"] == "The report Fake counts is disabled in this hospital."
    with hospital_context("ALPHA"):
        assert not GeneratedReport.objects.exists()
    patch(api, SETTING, {"enabled": True})
    again = api.post(
        "/api/reports/templates/fake_counts/generate/",
        {**PERIOD, "format": "csv"},
        format="json",
        HTTP_HOST=ALPHA,
    )
    assert again.status_code == 202


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"default_parameters": {"sex": "other"}}, "default_parameters.sex"),
        ({"default_parameters": {"ward": "x"}}, "default_parameters"),
        ({"default_parameters": {"date_from": "2025-01-01"}}, "default_parameters"),
        # Rows are asked for by each request (and refused to analysts), never by a default.
        ({"default_parameters": {"include_rows": True}}, "default_parameters"),
        ({"default_parameters": ["sex"]}, "default_parameters"),
        ({"formats": ["pdf"]}, "formats"),
        ({"formats": "csv"}, "formats"),
        ({"display_name": "x" * 201}, "display_name"),
        ({"enabled": "perhaps"}, "enabled"),
        ({"title": "Renamed"}, "title"),
        ({"colour": "red"}, "colour"),
        ({}, "non_field_errors"),
    ],
)
def test_bad_settings_get_field_errors_and_change_nothing(api, hospital_a, admin_a, body, field):
    api.force_login(admin_a)
    api.get(SETTING, HTTP_HOST=ALPHA)
    with hospital_context("ALPHA"):
        before = ReportTemplateSetting.objects.values().get(template_key="fake_counts")
    refused = patch(api, SETTING, body)
    assert refused.status_code == 400, refused.content
    error = refused.json()["error"]
    assert error["category"] == "validation" and field in error["fields"], error
    assert error["request_id"]
    with hospital_context("ALPHA"):
        assert ReportTemplateSetting.objects.values().get(template_key="fake_counts") == before
    assert settings_events("ALPHA") == []


def test_an_unknown_template_is_not_found(api, hospital_a, admin_a):
    api.force_login(admin_a)
    assert api.get("/api/reports/settings/templates/nope/", HTTP_HOST=ALPHA).status_code == 404
    missing = patch(api, "/api/reports/settings/templates/nope/", {"enabled": False})
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


def test_retention_defaults_to_30_days_and_an_admin_changes_it(api, hospital_a, admin_a):
    api.force_login(admin_a)
    assert api.get(RETENTION, HTTP_HOST=ALPHA).json() == {"retention_days": 30}
    changed = patch(api, RETENTION, {"retention_days": 90})
    assert changed.status_code == 200 and changed.json() == {"retention_days": 90}
    assert api.get(RETENTION, HTTP_HOST=ALPHA).json() == {"retention_days": 90}
    with hospital_context("ALPHA"):
        assert ReportPolicy.objects.get().retention_days == 90
    [event] = settings_events("ALPHA")
    assert event.object_id == "retention" and event.detail == {"retention_days": [30, 90]}
    # a report completed now expires after the new retention
    created = api.post(
        "/api/reports/templates/fake_counts/generate/",
        {**PERIOD, "format": "csv"},
        format="json",
        HTTP_HOST=ALPHA,
    ).json()
    with hospital_context("ALPHA"):
        report = GeneratedReport.objects.get(pk=created["id"])
    assert report.finished_at is not None and report.expires_at is not None
    assert (report.expires_at - report.finished_at).days == 90


def test_a_shorter_retention_reaches_reports_already_completed(api, hospital_a, admin_a):
    import datetime as dt

    from django.utils import timezone

    from hospitium.reports.tasks import expire_reports

    api.force_login(admin_a)
    ids = [
        api.post(
            "/api/reports/templates/fake_counts/generate/",
            {**PERIOD, "format": "csv"},
            format="json",
            HTTP_HOST=ALPHA,
        ).json()["id"]
        for _ in range(2)
    ]
    with hospital_context("ALPHA"):
        GeneratedReport.objects.filter(pk=ids[0]).update(
            finished_at=timezone.now() - dt.timedelta(days=10)
        )
    assert expire_reports.call_local() == {"ALPHA": 0}  # 30 days: both are kept
    patch(api, RETENTION, {"retention_days": 7})
    assert expire_reports.call_local() == {"ALPHA": 1}
    with hospital_context("ALPHA"):
        statuses = dict(GeneratedReport.objects.values_list("pk", "status"))
    assert {str(k): v for k, v in statuses.items()} == {ids[0]: "expired", ids[1]: "completed"}


@pytest.mark.parametrize("days", [0, 3651, -5, "soon", 1.5, None])
def test_retention_out_of_range_is_refused(api, hospital_a, admin_a, days):
    api.force_login(admin_a)
    refused = patch(api, RETENTION, {"retention_days": days})
    assert refused.status_code == 400
    assert "retention_days" in refused.json()["error"]["fields"]
    assert api.get(RETENTION, HTTP_HOST=ALPHA).json() == {"retention_days": 30}
    with hospital_context("ALPHA"):
        assert not ReportPolicy.objects.exists()


def test_retention_refuses_unknown_fields(api, hospital_a, admin_a):
    api.force_login(admin_a)
    refused = patch(api, RETENTION, {"retention_days": 10, "keep_forever": True})
    assert refused.status_code == 400 and "keep_forever" in refused.json()["error"]["fields"]
    assert api.get(RETENTION, HTTP_HOST=ALPHA).json() == {"retention_days": 30}


@pytest.mark.parametrize(
    ("role", "reads", "writes"),
    [
        (Role.ADMIN, True, True),
        (Role.ANALYST, True, False),
        (Role.DOCTOR, False, False),
        (Role.NURSE, False, False),
        (Role.RECEPTIONIST, False, False),
        (Role.BILLING, False, False),
    ],
)
def test_admins_write_and_analysts_read_the_settings(api, hospital_a, role, reads, writes):
    api.force_login(make_user(f"{role}@alpha.example.test", hospital=hospital_a, role=role))
    for path in (SETTING, "/api/reports/settings/templates/", RETENTION):
        read = api.get(path, HTTP_HOST=ALPHA)
        assert read.status_code == (200 if reads else 403), (path, read.content)
    for path, body in ((SETTING, {"enabled": False}), (RETENTION, {"retention_days": 7})):
        written = patch(api, path, body)
        assert written.status_code == (200 if writes else 403), (path, written.content)
        if not writes:
            assert written.json()["error"]["code"] == "role_forbidden"
    with hospital_context("ALPHA"):
        assert ReportPolicy.objects.filter(retention_days=7).exists() == writes


def test_anonymous_is_refused(api, hospital_a):
    for response in (api.get(RETENTION, HTTP_HOST=ALPHA), patch(api, SETTING, {"enabled": False})):
        assert response.status_code in (401, 403)
        assert response.json()["error"]["category"] in ("authentication", "permission")


def test_settings_stay_in_their_hospital(api, hospital_a, hospital_b, admin_a):
    admin_b = make_user("admin@bravo.example.test", hospital=hospital_b, role=Role.ADMIN)
    api.force_login(admin_a)
    patch(api, SETTING, {"enabled": False, "display_name": "Alpha only"})
    patch(api, RETENTION, {"retention_days": 5})
    # A's admin cannot reach B's settings, and B's admin cannot reach A's
    assert api.get(RETENTION, HTTP_HOST=BRAVO).status_code == 404
    assert patch(api, RETENTION, {"retention_days": 9}, host=BRAVO).status_code == 404
    api.force_login(admin_b)
    assert patch(api, SETTING, {"enabled": True}, host=ALPHA).status_code == 404
    bravo = api.get(SETTING, HTTP_HOST=BRAVO).json()
    assert bravo["enabled"] is True and bravo["display_name"] == "Fake counts"
    assert api.get(RETENTION, HTTP_HOST=BRAVO).json() == {"retention_days": 30}
    api.force_login(admin_a)
    alpha = api.get(SETTING, HTTP_HOST=ALPHA).json()
    assert alpha["enabled"] is False and alpha["display_name"] == "Alpha only"
    assert api.get(RETENTION, HTTP_HOST=ALPHA).json() == {"retention_days": 5}
    assert settings_events("BRAVO") == []
