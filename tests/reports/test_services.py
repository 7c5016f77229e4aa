"""Report generation as services: lifecycle, failures, cancel, retries, regeneration, expiry,
downloads and signed links, on both stores."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging

import pytest
from django.core import signing
from django.utils import timezone

from hospitium.audit.models import AuditEvent
from hospitium.core.errors import (
    BusinessRuleViolation,
    NotFound,
    PermissionRefused,
    ValidationFailed,
)
from hospitium.reports import files, generation
from hospitium.reports.errors import (
    ReportExpired,
    ReportNotReady,
    ReportRowsRefused,
    ReportStorageUnavailable,
    ReportTransientError,
)
from hospitium.reports.generation import INTERNAL_FAILURE, MAX_ATTEMPTS, report_generate
from hospitium.reports.models import (
    GeneratedReport,
    ReportDownload,
    ReportPolicy,
    ReportTemplateSetting,
)
from hospitium.reports.services import (
    report_cancel,
    report_download,
    report_download_link,
    report_link_verify,
    report_request,
    reports_expire,
    template_settings,
)
from hospitium.tenancy.context import hospital_context
from tests import factories
from tests.reports.fakes import BUILDS, HOOKS, PERIOD, fake_reports  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fake_reports")]


def request(**overrides):
    args = {
        "template_key": "fake_counts",
        "format": "csv",
        **PERIOD,
        "enqueue": False,
        "roles": {"admin"},
    }
    args.update(overrides)
    return report_request(**args)


def stored_bytes(report: GeneratedReport) -> bytes:
    with files.reports_storage().open(report.storage_key, "rb") as handle:
        return handle.read()


def body(download) -> bytes:
    return b"".join(download.chunks)


def test_a_report_goes_queued_generating_completed_and_records_its_file(hospital_a):
    seen: list[str] = []
    percents: list[int] = []
    with hospital_context("ALPHA"):
        factories.patient()
        factories.patient()
        report = request(include_rows=True, requested_by_label="ana@alpha.example.test")
        assert report.status == "queued" and report.progress == 0
        HOOKS["during_write"] = lambda: seen.append(
            GeneratedReport.objects.get(pk=report.pk).status
        )
        done = report_generate(report_id=report.pk, progress=percents.append)
        assert done is not None
    assert seen == ["generating"]
    assert done.status == "completed" and done.progress == 100 and percents[-1] == 100
    assert percents == sorted(percents)
    content = stored_bytes(done)
    assert done.size == len(content)
    assert done.sha256 == hashlib.sha256(content).hexdigest()
    assert done.row_count == 2 and done.attempts == 1 and done.duration_ms is not None
    assert done.storage_key == f"reports/alpha/{done.pk}.csv"
    assert done.lease_expires_at is None and done.error_message == ""
    assert done.expires_at is not None
    assert abs((done.expires_at - done.finished_at) - dt.timedelta(days=30)) < dt.timedelta(
        seconds=1
    )
    assert content.startswith(b"# ALPHA fake_counts\npatients,2\n")


def test_the_task_runs_after_commit_and_completes_the_report(hospital_a):
    with hospital_context("ALPHA"):
        report = request(enqueue=True)
        report.refresh_from_db()
    assert report.status == "completed"


def test_a_template_error_fails_the_report_with_its_message(hospital_a):
    with hospital_context("ALPHA"):
        report = request(filters={"explode": "user"})
        done = report_generate(report_id=report.pk)
    assert done.status == "failed"
    assert done.error_message == "There are no patients of that kind in the period; widen it."
    assert done.lease_expires_at is None and done.finished_at is not None


def test_an_internal_error_is_logged_and_the_user_gets_a_reference(hospital_a, caplog):
    with hospital_context("ALPHA"), caplog.at_level(logging.ERROR, "hospitium.reports"):
        report = request(filters={"explode": "internal"})
        done = report_generate(report_id=report.pk)
    assert done.status == "failed"
    assert done.error_message == INTERNAL_FAILURE.format(ref=report.pk)
    assert "secret sauce" not in done.error_message
    assert any(
        "secret sauce" in (r.exc_text or "") or "secret sauce" in str(r.exc_info)
        for r in caplog.records
    )


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"format": "pdf"}, "format"),
        ({"date_from": "2025-04-01", "date_to": "2025-03-01"}, "date_to"),
        ({"date_from": "yesterday"}, "date_from"),
        ({"filters": {"colour": "blue"}}, "filters"),
        ({"filters": {"sex": "robot"}}, "filters.sex"),
    ],
)
def test_bad_input_is_refused_with_field_errors_and_nothing_is_queued(hospital_a, overrides, field):
    with hospital_context("ALPHA"):
        with pytest.raises(ValidationFailed) as caught:
            request(**overrides)
        assert field in caught.value.fields
        assert not GeneratedReport.objects.exists()


def test_an_unknown_or_disabled_template_is_refused(hospital_a):
    with hospital_context("ALPHA"):
        with pytest.raises(NotFound):
            request(template_key="nope")
        setting = template_settings()["fake_counts"]
        setting.enabled = False
        setting.save(update_fields=["enabled"])
        with pytest.raises(BusinessRuleViolation, match="disabled"):
            request()


def test_template_settings_are_created_lazily_and_narrow_formats_and_defaults(hospital_a):
    with hospital_context("ALPHA"):
        assert not ReportTemplateSetting.objects.exists()
        setting = template_settings()["fake_counts"]
        assert setting.display_name == "Fake counts" and setting.enabled
        ReportTemplateSetting.objects.filter(pk=setting.pk).update(
            allowed_formats=["json"], default_parameters={"sex": "female"}
        )
        with pytest.raises(ValidationFailed):
            request(format="csv")
        report = request(format="json")
    assert report.parameters["sex"] == "female"


def test_cancelling_a_queued_report_means_no_worker_touches_it(hospital_a):
    with hospital_context("ALPHA"):
        report = request()
        assert report_cancel(report=report).status == "cancelled"
        assert report_generate(report_id=report.pk) is None
        report.refresh_from_db()
        with pytest.raises(BusinessRuleViolation):
            report_cancel(report=report)
    assert report.status == "cancelled"


def test_a_running_report_notices_its_cancel_and_stores_nothing(hospital_a):
    with hospital_context("ALPHA"):
        report = request()
        HOOKS["during_write"] = lambda: report_cancel(
            report=GeneratedReport.objects.get(pk=report.pk)
        )
        done = report_generate(report_id=report.pk)
    assert done.status == "cancelled" and done.storage_key == ""
    assert not files.reports_storage().exists(f"reports/alpha/{report.pk}.csv")


def test_a_transient_storage_error_requeues_then_succeeds(hospital_a, monkeypatch):
    real_store = files.store
    calls = {"n": 0}

    def flaky(key, built):
        calls["n"] += 1
        if calls["n"] == 1:
            raise ReportStorageUnavailable()
        return real_store(key, built)

    monkeypatch.setattr(files, "store", flaky)
    with hospital_context("ALPHA"):
        report = request()
        with pytest.raises(ReportTransientError):
            report_generate(report_id=report.pk)
        report.refresh_from_db()
        assert report.status == "queued" and report.attempts == 1
        done = report_generate(report_id=report.pk)
    assert done.status == "completed" and done.attempts == 2


def test_a_report_that_keeps_hitting_transient_errors_fails_with_advice(hospital_a, monkeypatch):
    def refuse(key, built):
        raise ReportStorageUnavailable()

    monkeypatch.setattr(files, "store", refuse)
    with hospital_context("ALPHA"):
        report = request()
        for _ in range(MAX_ATTEMPTS - 1):
            with pytest.raises(ReportTransientError):
                report_generate(report_id=report.pk)
        done = report_generate(report_id=report.pk)
    assert done.status == "failed" and "try again later" in done.error_message


def test_figures_are_cached_per_parameters_and_listings_never(hospital_a):
    with hospital_context("ALPHA"):
        for _ in range(2):
            report_generate(report_id=request().pk)
        assert len(BUILDS) == 1
        report_generate(report_id=request(filters={"sex": "male"}).pk)
        assert len(BUILDS) == 2
        report_generate(report_id=request(include_rows=True).pk)
        assert len(BUILDS) == 3


def test_a_missing_file_is_regenerated_stored_again_and_served(hospital_a, caplog):
    with hospital_context("ALPHA"):
        factories.patient()
        report = report_generate(report_id=request().pk)
        original = stored_bytes(report)
        files.reports_storage().delete(report.storage_key)
        with caplog.at_level(logging.WARNING, "hospitium.reports"):
            download = report_download(report=report, user_id=None, ip="10.0.0.9")
            content = body(download)
        assert download.regenerated and content == original
        report.refresh_from_db()
        assert stored_bytes(report) == original
        assert ReportDownload.objects.get().regenerated
    assert any("regenerat" in r.getMessage() for r in caplog.records)


def test_a_truncated_file_is_regenerated(hospital_a):
    with hospital_context("ALPHA"):
        report = report_generate(report_id=request().pk)
        path = files.reports_storage().path(report.storage_key)
        with open(path, "r+b") as handle:
            handle.truncate(3)
        download = report_download(report=report, user_id=None, ip=None)
        assert download.regenerated and len(body(download)) == report.size


def test_each_download_is_counted_logged_and_audited(hospital_a, admin_a):
    with hospital_context("ALPHA"):
        report = report_generate(report_id=request().pk)
        for _ in range(2):
            download = report_download(report=report, user_id=admin_a.pk, ip="192.0.2.7")
            assert body(download) == stored_bytes(report)
        assert download.filename == "fake_counts_2025-01-01_2025-03-31.csv"
        assert download.content_type.startswith("text/csv")
        report.refresh_from_db()
        assert report.download_count == 2
        rows = list(ReportDownload.objects.values_list("user_id", "ip", "via"))
        assert rows == [(admin_a.pk, "192.0.2.7", "api")] * 2
        assert AuditEvent.objects.filter(action="export", object_id=str(report.pk)).count() == 2


def test_downloads_of_unfinished_failed_and_expired_reports_are_refused(hospital_a):
    with hospital_context("ALPHA"):
        queued = request()
        with pytest.raises(ReportNotReady):
            report_download(report=queued, user_id=None, ip=None)
        failed = report_generate(report_id=request(filters={"explode": "user"}).pk)
        with pytest.raises(BusinessRuleViolation, match="widen it"):
            report_download(report=failed, user_id=None, ip=None)
        done = report_generate(report_id=request().pk)
        GeneratedReport.objects.filter(pk=done.pk).update(
            expires_at=timezone.now() - dt.timedelta(seconds=1)
        )
        assert reports_expire() == 1
        done.refresh_from_db()
        with pytest.raises(ReportExpired):
            report_download(report=done, user_id=None, ip=None)


def test_expiry_deletes_old_files_by_the_hospitals_retention(hospital_a):
    with hospital_context("ALPHA"):
        old = report_generate(report_id=request().pk)
        young = report_generate(report_id=request(filters={"sex": "male"}).pk)
        ReportPolicy.objects.create(retention_days=7)
        GeneratedReport.objects.filter(pk=old.pk).update(
            finished_at=timezone.now() - dt.timedelta(days=8)
        )
        GeneratedReport.objects.filter(pk=young.pk).update(
            finished_at=timezone.now() - dt.timedelta(days=6)
        )
        assert reports_expire() == 1
        old.refresh_from_db()
        young.refresh_from_db()
    assert old.status == "expired" and old.storage_key == ""
    assert not files.reports_storage().exists(f"reports/alpha/{old.pk}.csv")
    assert young.status == "completed" and files.reports_storage().exists(young.storage_key)


def test_a_signed_link_names_its_user_and_expires(hospital_a, hospital_b, admin_a, settings):
    with hospital_context("ALPHA"):
        report = report_generate(report_id=request().pk)
        url = report_download_link(report=report, user_id=admin_a.pk)
        token = url.split("signature=")[1]
        assert report_link_verify(token=token, report_id=str(report.pk)) == admin_a.pk
        with pytest.raises(NotFound):
            report_link_verify(token=token[:-2] + "xx", report_id=str(report.pk))
        with pytest.raises(NotFound):
            report_link_verify(token=token, report_id="0190a2b4-0000-7000-8000-000000000000")
        settings.HOSPITIUM_REPORT_LINK_SECONDS = -1
        with pytest.raises(PermissionRefused, match="expired"):
            report_link_verify(token=token, report_id=str(report.pk))
    settings.HOSPITIUM_REPORT_LINK_SECONDS = 300
    with hospital_context("BRAVO"), pytest.raises(NotFound):
        report_link_verify(token=token, report_id=str(report.pk))
    assert signing.loads(token, salt="hospitium.reports.download")["h"] == "ALPHA"


def test_a_storage_key_never_comes_from_user_input():
    with pytest.raises(ValueError):
        files.storage_key("../etc", "0190a2b4-0000-7000-8000-000000000000", "csv")
    with pytest.raises(ValueError):
        files.storage_key("ALPHA", "../../x", "csv")
    assert generation.LEASE_SECONDS <= 300


@pytest.mark.parametrize(
    ("roles", "refused"),
    [({"analyst"}, True), (None, True), ({"admin"}, False), ({"analyst", "admin"}, False)],
)
def test_patient_rows_need_a_role_that_reads_them(hospital_a, roles, refused):
    # None: the roles bound to the request; outside one there are none, so rows are refused.
    with hospital_context("ALPHA"):
        if refused:
            with pytest.raises(ReportRowsRefused):
                request(include_rows=True, roles=roles)
            assert not GeneratedReport.objects.exists()
            assert request(include_rows=False, roles=roles).include_rows is False
        else:
            assert request(include_rows=True, roles=roles).include_rows is True
