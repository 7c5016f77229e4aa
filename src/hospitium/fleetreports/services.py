"""Writes to whole-fleet reports: request, generate (the task's body), download (rebuilding a
lost file), delete, and the periodic sweep and expiry.

A fleet report runs one code template in every active hospital (``reports.fleet``) and merges
the figures. Its row lives in the platform store and holds no hospital data; its file lives in
the ``reports`` storage under ``fleet-reports/`` (outside every hospital's ``reports/<code>/``
prefix). Generation holds a lease exactly like a hospital report's (see reports.generation), so
a worker that dies is found by the sweeper and its report re-queued, or failed after
MAX_ATTEMPTS. Only platform superusers may ask; the operator's CLI writes its file directly.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from rest_framework import serializers

from hospitium.core.db import atomic_service
from hospitium.core.errors import (
    HospitiumError,
    NotFound,
    ValidationFailed,
)
from hospitium.fleetreports.errors import SuperuserRequired
from hospitium.fleetreports.models import FleetReport
from hospitium.reports import files, registry
from hospitium.reports.base import ReportTemplate
from hospitium.reports.errors import (
    ReportError,
    ReportStorageUnavailable,
)
from hospitium.reports.fleet import fleet_report_data
from hospitium.reports.generation import (
    MAX_ATTEMPTS,
    QUEUE_GRACE_SECONDS,
    _after_failure,
    _Lease,
    _Stopped,
    lease_seconds,
)
from hospitium.reports.services import QUEUE_GIVE_UP, Download, _field_errors, downloadable_format
from hospitium.tenancy.models import Hospital

logger = logging.getLogger("hospitium.reports")
audit_logger = logging.getLogger("hospitium.audit")

PLATFORM = "default"
Status = FleetReport.Status
#: Request-time parameters; everything else a template accepts is a filter.
REQUEST_PARAMETERS = frozenset({"date_from", "date_to", "include_rows"})


def _platform() -> str:
    return PLATFORM


def fleet_storage_key(report_id: uuid.UUID | str, extension: str) -> str:
    """``fleet-reports/<uuid>.<ext>``: built from the id only, never from user input."""
    ext = extension.lstrip(".")
    if not ext.isalnum() or not ext.isascii():
        raise ValueError(f"not a file extension: {extension!r}")
    return f"fleet-reports/{uuid.UUID(str(report_id))}.{ext}"


def require_superuser(user: Any) -> None:
    """Raises SuperuserRequired unless ``user`` is an active, signed-in platform superuser."""
    if not (
        getattr(user, "is_authenticated", False)
        and getattr(user, "is_active", False)
        and getattr(user, "is_superuser", False)
    ):
        raise SuperuserRequired()


def supported_formats(template: ReportTemplate) -> list[str]:
    installed = registry.formats()
    return [f for f in template.formats if f in installed]


def fleet_filters(template: ReportTemplate) -> list[str]:
    """The template's filters that mean the same in every hospital (not a record's id)."""
    fields = template.parameters().fields
    return sorted(
        name
        for name, field in fields.items()
        if name not in REQUEST_PARAMETERS and not isinstance(field, serializers.UUIDField)
    )


def fleet_parameters(
    template: ReportTemplate,
    *,
    date_from: dt.date | str,
    date_to: dt.date | str,
    filters: dict[str, Any] | None,
) -> dict[str, Any]:
    """The period and filters checked by the template's own validation, as they are stored.

    A filter that names one hospital's record (a department's id) means nothing across
    hospitals and is refused. Raises ValidationFailed with field errors.
    """
    filters = dict(filters or {})
    usable = fleet_filters(template)
    refused = sorted(set(filters) - set(usable))
    if refused:
        raise ValidationFailed(
            "Some filters cannot be used over the whole fleet.",
            fields={
                "filters": [
                    f"Unknown, or naming one hospital's record: {', '.join(map(str, refused))}. "
                    f"Over the whole fleet this report accepts: {', '.join(usable) or 'none'}."
                ]
            },
        )
    data = {**filters, "date_from": str(date_from), "date_to": str(date_to)}
    data["include_rows"] = False
    serializer = template.parameters(data=data)
    if not serializer.is_valid():
        errors = _field_errors(serializer.errors)
        raise ValidationFailed(
            "The report's parameters are not valid.",
            fields={
                k if k in {"date_from", "date_to"} or not k else f"filters.{k}": v
                for k, v in errors.items()
            },
        )
    return dict(serializer.data)


def _hospital_codes(hospitals: list[str] | None) -> list[str]:
    if hospitals is None:
        return []
    codes = sorted({str(code).strip().upper() for code in hospitals if str(code).strip()})
    if not codes:
        raise ValidationFailed(
            "No hospital was named.",
            fields={"hospitals": ["Name at least one hospital, or leave it out for all of them."]},
        )
    active = set(
        Hospital.objects.filter(code__in=codes, status=Hospital.Status.ACTIVE).values_list(
            "code", flat=True
        )
    )
    missing = [code for code in codes if code not in active]
    if missing:
        raise ValidationFailed(
            "Some hospitals cannot be reported on.",
            fields={"hospitals": [f"Not an active hospital: {', '.join(missing)}."]},
        )
    return codes


# -- requesting ------------------------------------------------------------------------------


@atomic_service(_platform)
def fleet_report_request(
    *,
    user: Any,
    template_key: str,
    format: str,
    date_from: dt.date | str,
    date_to: dt.date | str,
    filters: dict[str, Any] | None = None,
    hospitals: list[str] | None = None,
    enqueue: bool = True,
) -> FleetReport:
    """Queue a report of ``template_key`` over every active hospital (or ``hospitals``); the
    task is enqueued when the row is committed.

    Raises SuperuserRequired unless ``user`` is a platform superuser, NotFound for an unknown
    template, ValidationFailed (field errors, nothing written) for a format, period, filter or
    hospital the report refuses.
    """
    require_superuser(user)
    template = registry.templates().get(template_key)
    if template is None:
        raise NotFound(f"There is no report template {template_key!r}.")
    formats = supported_formats(template)
    if format not in formats:
        raise ValidationFailed(
            f"{template.title} cannot be produced as {format!r}.",
            fields={"format": [f"Choose one of: {', '.join(formats) or '(none available)'}."]},
        )
    stored = fleet_parameters(template, date_from=date_from, date_to=date_to, filters=filters)
    codes = _hospital_codes(hospitals)
    report = FleetReport.objects.create(
        template_key=template_key,
        format=format,
        parameters=stored,
        hospital_codes=codes,
        requested_by=user,
        requested_by_label=getattr(user, "email", ""),
        lease_expires_at=timezone.now() + dt.timedelta(seconds=QUEUE_GRACE_SECONDS),
    )
    audit_logger.info(
        "fleet report %s (%s.%s over %s) requested by %s",
        report.pk,
        template_key,
        format,
        ", ".join(codes) or "every active hospital",
        report.requested_by_label,
    )
    if enqueue:
        _enqueue_on_commit(report.pk)
    return report


def _enqueue_on_commit(report_id: uuid.UUID) -> None:
    def send() -> None:
        from hospitium.fleetreports.tasks import generate_fleet_report

        generate_fleet_report(str(report_id))

    transaction.on_commit(send, using=PLATFORM)


# -- generating ------------------------------------------------------------------------------


@dataclass
class _Built:
    file: files.BuiltFile
    hospitals: int


def _build(
    report: FleetReport, *, user: Any, progress: Callable[[int, int], None] | None = None
) -> _Built:
    """The report's file, built from its saved parameters (no lease, no status change)."""
    template = registry.templates().get(report.template_key)
    if template is None:
        raise ReportError(f"The report template {report.template_key!r} is no longer available.")
    fmt = registry.formats().get(report.format)
    if fmt is None:
        raise ReportError(f"The format {report.format!r} is no longer available.")
    params = report.parameters or {}
    seen = [0]

    def count(done: int, total: int) -> None:
        seen[0] = total
        if progress is not None:
            progress(done, total)

    data = fleet_report_data(
        user=user,
        template_key=report.template_key,
        date_from=params.get("date_from", ""),
        date_to=params.get("date_to", ""),
        filters={k: v for k, v in params.items() if k not in REQUEST_PARAMETERS},
        codes=report.hospital_codes or None,
        progress=count,
    )
    return _Built(files.write_report(fmt, data), seen[0])


