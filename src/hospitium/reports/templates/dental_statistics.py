"""Dental statistics: dental visits, the top procedures of their treatments, monthly trends."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q, QuerySet

from hospitium.encounters.models import Treatment, Visit
from hospitium.reports.base import (
    Figure,
    Listing,
    ReportData,
    ReportMeta,
    ReportTemplate,
    Series,
    Table,
)
from hospitium.reports.templates.medical_statistics import (
    month_starts,
    per_month,
    percent,
    period_bounds,
    stream,
)

TOP_PROCEDURES = 20
SUCCESS = Q(outcome__in=[Treatment.Outcome.RESOLVED, Treatment.Outcome.IMPROVED])


def dental_visits(params: dict[str, Any]) -> QuerySet[Visit]:
    """Dental visits started in the period (voided ones hidden by the manager)."""
    start, end = period_bounds(params)
    return Visit.objects.filter(kind=Visit.Kind.DENTAL, started_at__gte=start, started_at__lt=end)


def dental_treatments(params: dict[str, Any]) -> QuerySet[Treatment]:
    """Treatments of (non-voided) dental visits performed in the period."""
    return Treatment.objects.filter(
        visit__kind=Visit.Kind.DENTAL,
        visit__voided_at__isnull=True,
        performed_on__gte=params["date_from"],
        performed_on__lte=params["date_to"],
    )


COLUMNS = [
    "id",
    "performed_on",
    "visit__started_at",
    "visit__patient__mrn",
    "visit__practitioner__display_name",
    "procedure",
    "outcome",
]
HEADERS = [
    "Treatment",
    "Performed on",
    "Visit started",
    "Patient MRN",
    "Dentist",
    "Procedure",
    "Outcome",
]


class DentalStatistics(ReportTemplate):
    key = "dental_statistics"
    title = "Dental statistics"
    description = "Dental visits, their most frequent procedures and monthly trends."
    # Same trade-off as the medical statistics: past periods are stable, an hour of cache keeps
    # repeated runs cheap and today's visits appear within the hour.
    cache_seconds = 3600

    def build(self, params: dict[str, Any], meta: ReportMeta) -> ReportData:
        visits = dental_visits(params)
        treatments = dental_treatments(params)
        totals = visits.aggregate(visits=Count("pk"), patients=Count("patient", distinct=True))
        treated = treatments.aggregate(
            n=Count("pk"),
            success=Count("pk", filter=SUCCESS),
            recorded=Count("pk", filter=~Q(outcome="")),
        )
        top = list(
            treatments.order_by()
            .values("procedure")
            .annotate(n=Count("pk"), success=Count("pk", filter=SUCCESS))
            .order_by("-n", "procedure")[:TOP_PROCEDURES]
        )
        months = month_starts(params["date_from"], params["date_to"])
        period = period_bounds(params)
        visit_months = per_month(visits, "started_at", period)
        treatment_months = per_month(treatments, "performed_on", period)

        data = ReportData(meta=meta)
        data.figures = [
            Figure("dental_visits", "Dental visits", totals["visits"], "visits"),
            Figure("dental_patients", "Patients seen", totals["patients"], "patients"),
            Figure("dental_treatments", "Dental procedures performed", treated["n"], "procedures"),
            Figure(
                "procedures_per_visit",
                "Procedures per visit",
                round(treated["n"] / totals["visits"], 2) if totals["visits"] else None,
            ),
            Figure(
                "dental_success_rate",
                "Success rate (resolved + improved, of recorded outcomes)",
                percent(treated["success"], treated["recorded"]),
                "%",
            ),
        ]
        data.tables = [
            Table(
                "top_procedures",
                f"Top {TOP_PROCEDURES} dental procedures",
                ["Procedure", "Performed", "Share %", "Resolved or improved"],
                [
                    [row["procedure"], row["n"], percent(row["n"], treated["n"]), row["success"]]
                    for row in top
                ],
            )
        ]
        data.series = [
            Series(
                "dental_trends",
                "Dental visits and procedures per month",
                "line",
                [m.strftime("%Y-%m") for m in months],
                {
                    "Dental visits": [visit_months.get(m, 0) for m in months],
                    "Procedures": [treatment_months.get(m, 0) for m in months],
                },
            )
        ]
        if params.get("include_rows"):
            data.listings = [
                Listing(
                    "dental_treatments",
                    "Dental procedures of the period",
                    HEADERS,
                    lambda: stream(treatments.order_by("performed_on", "pk"), COLUMNS),
                )
            ]
        return data


TEMPLATE = DentalStatistics()
