"""Writes to reports: request, cancel, delete, download (with regeneration), sweep, expire."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from hospitium.audit.services import audit_record
from hospitium.core.context import roles_var
from hospitium.core.db import atomic_service
from hospitium.core.errors import (
    BusinessRuleViolation,
    HospitiumError,
    NotFound,
    PermissionRefused,
    ValidationFailed,
)
from hospitium.reports import files, registry
from hospitium.reports.base import ReportFormat
from hospitium.reports.errors import (
    ReportExpired,
    ReportNotReady,
    ReportRowsRefused,
    ReportStorageUnavailable,
)
from hospitium.reports.generation import (
    MAX_ATTEMPTS,
    QUEUE_GRACE_SECONDS,
    build_file,
    retention_days,
)
from hospitium.reports.models import GeneratedReport, ReportDownload, ReportTemplateSetting
from hospitium.reports.selectors import reads_rows
from hospitium.tenancy.context import current_hospital
from hospitium.tenancy.router import current_alias

logger = logging.getLogger("hospitium.reports")

Status = GeneratedReport.Status
LINK_SALT = "hospitium.reports.download"
#: A report that has waited this long in the queue is failed rather than re-enqueued again.
QUEUE_GIVE_UP = dt.timedelta(hours=6)


def _write_alias() -> str:
    return current_alias(write=True)


# -- template settings -----------------------------------------------------------------------


def template_settings() -> dict[str, ReportTemplateSetting]:
    """This hospital's setting row for every template in code, created on first need (in an
    archived hospital the defaults are returned unsaved)."""
    code_templates = registry.templates()
    rows = {row.template_key: row for row in ReportTemplateSetting.objects.all()}
    missing = [
        ReportTemplateSetting(template_key=key, display_name=template.title)
        for key, template in code_templates.items()
        if key not in rows
    ]
    if missing and not current_hospital().read_only:
        ReportTemplateSetting.objects.bulk_create(missing, ignore_conflicts=True)
        rows = {row.template_key: row for row in ReportTemplateSetting.objects.all()}
    else:
        rows.update({row.template_key: row for row in missing})
    return {key: rows[key] for key in code_templates}


def allowed_formats(template_key: str, setting: ReportTemplateSetting) -> list[str]:
    template = registry.templates()[template_key]
    installed = registry.formats()
    chosen = setting.allowed_formats or list(template.formats)
    return [f for f in chosen if f in template.formats and f in installed]


# -- requesting ------------------------------------------------------------------------------


def _field_errors(errors: Any, prefix: str = "") -> dict[str, list[str]]:
    flat: dict[str, list[str]] = {}
    if isinstance(errors, dict):
        for key, value in errors.items():
            name = f"{prefix}{key}" if key != "non_field_errors" else (prefix.rstrip(".") or key)
            for sub, messages in _field_errors(value, "").items():
                flat.setdefault(name if sub == "" else f"{name}.{sub}", []).extend(messages)
    elif isinstance(errors, list):
        flat[""] = [str(item) for item in errors]
    else:
        flat[""] = [str(errors)]
    return flat


@atomic_service(_write_alias)
def report_request(
    *,
    template_key: str,
    format: str,
    date_from: dt.date | str,
    date_to: dt.date | str,
    filters: dict[str, Any] | None = None,
    include_rows: bool = False,
    requested_by_id: int | None = None,
    requested_by_label: str = "",
    enqueue: bool = True,
    roles: Collection[str] | None = None,
) -> GeneratedReport:
    """Queue a report of the current hospital; the task is enqueued when the row is committed.

    ``roles`` are the requester's (default: the roles bound to this request or task; none
    outside one). Patient-level rows (``include_rows``) need a role that may read them.

    Raises ReportRowsRefused for rows the roles may not read, NotFound for an unknown
    template, BusinessRuleViolation for a disabled one, and ValidationFailed (with field
    errors) for a format or parameters the template refuses.
    """
    if include_rows and not reads_rows(roles_var.get() if roles is None else roles):
        raise ReportRowsRefused()
    template = registry.templates().get(template_key)
    if template is None:
        raise NotFound(f"There is no report template {template_key!r}.")
    setting = template_settings()[template_key]
    if not setting.enabled:
        raise BusinessRuleViolation(f"The report {setting} is disabled in this hospital.")
    formats = allowed_formats(template_key, setting)
    if format not in formats:
        raise ValidationFailed(
            f"{setting} cannot be produced as {format!r}.",
            fields={"format": [f"Choose one of: {', '.join(formats) or '(none available)'}."]},
        )
    filters = dict(filters or {})
    fields = template.parameters().fields
    known = set(fields) - {"date_from", "date_to", "include_rows"}
    unknown = sorted(set(filters) - known)
    if unknown:
        raise ValidationFailed(
            "Some filters are not known to this report.",
            fields={
                "filters": [
                    f"Unknown filter(s): {', '.join(unknown)}. "
                    f"This report accepts: {', '.join(sorted(known)) or 'none'}."
                ]
            },
        )
    data = {
        **(setting.default_parameters or {}),
        **filters,
        "date_from": str(date_from),
        "date_to": str(date_to),
        "include_rows": include_rows,
    }
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
    stored = dict(serializer.data)
    report = GeneratedReport.objects.create(
        template_key=template_key,
        format=format,
        parameters=stored,
        include_rows=bool(stored.get("include_rows", include_rows)),
        status=Status.QUEUED,
        requested_by_id=requested_by_id,
        requested_by_label=requested_by_label,
        lease_expires_at=timezone.now() + dt.timedelta(seconds=QUEUE_GRACE_SECONDS),
    )
    audit_record(
        action="create",
        object_type="reports",
        object_id=report.pk,
        detail={"template": template_key, "format": format},
    )
    if enqueue:
        _enqueue_on_commit(report.pk)
    return report


def _enqueue_on_commit(report_id: uuid.UUID) -> None:
    code = current_hospital().code

    def send() -> None:
        from hospitium.reports.tasks import generate_report

        generate_report(code, str(report_id))

    transaction.on_commit(send, using=_write_alias())


# -- cancel and delete -------------------------------------------------------------------------


@atomic_service(_write_alias)
def report_cancel(*, report: GeneratedReport) -> GeneratedReport:
    """Cancel a queued or running report (a running worker notices at its next progress
    report and stops). Raises BusinessRuleViolation for a finished one."""
    cancelled = GeneratedReport.objects.filter(
        pk=report.pk, status__in=[Status.QUEUED, Status.GENERATING]
    ).update(status=Status.CANCELLED, finished_at=timezone.now(), lease_expires_at=None)
    if not cancelled:
        current = GeneratedReport.objects.get(pk=report.pk)
        raise BusinessRuleViolation(
            f"Only a queued or running report can be cancelled; this one is {current.status}."
        )
    audit_record(
        action="update", object_type="reports", object_id=report.pk, detail={"status": "cancelled"}
    )
    return GeneratedReport.objects.get(pk=report.pk)


def report_delete(*, report: GeneratedReport) -> None:
    """Cancel a running report, or delete a finished one and its file."""
    if report.is_running:
        try:
            report_cancel(report=report)
            return
        except BusinessRuleViolation:
            report.refresh_from_db()
    if report.storage_key and not files.delete(report.storage_key):
        raise ReportStorageUnavailable(
            "The report's file could not be deleted from storage; please try again shortly."
        )
    _delete_row(report=report)


@atomic_service(_write_alias)
def _delete_row(*, report: GeneratedReport) -> None:
    GeneratedReport.objects.filter(pk=report.pk).delete()
    audit_record(action="delete", object_type="reports", object_id=report.pk)


# -- download --------------------------------------------------------------------------------


@dataclass
class Download:
    chunks: Iterator[bytes]
    filename: str
    content_type: str
    size: int | None
    regenerated: bool


def download_filename(report: GeneratedReport, extension: str) -> str:
    params = report.parameters or {}
    span = f"{params.get('date_from', '')}_{params.get('date_to', '')}".strip("_")
    safe = "".join(c for c in span if c.isalnum() or c in "-_")
    return f"{report.template_key}_{safe or report.pk}.{extension}"


def downloadable_format(report: Any) -> ReportFormat:
    """The format of a report (a hospital's or a fleet report) whose file may be downloaded.

    Raises ReportExpired once expired, ReportNotReady while queued or generating,
    BusinessRuleViolation for a failed or cancelled report or a format no longer registered.
    """
    if report.status == Status.EXPIRED:
        raise ReportExpired(
            f"This report expired on {report.expires_at:%Y-%m-%d}; generate it again."
            if report.expires_at
            else None
        )
    if report.is_running:
        raise ReportNotReady(f"The report is {report.status} ({report.progress} %); try shortly.")
    if report.status != Status.COMPLETED:
        reason = f": {report.error_message}" if report.error_message else "."
        raise BusinessRuleViolation(f"This report is {report.status} and has no file{reason}")
    fmt = registry.formats().get(report.format)
    if fmt is None:
        raise BusinessRuleViolation(f"The format {report.format!r} is no longer available.")
    return fmt


def report_download(
    *, report: GeneratedReport, user_id: int | None, ip: str | None, via: str = "api"
) -> Download:
    """Stream a completed report's file; a missing or unreadable file is rebuilt from the
    saved parameters, stored again and served. Each download is counted and logged.

    Raises ReportNotReady while it is queued or generating, ReportExpired once expired,
    BusinessRuleViolation for a failed or cancelled report, ReportStorageUnavailable when the
    file can neither be read nor rebuilt.
    """
    fmt = downloadable_format(report)
    regenerated = False
    size: int | None = report.size
    try:
        chunks = files.open_checked(report.storage_key, report.size)
    except Exception as exc:
        logger.warning(
            "report %s: file %s missing or unreadable (%r); regenerating",
            report.pk,
            report.storage_key,
            exc,
        )
        chunks, size = _regenerate(report)
        regenerated = True
    _record_download(report=report, user_id=user_id, ip=ip, via=via, regenerated=regenerated)
    return Download(
        chunks=chunks,
        filename=download_filename(report, fmt.extension),
        content_type=fmt.content_type,
        size=size,
        regenerated=regenerated,
    )


def _regenerate(report: GeneratedReport) -> tuple[Iterator[bytes], int]:
    try:
        built = build_file(report)
    except HospitiumError:
        raise
    except Exception as exc:
        logger.exception("report %s could not be regenerated", report.pk, exc_info=exc)
        raise ReportStorageUnavailable(
            "The report's file could not be read and could not be rebuilt; "
            "please generate the report again."
        ) from exc
    key = files.storage_key(
        current_hospital().code, report.pk, report.storage_key.rsplit(".", 1)[-1]
    )
    try:
        name = files.store(key, built)
    except ReportStorageUnavailable:
        logger.error("report %s regenerated but not stored again; served from memory", report.pk)
    else:
        GeneratedReport.objects.filter(pk=report.pk).update(
            storage_key=name, size=built.size, sha256=built.sha256, row_count=built.row_count
        )
        logger.warning("report %s regenerated and stored again as %s", report.pk, name)
    return files.local_chunks(built), built.size


def _record_download(
    *, report: GeneratedReport, user_id: int | None, ip: str | None, via: str, regenerated: bool
) -> None:
    logger.info(
        "report %s downloaded by user %s from %s via %s%s",
        report.pk,
        user_id,
        ip or "-",
        via,
        " (regenerated)" if regenerated else "",
    )
    if current_hospital().read_only:
        return
    with transaction.atomic(using=_write_alias()):
        ReportDownload.objects.create(
            report=report,
            user_id=user_id,
            at=timezone.now(),
            ip=ip,
            via=via,
            regenerated=regenerated,
        )
        GeneratedReport.objects.filter(pk=report.pk).update(download_count=F("download_count") + 1)
        audit_record(
            action="export",
            object_type="reports",
            object_id=report.pk,
            detail={"via": via, "regenerated": regenerated},
        )


# -- signed links ----------------------------------------------------------------------------


def report_download_link(*, report: GeneratedReport, user_id: int | None) -> str:
    """A download URL that works without signing in, for a short time (5 minutes)."""
    token = signing.dumps(
        {"h": current_hospital().code, "r": str(report.pk), "u": user_id}, salt=LINK_SALT
    )
    return f"/api/reports/generated/{report.pk}/download/?signature={token}"


def report_link_verify(*, token: str, report_id: str) -> int | None:
    """The user id a valid link was made for. Raises PermissionRefused for an expired link and
    NotFound for a forged one or one made for another report or hospital."""
    try:
        payload = signing.loads(
            token, salt=LINK_SALT, max_age=settings.HOSPITIUM_REPORT_LINK_SECONDS
        )
    except signing.SignatureExpired:
        raise PermissionRefused("This download link has expired; ask for a new one.") from None
    except signing.BadSignature:
        raise NotFound("No such report.") from None
    if payload.get("h") != current_hospital().code or payload.get("r") != str(report_id):
        raise NotFound("No such report.")
    user_id = payload.get("u")
    return int(user_id) if user_id is not None else None


# -- periodic work (current hospital) -----------------------------------------------------------


@dataclass
class SweepResult:
    requeued: int = 0
    failed: int = 0


def reports_sweep(*, now: dt.datetime | None = None) -> SweepResult:
    """Recover reports whose worker died (lease expired) or whose task was lost: re-queue them,
    or fail them after MAX_ATTEMPTS, so nothing stays queued or generating forever."""
    now = now or timezone.now()
    result = SweepResult()
    stale = GeneratedReport.objects.filter(
        status__in=[Status.QUEUED, Status.GENERATING], lease_expires_at__lt=now
    ).values_list("pk", "status", "attempts", "created_at")
    for pk, status, attempts, created_at in list(stale):
        mine = GeneratedReport.objects.filter(
            pk=pk, status=status, attempts=attempts, lease_expires_at__lt=now
        )
        gave_up = attempts >= MAX_ATTEMPTS if status == Status.GENERATING else False
        if status == Status.QUEUED and now - created_at > QUEUE_GIVE_UP:
            gave_up = True
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
                logger.error("report %s failed by the sweeper (%s)", pk, status)
            continue
        with transaction.atomic(using=_write_alias()):
            if mine.update(
                status=Status.QUEUED,
                progress=0,
                lease_expires_at=now + dt.timedelta(seconds=QUEUE_GRACE_SECONDS),
            ):
                result.requeued += 1
                logger.warning("report %s re-queued by the sweeper (was %s)", pk, status)
                _enqueue_on_commit(pk)
    return result


def reports_expire(*, now: dt.datetime | None = None) -> int:
    """Delete the files of completed reports past the hospital's retention and mark them
    expired. A file storage refuses to delete is kept for the next run. Returns the count."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(days=retention_days())
    due = GeneratedReport.objects.filter(status=Status.COMPLETED).filter(
        Q(expires_at__lt=now) | Q(finished_at__lt=cutoff)
    )
    expired = 0
    for pk, key in list(due.values_list("pk", "storage_key")[:5000]):
        if not files.delete(key):
            continue
        expired += GeneratedReport.objects.filter(pk=pk, status=Status.COMPLETED).update(
            status=Status.EXPIRED, storage_key="", expires_at=now
        )
    if expired:
        logger.info("%d report(s) of %s expired", expired, current_hospital().code)
    return expired
