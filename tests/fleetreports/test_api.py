"""Whole-fleet reports over the API: platform superusers only, end to end (queued in the
background, stored, downloaded), field errors for bad parameters, and the hospital paths
untouched beside them."""

from __future__ import annotations

import pytest

from hospitium.accounts.models import Role
from hospitium.fleetreports.models import FleetReport
from hospitium.reports import files
from hospitium.tenancy.context import hospital_context
from tests import factories
from tests.conftest import make_user
from tests.fleetreports.helpers import ALPHA, BODY, PLATFORM, fleet_formats, read  # noqa: F401
from tests.reports.fakes import fake_reports  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fleet_formats")]

GENERATE = "/api/reports/fleet/templates/fake_counts/generate/"


_capture = []


@pytest.fixture(autouse=True)
def _run_on_commit(django_capture_on_commit_callbacks):
    """The platform store is inside the test's transaction: run what a commit would enqueue."""
    _capture.append(django_capture_on_commit_callbacks)
    yield
    _capture.pop()


def generate(api, body=None, host=PLATFORM, template="fake_counts"):
    with _capture[-1](execute=True):
        return api.post(
            f"/api/reports/fleet/templates/{template}/generate/",
            BODY if body is None else body,
            format="json",
            HTTP_HOST=host,
        )


@pytest.fixture
def patients(hospital_a, hospital_b):
    with hospital_context("ALPHA"):
        factories.patient(sex="female")
        factories.patient(sex="male")
    with hospital_context("BRAVO"):
        factories.patient(sex="female")


@pytest.fixture
def analyst_a(hospital_a):
    return make_user("analyst@alpha.example.test", hospital=hospital_a, role=Role.ANALYST)


def test_a_superuser_runs_a_template_over_the_whole_fleet(api, patients, superuser):
    api.force_login(superuser)
    templates = api.get("/api/reports/fleet/templates/", HTTP_HOST=PLATFORM)
    assert templates.status_code == 200
    assert templates.json() == [
        {
            "id": "fake_counts",
            "title": "Fake counts",
            "description": "Patients counted by sex (tests only).",
            "formats": ["csv", "json"],
            "filters": ["explode", "sex"],
        }
    ]
    created = generate(api)
    assert created.status_code == 202, created.content
    report_id = created.json()["id"]
    assert created.json()["requested_by_label"] == superuser.email
    # tasks run at once in tests: the background generation has finished
    status = api.get(f"/api/reports/fleet/generated/{report_id}/status/", HTTP_HOST=PLATFORM)
    assert status.json()["status"] == "completed" and status.json()["progress"] == 100
    detail = api.get(f"/api/reports/fleet/generated/{report_id}/", HTTP_HOST=PLATFORM).json()
    assert detail["hospital_count"] == 2 and detail["attempts"] == 1
    assert detail["download_url"] == f"/api/reports/fleet/generated/{report_id}/download/"
    download = api.get(detail["download_url"], HTTP_HOST=PLATFORM)
    assert download.status_code == 200
    assert download["Content-Disposition"] == (
        'attachment; filename="fleet_fake_counts_2025-01-01_2025-03-31.json"'
    )
    content = b"".join(download.streaming_content)
    assert len(content) == detail["size"] == int(download["Content-Length"])
    body = read(content)
    assert body["hospital"] == "All hospitals (2)"
    assert body["figures"] == {"patients": 3}
    assert body["tables"]["by_hospital"] == [["ALPHA", 2], ["BRAVO", 1]]
    # the row is the platform's; the file sits outside every hospital's prefix
    report = FleetReport.objects.get(pk=report_id)
    assert report.storage_key == f"fleet-reports/{report_id}.json"
    assert report.download_count == 1
    listed = api.get("/api/reports/fleet/generated/?status=completed", HTTP_HOST=PLATFORM)
    assert [row["id"] for row in listed.json()["results"]] == [report_id]


def test_a_superuser_names_hospitals_from_the_platform_host(api, patients, superuser):
    api.force_login(superuser)
    created = generate(api, {**BODY, "hospitals": ["alpha"], "filters": {"sex": "female"}})
    assert created.status_code == 202, created.content
    report = FleetReport.objects.get(pk=created.json()["id"])
    assert report.hospital_codes == ["ALPHA"] and report.hospital_count == 1
    assert report.parameters["sex"] == "female"
    # A hospital's host is that hospital's data, where a superuser is an outsider.
    assert api.get(f"/api/reports/fleet/generated/{report.pk}/", HTTP_HOST=ALPHA).status_code == 404
    download = api.get(f"/api/reports/fleet/generated/{report.pk}/download/", HTTP_HOST=PLATFORM)
    body = read(b"".join(download.streaming_content))
    assert body["figures"] == {"patients": 1}
    assert body["tables"]["by_hospital"] == [["ALPHA", 1]]


@pytest.mark.parametrize("host", [PLATFORM, ALPHA])
def test_hospital_admins_and_analysts_are_refused_with_the_envelope(
    api, patients, admin_a, analyst_a, host
):
    report = FleetReport.objects.create(template_key="fake_counts", format="json")
    for user in (admin_a, analyst_a):
        api.force_login(user)
        for response in (
            generate(api, host=host),
            api.get("/api/reports/fleet/templates/", HTTP_HOST=host),
            api.get("/api/reports/fleet/generated/", HTTP_HOST=host),
            api.get(f"/api/reports/fleet/generated/{report.pk}/download/", HTTP_HOST=host),
            api.delete(f"/api/reports/fleet/generated/{report.pk}/", HTTP_HOST=host),
        ):
            assert response.status_code == 403, response.content
            error = response.json()["error"]
            assert error["code"] == "superuser_required" and error["category"] == "permission"
            assert error["message"] == "Only a platform superuser can report on the whole fleet."
            assert error["request_id"]
    assert list(FleetReport.objects.values_list("pk", flat=True)) == [report.pk]


