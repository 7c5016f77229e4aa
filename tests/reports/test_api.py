"""The reports API: exact paths, the role matrix, isolation, downloads, signed links, dashboard."""

from __future__ import annotations

import pytest

from hospitium.accounts.models import Role
from hospitium.reports import files
from hospitium.reports.models import GeneratedReport, ReportDownload
from hospitium.tenancy.context import hospital_context
from tests import factories
from tests.conftest import make_user
from tests.reports.fakes import PERIOD, fake_reports  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fake_reports")]

ALPHA = "alpha.example.test"
BRAVO = "bravo.example.test"
BODY = {**PERIOD, "format": "csv", "filters": {}, "include_rows": True}
FIGURES = {**BODY, "include_rows": False}


def generate(api, body=None, host=ALPHA, template="fake_counts"):
    return api.post(
        f"/api/reports/templates/{template}/generate/", body or BODY, format="json", HTTP_HOST=host
    )


@pytest.fixture
def analyst_a(hospital_a):
    return make_user("analyst@alpha.example.test", hospital=hospital_a, role=Role.ANALYST)


@pytest.mark.parametrize(
    ("role", "can_generate"),
    [
        (Role.ADMIN, True),
        (Role.ANALYST, True),
        (Role.DOCTOR, False),
        (Role.NURSE, False),
        (Role.RECEPTIONIST, False),
        (Role.BILLING, False),
    ],
)
def test_the_reports_role_decides_who_generates(api, hospital_a, role, can_generate):
    api.force_login(make_user(f"{role}@alpha.example.test", hospital=hospital_a, role=role))
    templates = api.get("/api/reports/templates/", HTTP_HOST=ALPHA)
    created = generate(api, FIGURES)
    assert templates.status_code == (200 if can_generate else 403)
    assert created.status_code == (202 if can_generate else 403), created.content
    if can_generate:
        assert created.json()["status"] == "queued"
        assert [t["id"] for t in templates.json()] == ["fake_counts"]
        assert templates.json()[0]["formats"] == ["csv", "json"]
    else:
        assert created.json()["error"]["code"] == "role_forbidden"


def test_generate_answers_202_and_the_report_completes(api, hospital_a, admin_a):
    with hospital_context("ALPHA"):
        factories.patient()
    api.force_login(admin_a)
    created = generate(api)
    assert created.status_code == 202
    report_id = created.json()["id"]
    status = api.get(f"/api/reports/generated/{report_id}/status/", HTTP_HOST=ALPHA).json()
    assert status["status"] == "completed" and status["progress"] == 100
    detail = api.get(f"/api/reports/generated/{report_id}/", HTTP_HOST=ALPHA).json()
    assert detail["row_count"] == 1 and detail["download_url"].endswith("/download/")
    download = api.get(detail["download_url"], HTTP_HOST=ALPHA)
    assert download.status_code == 200
    assert download["Content-Type"].startswith("text/csv")
    assert download["Content-Disposition"] == (
        'attachment; filename="fake_counts_2025-01-01_2025-03-31.csv"'
    )
    content = b"".join(download.streaming_content)
    assert len(content) == detail["size"] == int(download["Content-Length"])


def test_bad_input_answers_the_envelope_with_fields(api, hospital_a, admin_a):
    api.force_login(admin_a)
    bad_format = generate(api, {**BODY, "format": "docx"})
    assert bad_format.status_code == 400
    assert "format" in bad_format.json()["error"]["fields"]
    backwards = generate(api, {**BODY, "date_from": "2025-05-01"})
    assert backwards.status_code == 400 and "date_to" in backwards.json()["error"]["fields"]
    unknown = generate(api, template="no_such_template")
    assert unknown.status_code == 404


def test_a_misspelt_option_is_refused_and_nothing_is_queued(api, hospital_a, admin_a):
    api.force_login(admin_a)
    body = {k: v for k, v in BODY.items() if k != "include_rows"} | {"include_row": True}
    answer = generate(api, body)
    assert answer.status_code == 400, answer.content
    assert answer.json()["error"]["fields"] == {"include_row": ["This field is unknown."]}
    with hospital_context("ALPHA"):
        assert not GeneratedReport.objects.exists()