def _take_lease(report_id: uuid.UUID | str) -> FleetReport | None:
    now = timezone.now()
    try:
        taken = FleetReport.objects.filter(pk=report_id, status=Status.QUEUED).update(
            status=Status.GENERATING,
            started_at=now,
            progress=0,
            lease_expires_at=now + dt.timedelta(seconds=lease_seconds()),
            attempts=F("attempts") + 1,
            error_message="",
        )
    except (ValueError, TypeError):
        return None
    if not taken:
        return None
    return FleetReport.objects.select_related("requested_by").get(pk=report_id)


def fleet_report_generate(*, report_id: uuid.UUID | str) -> FleetReport | None:
    """Generate a queued fleet report and store its file.

    Ends ``completed``, or ``failed`` with a message the requester can act on (the internal
    error is logged). A transient error (storage, database) puts it back in the queue and raises
    ReportTransientError so the task is retried, up to MAX_ATTEMPTS attempts. Returns the report,
    or None when it was not this worker's to generate (cancelled, taken, unknown).
    """
    report = _take_lease(report_id)
    if report is None:
        logger.info("fleet report %s is not queued any more; nothing to do", report_id)
        return None
    lease = _Lease(report.pk, report.attempts, None, model=FleetReport)
    started = time.monotonic()
    built: _Built | None = None
    stored_name = ""
    try:
        lease.beat(1, force=True)
        requester = report.requested_by
        if requester is None or not (requester.is_active and requester.is_superuser):
            raise SuperuserRequired(
                "The person who asked for this report is no longer a platform superuser, "
                "so it was not generated."
            )
        built = _build(
            report,
            user=requester,
            progress=lambda done, total: lease.beat(5 + int(85 * done / max(total, 1))),
        )
        lease.beat(95, force=True)
        key = fleet_storage_key(report.pk, registry.formats()[report.format].extension)
        stored_name = files.store(key, built.file)
        now = timezone.now()
        finished = lease.mine().update(
            status=Status.COMPLETED,
            progress=100,
            storage_key=stored_name,
            size=built.file.size,
            sha256=built.file.sha256,
            hospital_count=built.hospitals,
            duration_ms=int((time.monotonic() - started) * 1000),
            finished_at=now,
            lease_expires_at=None,
            expires_at=now + dt.timedelta(days=settings.HOSPITIUM_FLEET_REPORT_RETENTION_DAYS),
        )
        if not finished:
            raise _Stopped()
        logger.info(
            "fleet report %s (%s.%s, %d hospitals) completed: %d bytes",
            report.pk,
            report.template_key,
            report.format,
            built.hospitals,
            built.file.size,
        )
    except _Stopped:
        logger.info("fleet report %s stopped: cancelled or taken over", report.pk)
        if stored_name:
            files.delete(stored_name)
    except Exception as exc:
        _after_failure(report, lease, exc, label="fleet report")
    finally:
        if built is not None:
            built.file.close()
    return FleetReport.objects.filter(pk=report.pk).first()