def test_anonymous_is_refused_with_the_envelope(api, patients):
    for response in (
        generate(api),
        api.get("/api/reports/fleet/templates/", HTTP_HOST=PLATFORM),
        api.get("/api/reports/fleet/generated/", HTTP_HOST=PLATFORM),
    ):
        assert response.status_code in (401, 403)
        assert response.json()["error"]["category"] == "authentication"
    assert not FleetReport.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**BODY, "format": "pdf"}, "format"),
        ({**BODY, "date_from": "2025-05-01"}, "date_to"),
        ({**BODY, "date_from": "2025-13-01"}, "date_from"),
        ({k: v for k, v in BODY.items() if k != "date_to"}, "date_to"),
        ({**BODY, "filters": {"ward": "x"}}, "filters"),
        ({**BODY, "filters": {"sex": "other"}}, "filters.sex"),
        ({**BODY, "filters": "sex"}, "filters"),
        ({**BODY, "hospitals": ["NOPE"]}, "hospitals"),
        ({**BODY, "hospitals": []}, "hospitals"),
        ({**BODY, "colour": "red"}, "colour"),
    ],
)
def test_bad_parameters_get_field_errors_and_create_nothing(api, patients, superuser, body, field):
    api.force_login(superuser)
    refused = generate(api, body)
    assert refused.status_code == 400, refused.content
    error = refused.json()["error"]
    assert error["category"] == "validation" and field in error["fields"], error
    assert not FleetReport.objects.exists()


def test_an_unknown_template_or_report_is_not_found(api, patients, superuser):
    api.force_login(superuser)
    assert generate(api, template="no_such_template").status_code == 404
    for suffix in ("", "status/", "download/"):
        response = api.get(
            f"/api/reports/fleet/generated/0190a2b4-0000-7000-8000-000000000000/{suffix}",
            HTTP_HOST=PLATFORM,
        )
        assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


def test_an_archived_hospital_is_left_out_and_cannot_be_named(api, patients, superuser):
    from hospitium.tenancy.models import Hospital
    from hospitium.tenancy.selectors import forget_cached_hospitals

    Hospital.objects.filter(code="BRAVO").update(status=Hospital.Status.FAILED)
    forget_cached_hospitals()
    api.force_login(superuser)
    named = generate(api, {**BODY, "hospitals": ["BRAVO"]})
    assert named.status_code == 400
    assert named.json()["error"]["fields"]["hospitals"] == ["Not an active hospital: BRAVO."]
    report_id = generate(api).json()["id"]
    assert FleetReport.objects.get(pk=report_id).hospital_count == 1


def test_a_lost_file_is_rebuilt_on_download(api, patients, superuser):
    api.force_login(superuser)
    report_id = generate(api).json()["id"]
    report = FleetReport.objects.get(pk=report_id)
    files.reports_storage().delete(report.storage_key)
    download = api.get(f"/api/reports/fleet/generated/{report_id}/download/", HTTP_HOST=PLATFORM)
    assert download.status_code == 200 and download["X-Report-Regenerated"] == "1"
    assert read(b"".join(download.streaming_content))["figures"] == {"patients": 3}
    assert files.reports_storage().exists(report.storage_key)


def test_delete_cancels_a_queued_report_and_removes_a_finished_one(api, patients, superuser):
    api.force_login(superuser)
    done = generate(api).json()["id"]
    key = FleetReport.objects.get(pk=done).storage_key
    assert files.reports_storage().exists(key)
    assert (
        api.delete(f"/api/reports/fleet/generated/{done}/", HTTP_HOST=PLATFORM).status_code == 204
    )
    assert not files.reports_storage().exists(key)
    assert not FleetReport.objects.filter(pk=done).exists()
    from huey.contrib.djhuey import HUEY

    HUEY.immediate = False  # leave the next one queued
    try:
        queued = generate(api).json()["id"]
    finally:
        HUEY.immediate = True
    not_ready = api.get(f"/api/reports/fleet/generated/{queued}/download/", HTTP_HOST=PLATFORM)
    assert not_ready.status_code == 409
    assert not_ready.json()["error"]["code"] == "report_not_ready"
    assert (
        api.delete(f"/api/reports/fleet/generated/{queued}/", HTTP_HOST=PLATFORM).status_code == 204
    )
    assert FleetReport.objects.get(pk=queued).status == "cancelled"


def test_the_fleet_paths_sit_beside_the_hospital_paths():
    from django.urls import resolve

    from hospitium.fleetreports.api import FleetReportViewSet, FleetTemplateViewSet
    from hospitium.reports.api import GeneratedReportViewSet, ReportTemplateViewSet

    uuid = "0190a2b4-0000-7000-8000-000000000000"
    expected = {
        "/api/reports/fleet/templates/": FleetTemplateViewSet,
        "/api/reports/fleet/templates/visit_trends/generate/": FleetTemplateViewSet,
        "/api/reports/fleet/generated/": FleetReportViewSet,
        f"/api/reports/fleet/generated/{uuid}/": FleetReportViewSet,
        f"/api/reports/fleet/generated/{uuid}/status/": FleetReportViewSet,
        f"/api/reports/fleet/generated/{uuid}/download/": FleetReportViewSet,
        "/api/reports/templates/": ReportTemplateViewSet,
        "/api/reports/templates/visit_trends/generate/": ReportTemplateViewSet,
        "/api/reports/generated/": GeneratedReportViewSet,
        f"/api/reports/generated/{uuid}/download/": GeneratedReportViewSet,
    }
    for path, viewset in expected.items():
        assert resolve(path).func.cls is viewset, path