def test_everyone_sees_their_own_and_admins_and_analysts_see_all(
    api, hospital_a, admin_a, analyst_a, doctor_a
):
    api.force_login(admin_a)
    mine = generate(api, FIGURES).json()["id"]
    api.force_login(analyst_a)
    theirs = generate(api, {**FIGURES, "format": "json"}).json()["id"]
    # A doctor who once generated (when they held the analyst role) still sees theirs only.
    with hospital_context("ALPHA"):
        GeneratedReport.objects.filter(pk=theirs).update(requested_by_id=doctor_a.pk)

    def ids(user, query=""):
        api.force_login(user)
        response = api.get(f"/api/reports/generated/{query}", HTTP_HOST=ALPHA)
        assert response.status_code == 200
        return {row["id"] for row in response.json()["results"]}

    assert ids(admin_a) == ids(analyst_a) == {mine, theirs}
    assert ids(doctor_a) == {theirs}
    assert ids(admin_a, "?format=json") == {theirs}
    assert ids(admin_a, "?status=completed&template=fake_counts") == {mine, theirs}
    assert ids(admin_a, "?status=failed") == set()
    api.force_login(doctor_a)
    assert api.get(f"/api/reports/generated/{mine}/", HTTP_HOST=ALPHA).status_code == 404
    assert api.get(f"/api/reports/generated/{mine}/download/", HTTP_HOST=ALPHA).status_code == 404
    assert api.get(f"/api/reports/generated/{theirs}/download/", HTTP_HOST=ALPHA).status_code == 200
    assert api.get("/api/reports/generated/dashboard/", HTTP_HOST=ALPHA).status_code == 403


def test_analysts_get_figures_but_never_patient_rows(api, hospital_a, admin_a, analyst_a):
    # With include_rows an analyst's report used to carry names, birth dates and MRNs.
    with hospital_context("ALPHA"):
        mrn = factories.patient().mrn
    api.force_login(analyst_a)
    refused = generate(api)
    assert refused.status_code == 403, refused.content
    error = refused.json()["error"]
    assert (error["code"], error["category"]) == ("report_rows_forbidden", "permission")
    assert "include_rows" in error["message"]
    with hospital_context("ALPHA"):
        assert not GeneratedReport.objects.exists()
    figures = generate(api, FIGURES)
    assert figures.status_code == 202
    download = api.get(f"/api/reports/generated/{figures.json()['id']}/download/", HTTP_HOST=ALPHA)
    assert download.status_code == 200
    assert mrn.encode() not in b"".join(download.streaming_content)

    # An admin's report with rows is not shown to an analyst at all (not its link either).
    api.force_login(admin_a)
    with_rows = generate(api).json()["id"]
    detail = api.get(f"/api/reports/generated/{with_rows}/", HTTP_HOST=ALPHA).json()
    assert detail["row_count"] == 1 and detail["signed_download_url"]
    api.force_login(analyst_a)
    listed = api.get("/api/reports/generated/", HTTP_HOST=ALPHA).json()["results"]
    assert [row["id"] for row in listed] == [figures.json()["id"]]
    for suffix in ("", "status/", "download/"):
        url = f"/api/reports/generated/{with_rows}/{suffix}"
        assert api.get(url, HTTP_HOST=ALPHA).status_code == 404, url
    assert api.delete(f"/api/reports/generated/{with_rows}/", HTTP_HOST=ALPHA).status_code == 404


def test_the_format_filter_is_a_filter_not_a_renderer_switch(api, hospital_a, admin_a):
    # DRF used to take ?format= for the name of its renderer: csv or pdf answered 404.
    api.force_login(admin_a)
    as_csv = generate(api).json()["id"]
    generate(api, {**BODY, "format": "json"})

    def listed(query):
        response = api.get(f"/api/reports/generated/{query}", HTTP_HOST=ALPHA)
        assert response.status_code == 200, response.content
        assert response["Content-Type"] == "application/json"
        return {row["id"] for row in response.json()["results"]}

    assert listed("?format=csv") == {as_csv}
    assert listed("?format=pdf") == set()
    assert len(listed("")) == 2


def test_another_hospitals_report_is_not_found_for_every_verb(api, hospital_a, hospital_b, admin_a):
    admin_b = make_user("admin@bravo.example.test", hospital=hospital_b, role=Role.ADMIN)
    api.force_login(admin_a)
    report_id = generate(api).json()["id"]
    api.force_login(admin_b)
    for suffix in ("", "status/", "download/"):
        response = api.get(f"/api/reports/generated/{report_id}/{suffix}", HTTP_HOST=BRAVO)
        assert response.status_code == 404, suffix
    assert api.delete(f"/api/reports/generated/{report_id}/", HTTP_HOST=BRAVO).status_code == 404
    # and A's host refuses B's admin without revealing anything
    assert api.get(f"/api/reports/generated/{report_id}/", HTTP_HOST=ALPHA).status_code == 404


