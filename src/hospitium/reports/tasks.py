"""Background work of reports: generation (one task per report), the lease sweeper and expiry
(periodic, over every live hospital, each in its own hospital context)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from hospitium.reports import files
from hospitium.reports.errors import ReportTransientError
from hospitium.reports.generation import MAX_ATTEMPTS, report_generate
from hospitium.reports.services import reports_expire, reports_sweep
from hospitium.tenancy.context import hospital_context
from hospitium.tenancy.tasks import hospital_task

logger = logging.getLogger("hospitium.reports")
R = TypeVar("R")


@hospital_task(retries=MAX_ATTEMPTS - 1, retry_delay=15)
def generate_report(report_id: str) -> str | None:
    """Generate one report; a transient failure raises so Huey retries the task."""
    try:
        report = report_generate(report_id=report_id)
    except ReportTransientError:
        raise
    return report.status if report is not None else None


def each_live_hospital(work: Callable[[], R]) -> dict[str, R]:
    """Run ``work`` in every active hospital's context; one hospital's failure is logged and
    does not stop the others."""
    from hospitium.tenancy.models import Hospital

    results: dict[str, R] = {}
    codes = Hospital.objects.filter(status=Hospital.Status.ACTIVE).values_list("code", flat=True)
    for code in list(codes):
        try:
            with hospital_context(code):
                results[code] = work()
        except Exception:
            logger.exception("periodic report work failed in hospital %s", code)
    return results


@db_periodic_task(crontab(minute="*"))
def sweep_reports() -> dict[str, Any]:
    """Every minute: re-queue or fail reports whose worker's lease ran out."""
    return each_live_hospital(reports_sweep)


@db_periodic_task(crontab(minute="17"))
def expire_reports() -> dict[str, int]:
    """Every hour: delete the files of reports past their hospital's retention."""
    return each_live_hospital(reports_expire)


@db_periodic_task(crontab(minute="47"))
def sweep_report_staging() -> int:
    """Every hour: remove report files a killed worker left half-written (files.STAGING)."""
    return files.sweep_staging()
