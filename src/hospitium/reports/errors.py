"""Errors of the reports subsystem, with stable codes and messages a user can act on."""

from __future__ import annotations

from hospitium.core.errors import Category, HospitiumError, PermissionRefused, Severity


class ReportError(HospitiumError):
    """A report could not be generated for a reason its requester can fix or retry."""

    code = "report_failed"
    category = Category.BUSINESS_RULE
    severity = Severity.WARNING
    default_message = "The report could not be generated."


class ReportRowsRefused(PermissionRefused):
    """The requester's roles may not read a report's patient-level rows (``include_rows``)."""

    code = "report_rows_forbidden"
    default_message = (
        "Your role may not include patient-level rows in a report; ask for it without "
        "include_rows to get its figures."
    )


class ReportNotReady(HospitiumError):
    code = "report_not_ready"
    category = Category.CONFLICT
    severity = Severity.INFO
    default_message = "The report is not ready yet."


class ReportExpired(HospitiumError):
    code = "report_expired"
    category = Category.BUSINESS_RULE
    severity = Severity.INFO
    status = 410
    default_message = "This report has expired; generate it again."


class ReportStorageUnavailable(HospitiumError):
    code = "report_storage_unavailable"
    category = Category.EXTERNAL
    severity = Severity.ERROR
    status = 503
    default_message = "The report storage is unavailable at the moment. Please try again shortly."


class ReportTransientError(Exception):
    """Raised by the generation task so that Huey retries it (storage or database hiccup)."""


class ReportReaderFailed(HospitiumError):
    """A reader process of a listing (the CSV fast path) ended before its work was done."""

    code = "report_reader_failed"
    category = Category.SYSTEM
    severity = Severity.ERROR
    default_message = "A reader of the report's rows stopped before the end. Please try again."