# -- download and delete ---------------------------------------------------------------------


def fleet_download_filename(report: FleetReport, extension: str) -> str:
    params = report.parameters or {}
    span = f"{params.get('date_from', '')}_{params.get('date_to', '')}".strip("_")
    safe = "".join(c for c in span if c.isalnum() or c in "-_")
    return f"fleet_{report.template_key}_{safe or report.pk}.{extension}"


def fleet_report_download(*, report: FleetReport, user: Any) -> Download:
    """Stream a completed fleet report's file; a missing or unreadable file is rebuilt from the
    saved parameters (over the hospitals that are active now), stored again and served.

    Raises SuperuserRequired, ReportNotReady while queued or generating, ReportExpired once
    expired, BusinessRuleViolation for a failed or cancelled report, ReportStorageUnavailable
    when the file can neither be read nor rebuilt.
    """
    require_superuser(user)
    fmt = downloadable_format(report)
    regenerated = False
    size: int | None = report.size
    chunks: Iterator[bytes]
    try:
        chunks = files.open_checked(report.storage_key, report.size)
    except Exception as exc:
        logger.warning(
            "fleet report %s: file %s missing or unreadable (%r); regenerating",
            report.pk,
            report.storage_key,
            exc,
        )
        chunks, size = _regenerate(report, user=user)
        regenerated = True
    FleetReport.objects.filter(pk=report.pk).update(download_count=F("download_count") + 1)
    audit_logger.info(
        "fleet report %s downloaded by %s%s",
        report.pk,
        getattr(user, "email", "-"),
        " (regenerated)" if regenerated else "",
    )
    return Download(
        chunks=chunks,
        filename=fleet_download_filename(report, fmt.extension),
        content_type=fmt.content_type,
        size=size,
        regenerated=regenerated,
    )


