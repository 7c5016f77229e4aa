"""Generating a report's file: the body of the background task (and of the CLI).

The worker holds a lease on the row: taking it is one conditional UPDATE (queued → generating,
attempts + 1), every progress report renews it with another conditional UPDATE that also
notices a cancel (or a sweeper that gave the work to someone else), and finishing is conditional
on still holding it. So two workers never both finish one report, and a dead worker's report is
found by the sweeper once its lease runs out.

The lease's writes go through the store's side connection (``router.current_side_alias``), not
the one the template reads on: progress is written while a listing's SELECT is still stepping,
and on SQLite a write on that connection would have to upgrade the SELECT's snapshot to the write
lock — refused at once when anyone else committed since, else holding every other writer of the
hospital off until the listing ends. Reading is all the data step does on its own connection.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, InterfaceError, OperationalError
from django.utils import timezone

from hospitium.core.db import is_transient
from hospitium.core.errors import DatabaseUnavailable, HospitiumError
from hospitium.reports import csvlines, files, registry
from hospitium.reports.base import ReportData, ReportFormat, ReportMeta, ReportTemplate
from hospitium.reports.errors import ReportError, ReportStorageUnavailable, ReportTransientError
from hospitium.reports.models import GeneratedReport, ReportPolicy
from hospitium.tenancy.context import current_hospital
from hospitium.tenancy.router import current_side_alias

logger = logging.getLogger("hospitium.reports")

Status = GeneratedReport.Status

#: A worker that has not reported progress for this long is presumed dead (the default of
#: settings.HOSPITIUM_REPORT_LEASE_SECONDS).
LEASE_SECONDS = 120
#: A queued report not picked up within this time is enqueued again by the sweeper.
QUEUE_GRACE_SECONDS = 600
MAX_ATTEMPTS = 3
#: Progress is written at most this often (and on every 5 % step).
PROGRESS_SECONDS = 2.0
DEFAULT_RETENTION_DAYS = 30

INTERNAL_FAILURE = (
    "The report could not be generated because of an internal error (reference {ref}). "
    "Please try again; if it fails again, tell your administrator the reference."
)


class _Stopped(Exception):
    """The row is no longer this worker's: cancelled, or given to another worker."""


def lease_seconds() -> int:
    """How long a worker's lease on a report lasts without a progress report."""
    return int(getattr(settings, "HOSPITIUM_REPORT_LEASE_SECONDS", LEASE_SECONDS))


def retention_days() -> int:
    policy = ReportPolicy.objects.filter(singleton=1).only("retention_days").first()
    return policy.retention_days if policy else DEFAULT_RETENTION_DAYS


def resolve(report: GeneratedReport) -> tuple[ReportTemplate, ReportFormat]:
    """The code template and format of a report; ReportError when either is gone."""
    template = registry.templates().get(report.template_key)
    if template is None:
        raise ReportError(f"The report template {report.template_key!r} is no longer available.")
    fmt = registry.formats().get(report.format)
    if fmt is None:
        raise ReportError(f"The format {report.format!r} is no longer available.")
    return template, fmt


def validated_parameters(template: ReportTemplate, stored: dict[str, Any]) -> dict[str, Any]:
    serializer = template.parameters(data=stored)
    if not serializer.is_valid():
        raise ReportError(
            "The report's saved parameters are no longer valid for its template "
            f"({json.dumps(serializer.errors, default=str)}); generate it again."
        )
    return dict(serializer.validated_data)


def cache_key(template_key: str, stored: dict[str, Any]) -> str:
    """Per hospital, template and parameters (include_rows aside: figures do not depend on it)."""
    figures_params = {k: v for k, v in stored.items() if k != "include_rows"}
    digest = hashlib.sha256(
        json.dumps(figures_params, sort_keys=True, default=str).encode()
    ).hexdigest()[:32]
    return f"hospitium:reports:{current_hospital().code}:{template_key}:{digest}"


