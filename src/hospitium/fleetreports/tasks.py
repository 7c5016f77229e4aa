"""Background work of whole-fleet reports: generation (one task per report), the lease sweeper
and expiry (periodic). They work in the platform store; the data steps bind each hospital."""

from __future__ import annotations

from typing import Any

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from hospitium.fleetreports.services import (
    fleet_report_generate,
    fleet_reports_expire,
    fleet_reports_sweep,
)
from hospitium.reports.generation import MAX_ATTEMPTS


@db_task(retries=MAX_ATTEMPTS - 1, retry_delay=15)
def generate_fleet_report(report_id: str) -> str | None:
    """Generate one fleet report; a transient failure raises so Huey retries the task."""
    report = fleet_report_generate(report_id=report_id)
    return report.status if report is not None else None


@db_periodic_task(crontab(minute="*"))
def sweep_fleet_reports() -> dict[str, Any]:
    """Every minute: re-queue or fail fleet reports whose worker's lease ran out."""
    result = fleet_reports_sweep()
    return {"requeued": result.requeued, "failed": result.failed}


@db_periodic_task(crontab(minute="23"))
def expire_fleet_reports() -> int:
    """Every hour: delete the files of fleet reports past their retention."""
    return fleet_reports_expire()
