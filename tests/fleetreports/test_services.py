"""Fleet report generation in the background: the lease sweeper, expiry, and a requester who
is no longer a superuser."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from hospitium.core.errors import HospitiumError
from hospitium.fleetreports.models import FleetReport
from hospitium.fleetreports.services import fleet_report_generate, fleet_report_request
from hospitium.fleetreports.tasks import expire_fleet_reports, sweep_fleet_reports
from hospitium.reports import files
from hospitium.reports.generation import MAX_ATTEMPTS
from tests.fleetreports.helpers import BODY, fleet_formats  # noqa: F401
from tests.reports.fakes import fake_reports  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fleet_formats")]


def queued(user) -> FleetReport:
    return fleet_report_request(user=user, template_key="fake_counts", **BODY, enqueue=False)


def died_while_generating(report: FleetReport, *, attempts: int = 1) -> None:
    FleetReport.objects.filter(pk=report.pk).update(
        status="generating",
        attempts=attempts,
        progress=40,
        lease_expires_at=timezone.now() - dt.timedelta(seconds=1),
    )


def test_only_a_superuser_may_request(hospital_a, admin_a, superuser):
    with pytest.raises(HospitiumError) as refused:
        queued(admin_a)
    assert refused.value.code == "superuser_required"
    assert not FleetReport.objects.exists()
    assert queued(superuser).status == "queued"


def test_the_sweeper_requeues_a_report_whose_worker_died(
    hospital_a, superuser, django_capture_on_commit_callbacks
):
    report = queued(superuser)
    died_while_generating(report)
    with django_capture_on_commit_callbacks(execute=True) as sent:
        assert sweep_fleet_reports.call_local() == {"requeued": 1, "failed": 0}
    assert len(sent) == 1  # the task is enqueued again
    recovered = FleetReport.objects.get(pk=report.pk)
    assert recovered.status == "completed" and recovered.attempts == 2


def test_a_live_lease_is_left_alone(hospital_a, superuser):
    report = queued(superuser)
    FleetReport.objects.filter(pk=report.pk).update(
        status="generating", attempts=1, lease_expires_at=timezone.now() + dt.timedelta(minutes=1)
    )
    assert sweep_fleet_reports.call_local() == {"requeued": 0, "failed": 0}
    assert FleetReport.objects.get(pk=report.pk).status == "generating"


def test_the_sweeper_fails_a_report_whose_worker_died_too_often(hospital_a, superuser):
    report = queued(superuser)
    died_while_generating(report, attempts=MAX_ATTEMPTS)
    assert sweep_fleet_reports.call_local() == {"requeued": 0, "failed": 1}
    failed = FleetReport.objects.get(pk=report.pk)
    assert failed.status == "failed" and failed.lease_expires_at is None
    assert failed.error_message == (
        f"The report could not be finished: the worker generating it stopped {MAX_ATTEMPTS} "
        "times. Please generate it again."
    )


def test_a_requester_who_lost_superuser_gets_a_failed_report(hospital_a, superuser):
    report = queued(superuser)
    superuser.is_superuser = False
    superuser.save(update_fields=["is_superuser"])
    done = fleet_report_generate(report_id=report.pk)
    assert done is not None and done.status == "failed"
    assert "no longer a platform superuser" in done.error_message
    assert done.storage_key == ""


def test_a_data_step_error_fails_the_report_with_a_reference(hospital_a, superuser, monkeypatch):
    from tests.reports import fakes

    report = queued(superuser)
    monkeypatch.setattr(fakes.FakeTemplate, "build", lambda self, params, meta: 1 / 0)
    done = fleet_report_generate(report_id=report.pk)
    assert done is not None and done.status == "failed"
    assert str(report.pk) in done.error_message and "internal error" in done.error_message


def test_expiry_removes_the_file_and_marks_the_report(hospital_a, superuser, api):
    report = queued(superuser)
    done = fleet_report_generate(report_id=report.pk)
    assert done is not None and done.status == "completed"
    assert files.reports_storage().exists(done.storage_key)
    FleetReport.objects.filter(pk=report.pk).update(
        expires_at=timezone.now() - dt.timedelta(seconds=1)
    )
    assert expire_fleet_reports.call_local() == 1
    expired = FleetReport.objects.get(pk=report.pk)
    assert expired.status == "expired" and expired.storage_key == ""
    assert not files.reports_storage().exists(done.storage_key)
    api.force_login(superuser)
    gone = api.get(f"/api/reports/fleet/generated/{report.pk}/download/")
    assert gone.status_code == 410 and gone.json()["error"]["code"] == "report_expired"