def _regenerate(report: FleetReport, *, user: Any) -> tuple[Iterator[bytes], int]:
    try:
        built = _build(report, user=user)
    except HospitiumError:
        raise
    except Exception as exc:
        logger.exception("fleet report %s could not be regenerated", report.pk, exc_info=exc)
        raise ReportStorageUnavailable(
            "The report's file could not be read and could not be rebuilt; "
            "please generate the report again."
        ) from exc
    key = fleet_storage_key(report.pk, report.storage_key.rsplit(".", 1)[-1])
    try:
        name = files.store(key, built.file)
    except ReportStorageUnavailable:
        logger.error("fleet report %s regenerated but not stored again", report.pk)
    else:
        FleetReport.objects.filter(pk=report.pk).update(
            storage_key=name,
            size=built.file.size,
            sha256=built.file.sha256,
            hospital_count=built.hospitals,
        )
    return files.local_chunks(built.file), built.file.size


def fleet_report_delete(*, report: FleetReport, user: Any) -> None:
    """Cancel a queued or running fleet report (its worker stops at its next progress report),
    or delete a finished one and its file. Raises SuperuserRequired, ReportStorageUnavailable
    when storage refuses to delete the file (the row is kept, so it can be tried again)."""
    require_superuser(user)
    cancelled = FleetReport.objects.filter(
        pk=report.pk, status__in=[Status.QUEUED, Status.GENERATING]
    ).update(status=Status.CANCELLED, finished_at=timezone.now(), lease_expires_at=None)
    if cancelled:
        audit_logger.info("fleet report %s cancelled by %s", report.pk, user.email)
        return
    report.refresh_from_db()
    if report.storage_key and not files.delete(report.storage_key):
        raise ReportStorageUnavailable(
            "The report's file could not be deleted from storage; please try again shortly."
        )
    FleetReport.objects.filter(pk=report.pk).delete()
    audit_logger.info("fleet report %s deleted by %s", report.pk, user.email)


# -- periodic work ---------------------------------------------------------------------------


@dataclass
class SweepResult:
    requeued: int = 0
    failed: int = 0


def fleet_reports_sweep(*, now: dt.datetime | None = None) -> SweepResult:
    """Recover fleet reports whose worker died (lease expired) or whose task was lost: re-queue
    them, or fail them after MAX_ATTEMPTS (or after waiting too long in the queue)."""
    now = now or timezone.now()
    result = SweepResult()
    stale = FleetReport.objects.filter(
        status__in=[Status.QUEUED, Status.GENERATING], lease_expires_at__lt=now
    ).values_list("pk", "status", "attempts", "created_at")
    for pk, status, attempts, created_at in list(stale):
        mine = FleetReport.objects.filter(
            pk=pk, status=status, attempts=attempts, lease_expires_at__lt=now
        )
        if status == Status.GENERATING:
            gave_up = attempts >= MAX_ATTEMPTS
        else:
            gave_up = now - created_at > QUEUE_GIVE_UP
        if gave_up:
            message = (
                "The report could not be finished: the worker generating it stopped "
                f"{attempts} times. Please generate it again."
                if status == Status.GENERATING
                else "The report waited too long for a worker. Please generate it again."
            )
            if mine.update(
                status=Status.FAILED, error_message=message, finished_at=now, lease_expires_at=None
            ):
                result.failed += 1
                logger.error("fleet report %s failed by the sweeper (%s)", pk, status)
            continue
        with transaction.atomic(using=PLATFORM):
            if mine.update(
                status=Status.QUEUED,
                progress=0,
                lease_expires_at=now + dt.timedelta(seconds=QUEUE_GRACE_SECONDS),
            ):
                result.requeued += 1
                logger.warning("fleet report %s re-queued by the sweeper (was %s)", pk, status)
                _enqueue_on_commit(pk)
    return result


def fleet_reports_expire(*, now: dt.datetime | None = None) -> int:
    """Delete the files of completed fleet reports past their expiry and mark them expired.
    A file storage refuses to delete is kept for the next run. Returns the count."""
    now = now or timezone.now()
    due = FleetReport.objects.filter(status=Status.COMPLETED, expires_at__lt=now)
    expired = 0
    for pk, key in list(due.values_list("pk", "storage_key")[:5000]):
        if not files.delete(key):
            continue
        expired += FleetReport.objects.filter(pk=pk, status=Status.COMPLETED).update(
            status=Status.EXPIRED, storage_key="", expires_at=now
        )
    if expired:
        logger.info("%d fleet report(s) expired", expired)
    return expired
