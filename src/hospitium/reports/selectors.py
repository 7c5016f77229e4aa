"""Reads of reports, always in the current hospital's store, with the access rule applied:
everyone sees their own reports; admins and analysts (and platform superusers) see all; a report
with patient-level rows only whoever may read them (the "report-rows" row of the matrix)."""

from __future__ import annotations

import math
import uuid
from collections.abc import Collection
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Avg, Count, QuerySet, Sum

from hospitium.accounts.roles import READ, allowed
from hospitium.core.errors import NotFound
from hospitium.reports.models import GeneratedReport, ReportDownload


def sees_all(roles: frozenset[str] | set[str]) -> bool:
    return "*" in roles or allowed("reports", READ, roles)


def reads_rows(roles: Collection[str]) -> bool:
    """Whether ``roles`` may read a report's patient-level rows (``include_rows``)."""
    return "*" in roles or allowed("report-rows", READ, set(roles))


def report_list(
    *, user_id: int | None, roles: frozenset[str] | set[str]
) -> QuerySet[GeneratedReport]:
    reports = GeneratedReport.objects.all()
    if not reads_rows(roles):
        reports = reports.filter(include_rows=False)
    if sees_all(roles):
        return reports
    return reports.filter(requested_by_id=user_id) if user_id is not None else reports.none()


def report_get(
    *, report_id: uuid.UUID | str, user_id: int | None, roles: frozenset[str] | set[str]
) -> GeneratedReport:
    """A report the user may see; NotFound otherwise (also for another hospital's id)."""
    try:
        return report_list(user_id=user_id, roles=roles).get(pk=report_id)
    except (GeneratedReport.DoesNotExist, ValidationError, ValueError, TypeError):
        raise NotFound("No such report.") from None


def report_by_id(report_id: uuid.UUID | str) -> GeneratedReport:
    """Any report of the current hospital (signed links, tasks); NotFound otherwise."""
    return report_get(report_id=report_id, user_id=None, roles={"*"})


def _percentile(values: QuerySet[GeneratedReport], fraction: float) -> int | None:
    """The nearest-rank percentile of duration_ms, computed by the database (one row read)."""
    ordered = values.exclude(duration_ms__isnull=True).order_by("duration_ms")
    n = ordered.count()
    if not n:
        return None
    rank = max(1, math.ceil(fraction * n))
    return ordered.values_list("duration_ms", flat=True)[rank - 1]


def report_dashboard(*, recent: int = 10) -> dict[str, Any]:
    """The hospital's report figures: by status, template and format; generation time
    (average, 95th percentile); error rate; downloads; storage used; recent activity."""
    reports = GeneratedReport.objects.all()
    by_status = {
        row["status"]: row["n"] for row in reports.values("status").annotate(n=Count("pk"))
    }
    statuses = {status: by_status.get(status, 0) for status in GeneratedReport.Status.values}
    popular = list(
        reports.values("template_key")
        .annotate(count=Count("pk"))
        .order_by("-count", "template_key")[:10]
    )
    formats = {
        row["format"]: row["n"]
        for row in reports.values("format").annotate(n=Count("pk")).order_by("format")
    }
    completed = reports.filter(status__in=["completed", "expired"])
    timing = completed.aggregate(avg=Avg("duration_ms"))
    finished = statuses["completed"] + statuses["expired"] + statuses["failed"]
    storage = reports.filter(status="completed").aggregate(bytes=Sum("size"), files=Count("pk"))
    recent_rows = [
        {
            "id": str(row["id"]),
            "template_key": row["template_key"],
            "format": row["format"],
            "status": row["status"],
            "requested_by": row["requested_by_label"],
            "created_at": row["created_at"],
        }
        for row in reports.order_by("-created_at").values(
            "id", "template_key", "format", "status", "requested_by_label", "created_at"
        )[:recent]
    ]
    return {
        "total": sum(statuses.values()),
        "by_status": statuses,
        "popular_templates": popular,
        "formats": formats,
        "generation_ms": {
            "average": round(timing["avg"]) if timing["avg"] is not None else None,
            "p95": _percentile(completed, 0.95),
        },
        "error_rate": round(statuses["failed"] / finished, 4) if finished else 0.0,
        "downloads": {
            "total": ReportDownload.objects.count(),
            "regenerated": ReportDownload.objects.filter(regenerated=True).count(),
        },
        "storage": {"bytes": storage["bytes"] or 0, "files": storage["files"]},
        "recent": recent_rows,
    }