def build_data(
    template: ReportTemplate, params: dict[str, Any], stored: dict[str, Any], meta: ReportMeta
) -> ReportData:
    """The template's data, its figures served from the cache when allowed.

    Listings (the underlying rows) are never cached: with ``include_rows`` the template is
    always run, and its fresh figures refresh the cache.
    """
    key = cache_key(template.key, stored)
    if not params.get("include_rows"):
        cached = cache.get(key)
        if cached is not None:
            figures, tables, series = cached
            return ReportData(meta=meta, figures=figures, tables=tables, series=series)
    data = template.build(params, meta)
    try:
        cache.set(key, (data.figures, data.tables, data.series), template.cache_seconds)
    except Exception as exc:  # a cache outage must not fail a report
        logger.warning("report cache refused %s: %r", key, exc)
    if not params.get("include_rows"):
        data.listings = []
    return data


def report_meta(
    report: GeneratedReport, params: dict[str, Any], template: ReportTemplate
) -> ReportMeta:
    hospital = current_hospital()
    base = {"date_from", "date_to", "include_rows"}
    return ReportMeta(
        hospital_code=hospital.code,
        hospital_name=hospital.name,
        template_key=template.key,
        title=template.title,
        period_start=params["date_from"],
        period_end=params["date_to"],
        filters={k: v for k, v in params.items() if k not in base},
        generated_by=report.requested_by_label or "system",
        generated_at=timezone.now(),
    )


def build_file(
    report: GeneratedReport, progress: Callable[[float], None] | None = None
) -> files.BuiltFile:
    """Build the report's file from its saved parameters (no lease, no status change).

    For a CSV file, a listing's reader processes start as the template builds it, and read
    while the template computes its figures (``csvlines.early_readers``); they are ended once
    the file is written, whatever happened.
    """
    template, fmt = resolve(report)
    params = validated_parameters(template, report.parameters)
    meta = report_meta(report, params, template)
    with csvlines.early_readers(enabled=fmt.key == "csv") as started:
        data = build_data(template, params, report.parameters, meta)
    try:
        return files.write_report(fmt, data, progress)
    finally:
        for plan in started:
            plan.close()


class _Lease:
    """A worker's hold on a generating report row (a hospital's, or a fleet report: ``model``)."""

    def __init__(
        self,
        report_id: uuid.UUID,
        attempt: int,
        callback: Callable[[int], None] | None,
        *,
        model: Any = GeneratedReport,
        using: str | None = None,
    ) -> None:
        self.report_id = report_id
        self.attempt = attempt
        self.callback = callback
        self.model = model
        self.using = using
        self.percent = 0
        self.written_at = time.monotonic()

    def mine(self) -> Any:
        return self.model.objects.using(self.using).filter(
            pk=self.report_id, status=Status.GENERATING, attempts=self.attempt
        )

    def beat(self, percent: int, *, force: bool = False) -> None:
        percent = max(0, min(99, percent))
        if self.callback is not None:
            self.callback(percent)
        now = time.monotonic()
        if not force and percent < self.percent + 5 and now - self.written_at < PROGRESS_SECONDS:
            return
        renewed = self.mine().update(
            progress=percent,
            lease_expires_at=timezone.now() + dt.timedelta(seconds=lease_seconds()),
        )
        if not renewed:
            raise _Stopped()
        self.percent, self.written_at = percent, now


def take_lease(report_id: uuid.UUID | str) -> GeneratedReport | None:
    """queued → generating for this worker; None when the report is not queued any more."""
    now = timezone.now()
    from django.db.models import F

    taken = (
        GeneratedReport.objects.using(current_side_alias())
        .filter(pk=report_id, status=Status.QUEUED)
        .update(
            status=Status.GENERATING,
            started_at=now,
            progress=0,
            lease_expires_at=now + dt.timedelta(seconds=lease_seconds()),
            attempts=F("attempts") + 1,
            error_message="",
        )
    )
    if not taken:
        return None
    return GeneratedReport.objects.get(pk=report_id)


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, ReportStorageUnavailable | DatabaseUnavailable):
        return True
    return isinstance(exc, OperationalError | InterfaceError | DatabaseError) and is_transient(exc)