def test_a_signed_link_downloads_without_signing_in_and_is_logged(api, hospital_a, admin_a):
    api.force_login(admin_a)
    report_id = generate(api).json()["id"]
    link = api.get(f"/api/reports/generated/{report_id}/", HTTP_HOST=ALPHA).json()[
        "signed_download_url"
    ]
    api.logout()
    assert api.get(
        f"/api/reports/generated/{report_id}/download/", HTTP_HOST=ALPHA
    ).status_code in (401, 403)
    response = api.get(link, HTTP_HOST=ALPHA, REMOTE_ADDR="198.51.100.4")
    assert response.status_code == 200 and b"".join(response.streaming_content)
    forged = api.get(link[:-3] + "abc", HTTP_HOST=ALPHA)
    assert forged.status_code == 404
    with hospital_context("ALPHA"):
        row = ReportDownload.objects.get()
    assert (row.user_id, row.via, row.ip) == (admin_a.pk, "link", "198.51.100.4")


def test_delete_cancels_a_queued_report_and_removes_a_finished_one(
    api, hospital_a, admin_a, settings
):
    api.force_login(admin_a)
    done = generate(api).json()["id"]
    with hospital_context("ALPHA"):
        key = GeneratedReport.objects.get(pk=done).storage_key
        factories.patient()
    assert files.reports_storage().exists(key)
    assert api.delete(f"/api/reports/generated/{done}/", HTTP_HOST=ALPHA).status_code == 204
    assert not files.reports_storage().exists(key)
    assert api.get(f"/api/reports/generated/{done}/", HTTP_HOST=ALPHA).status_code == 404
    from huey.contrib.djhuey import HUEY

    HUEY.immediate = False  # leave the next one queued
    try:
        queued = generate(api).json()["id"]
    finally:
        HUEY.immediate = True
    assert (
        api.get(f"/api/reports/generated/{queued}/status/", HTTP_HOST=ALPHA).json()["status"]
        == "queued"
    )
    conflict = api.get(f"/api/reports/generated/{queued}/download/", HTTP_HOST=ALPHA)
    assert conflict.status_code == 409 and conflict.json()["error"]["code"] == "report_not_ready"
    assert api.delete(f"/api/reports/generated/{queued}/", HTTP_HOST=ALPHA).status_code == 204
    assert (
        api.get(f"/api/reports/generated/{queued}/status/", HTTP_HOST=ALPHA).json()["status"]
        == "cancelled"
    )


def test_the_dashboard_counts_times_errors_downloads_and_storage(api, hospital_a, admin_a):
    api.force_login(admin_a)
    ok = [generate(api).json()["id"] for _ in range(3)]
    generate(api, {**BODY, "format": "json"})
    generate(api, {**BODY, "filters": {"explode": "user"}})
    with hospital_context("ALPHA"):
        for ms, pk in zip([100, 200, 900], ok, strict=True):
            GeneratedReport.objects.filter(pk=pk).update(duration_ms=ms)
        json_report = GeneratedReport.objects.get(format="json")
        GeneratedReport.objects.filter(pk=json_report.pk).update(duration_ms=400)
        sizes = sum(
            GeneratedReport.objects.filter(status="completed").values_list("size", flat=True)
        )
    api.get(f"/api/reports/generated/{ok[0]}/download/", HTTP_HOST=ALPHA)
    api.get(f"/api/reports/generated/{ok[1]}/download/", HTTP_HOST=ALPHA)
    board = api.get("/api/reports/generated/dashboard/", HTTP_HOST=ALPHA).json()
    assert board["total"] == 5
    assert board["by_status"]["completed"] == 4 and board["by_status"]["failed"] == 1
    assert board["popular_templates"] == [{"template_key": "fake_counts", "count": 5}]
    assert board["formats"] == {"csv": 4, "json": 1}
    assert board["generation_ms"] == {"average": 400, "p95": 900}
    assert board["error_rate"] == 0.2
    assert board["downloads"]["total"] == 2
    assert board["storage"] == {"bytes": sizes, "files": 4}
    assert len(board["recent"]) == 5 and board["recent"][0]["status"] == "failed"


def test_the_exact_paths_exist():
    from django.urls import resolve

    for path in [
        "/api/reports/templates/",
        "/api/reports/templates/visit_trends/generate/",
        "/api/reports/generated/",
        "/api/reports/generated/dashboard/",
        "/api/reports/generated/0190a2b4-0000-7000-8000-000000000000/",
        "/api/reports/generated/0190a2b4-0000-7000-8000-000000000000/status/",
        "/api/reports/generated/0190a2b4-0000-7000-8000-000000000000/download/",
    ]:
        assert resolve(path)
