"""Visit trends: medical and dental visits per month, peak days, hour-of-day distribution."""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import Count, Q, QuerySet
from rest_framework import serializers

from hospitium.encounters.models import Visit
from hospitium.reports.base import (
    BaseParameters,
    Figure,
    Listing,
    ReportData,
    ReportMeta,
    ReportTemplate,
    Series,
    Table,
)
from hospitium.reports.templates.patient_summary import (
    as_month,
    local_zone,
    month_label,
    month_starts,
    period_bounds,
    streamed,
    truncate_month,
)
from hospitium.reports.timebuckets import LocalBucket
from hospitium.staff.models import Department
from hospitium.tenancy.context import current_hospital_or_none

PEAK_DAYS = 10
MEDICAL, DENTAL = Visit.Kind.MEDICAL.value, Visit.Kind.DENTAL.value


def validate_department(value: uuid.UUID | None) -> uuid.UUID | None:
    """A department of the bound hospital (checked when a hospital is bound)."""
    if value is None or current_hospital_or_none() is None:
        return value
    if not Department.objects.filter(pk=value).exists():
        raise serializers.ValidationError("No department with this id in this hospital.")
    return value


class VisitTrendsParameters(BaseParameters):
    kind = serializers.ChoiceField(
        choices=[("both", "Medical and dental"), (MEDICAL, "Medical"), (DENTAL, "Dental")],
        default="both",
        error_messages={
            "invalid_choice": '"{input}" is not a visit kind: medical, dental or both.'
        },
    )
    department = serializers.UUIDField(
        required=False,
        allow_null=True,
        default=None,
        error_messages={"invalid": "A department is given by its id (a UUID)."},
    )

    def validate_department(self, value: uuid.UUID | None) -> uuid.UUID | None:
        return validate_department(value)


def period_visits(params: dict[str, Any]) -> QuerySet[Visit]:
    """The period's visits (voided ones hidden), with the kind and department filters."""
    start, end = period_bounds(params)
    visits = Visit.objects.filter(started_at__gte=start, started_at__lt=end)
    if params.get("kind") in (MEDICAL, DENTAL):
        visits = visits.filter(kind=params["kind"])
    if params.get("department"):
        visits = visits.filter(practitioner__department_id=params["department"])
    return visits


class VisitTrends(ReportTemplate):
    """How many visits, when: by month, by busiest day, by hour of the day."""

    key = "visit_trends"
    title = "Visit trends"
    description = (
        "Medical and dental visits per month, the busiest days of the period and the "
        "hour-of-day distribution; filters: visit kind and department."
    )
    parameters = VisitTrendsParameters
    # Visits are the busiest table and front-desk managers look at today's trend: 15 minutes
    # keeps the figures close to live while absorbing repeated dashboard refreshes.
    cache_seconds = 900

    def build(self, params: dict[str, Any], meta: ReportMeta) -> ReportData:
        visits = period_visits(params)
        # The listing first: building it may start its CSV readers (csvlines.early_readers),
        # which then read while the figures below are computed.
        listings = [self._listing(visits)] if params.get("include_rows") else []
        start, end = period_bounds(params)
        by_kind = {
            "medical": Count("id", filter=Q(kind=MEDICAL)),
            "dental": Count("id", filter=Q(kind=DENTAL)),
        }
        totals = visits.aggregate(
            total=Count("id"), patients=Count("patient_id", distinct=True), **by_kind
        )
        days = (params["date_to"] - params["date_from"]).days + 1
        figures = [
            Figure("visits_total", "Visits", totals["total"], "visits"),
            Figure("visits_medical", "Medical visits", totals["medical"], "visits"),
            Figure("visits_dental", "Dental visits", totals["dental"], "visits"),
            Figure("patients_seen", "Patients seen", totals["patients"], "patients"),
            Figure("visits_per_day", "Visits per day", round(totals["total"] / days, 2), "visits"),
        ]

        monthly = {
            as_month(row["month"]): row
            for row in visits.annotate(month=truncate_month("started_at", start, end))
            .values("month")
            .annotate(**by_kind)
            .values("month", "medical", "dental")
        }
        months = month_starts(params["date_from"], params["date_to"])
        per_month = Series(
            "visits_per_month",
            "Visits per month",
            "line",
            [month_label(m) for m in months],
            {
                "medical": [monthly[m]["medical"] if m in monthly else 0 for m in months],
                "dental": [monthly[m]["dental"] if m in monthly else 0 for m in months],
            },
        )

        peaks = (
            visits.annotate(
                day=LocalBucket("day", "started_at", start=start, end=end, zone=local_zone())
            )
            .values("day")
            .annotate(total=Count("id"), **by_kind)
            .order_by("-total", "day")
            .values_list("day", "medical", "dental", "total")[:PEAK_DAYS]
        )
        peak_days = Table(
            "peak_days",
            f"Busiest days (top {PEAK_DAYS})",
            ["Date", "Medical", "Dental", "Total"],
            [list(row) for row in peaks],
        )

        hourly = dict(
            visits.annotate(
                hour=LocalBucket("hour", "started_at", start=start, end=end, zone=local_zone())
            )
            .values("hour")
            .annotate(n=Count("id"))
            .values_list("hour", "n")
        )
        by_hour = Series(
            "visits_by_hour",
            "Visits by hour of the day",
            "bar",
            [f"{hour:02d}:00" for hour in range(24)],
            {"visits": [hourly.get(hour, 0) for hour in range(24)]},
        )

        return ReportData(
            meta=meta,
            figures=figures,
            tables=[peak_days],
            series=[per_month, by_hour],
            listings=listings,
        )

    def _listing(self, visits: QuerySet[Visit]) -> Listing:
        rows = visits.order_by("started_at", "id").values_list(
            "id",
            "started_at",
            "ended_at",
            "kind",
            "patient__mrn",
            "practitioner__display_name",
            "practitioner__department__name",
            "chief_complaint",
        )

        return Listing(
            "visits",
            "Visits of the period",
            [
                "Visit",
                "Started at",
                "Ended at",
                "Kind",
                "Patient MRN",
                "Practitioner",
                "Department",
                "Chief complaint",
            ],
            streamed(rows),
        )


TEMPLATE = VisitTrends()