def report_generate(
    *, report_id: uuid.UUID | str, progress: Callable[[int], None] | None = None
) -> GeneratedReport | None:
    """Generate a queued report of the current hospital and store its file.

    Ends ``completed``, or ``failed`` with a message the requester can act on (the internal
    error is logged). A transient error (storage, database) puts it back in the queue and
    raises ReportTransientError so the task is retried, up to MAX_ATTEMPTS attempts. Returns
    the report, or None when it was not this worker's to generate (cancelled, taken).
    """
    report = take_lease(report_id)
    if report is None:
        logger.info("report %s is not queued any more; nothing to do", report_id)
        return None
    lease = _Lease(report.pk, report.attempts, progress, using=current_side_alias())
    started = time.monotonic()
    built: files.BuiltFile | None = None
    stored_name = ""
    try:
        lease.beat(1, force=True)
        built = build_file(report, lambda fraction: lease.beat(10 + int(fraction * 85)))
        lease.beat(95, force=True)
        key = files.storage_key(current_hospital().code, report.pk, _extension(report))
        stored_name = files.store(key, built)
        now = timezone.now()
        finished = lease.mine().update(
            status=Status.COMPLETED,
            progress=100,
            storage_key=stored_name,
            size=built.size,
            sha256=built.sha256,
            row_count=built.row_count,
            duration_ms=int((time.monotonic() - started) * 1000),
            finished_at=now,
            lease_expires_at=None,
            expires_at=now + dt.timedelta(days=retention_days()),
        )
        if not finished:
            raise _Stopped()
        if progress is not None:
            progress(100)
        logger.info(
            "report %s (%s.%s) completed: %d bytes, %d rows",
            report.pk,
            report.template_key,
            report.format,
            built.size,
            built.row_count,
        )
    except _Stopped:
        logger.info("report %s stopped: cancelled or taken over", report.pk)
        if stored_name:
            files.delete(stored_name)
        return GeneratedReport.objects.filter(pk=report.pk).first()
    except Exception as exc:
        _after_failure(report, lease, exc)
    finally:
        if built is not None:
            built.close()
    return GeneratedReport.objects.filter(pk=report.pk).first()


def _after_failure(report: Any, lease: _Lease, exc: Exception, *, label: str = "report") -> None:
    """Requeue the report after a transient error (raising ReportTransientError so that Huey
    retries), or mark it failed with a message a user can act on."""
    now = timezone.now()
    if _transient(exc):
        if report.attempts < MAX_ATTEMPTS:
            logger.warning(
                "%s %s attempt %d hit a transient error, will retry: %r",
                label,
                report.pk,
                report.attempts,
                exc,
            )
            lease.mine().update(
                status=Status.QUEUED,
                progress=0,
                lease_expires_at=now + dt.timedelta(seconds=QUEUE_GRACE_SECONDS),
            )
            raise ReportTransientError(str(report.pk)) from exc
        message = _gave_up_message(report.attempts, exc)
        logger.error("%s %s failed after %d attempts: %r", label, report.pk, report.attempts, exc)
    elif isinstance(exc, HospitiumError):
        message = exc.message
        logger.warning("%s %s failed: %s", label, report.pk, exc.message)
    else:
        message = INTERNAL_FAILURE.format(ref=report.pk)
        logger.exception("%s %s failed with an internal error", label, report.pk, exc_info=exc)
    lease.mine().update(
        status=Status.FAILED,
        error_message=message[:500],
        finished_at=now,
        lease_expires_at=None,
    )


def _gave_up_message(attempts: int, exc: BaseException) -> str:
    """What the requester reads when transient errors used up every attempt: which part was
    unavailable (the file storage, or the hospital's database), not a guess between the two."""
    if isinstance(exc, ReportStorageUnavailable):
        cause = "the file storage could not store its file"
    else:
        cause = "the hospital's database was busy or unavailable"
    tries = "attempt" if attempts == 1 else "attempts"
    return (
        f"The report could not be generated: {cause} on each of {attempts} {tries}. "
        "Nothing is wrong with its parameters: please try again later."
    )


def _extension(report: GeneratedReport) -> str:
    fmt = registry.formats().get(report.format)
    return fmt.extension if fmt is not None else report.format
