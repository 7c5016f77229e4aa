"""Visit trends: medical and dental visits per month, peak days, hour-of-day distribution."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from rest_framework import serializers

from hospitium.encounters.models import Visit
from hospitium.patients.models import Patient
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
    local_zone,
    month_label,
    month_starts,
    period_bounds,
    streamed,
)
from hospitium.reports.timebuckets import LocalHourCounts, counts_by_local_hour
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
        # Counted on the kind (never null), not the id: the period index carries the kind and
        # the void mark, so the scan below reads that index alone (encounters/0005).
        by_kind = {
            "medical": Count("kind", filter=Q(kind=MEDICAL)),
            "dental": Count("kind", filter=Q(kind=DENTAL)),
        }
        # The visits of each local hour; the months, the busiest days, the hours of the day and
        # the totals are sums of those hours. Three groupings (months, days, hours) plus the
        # totals' own took 2-3 times as long over a million visits (docs/benchmarks.md).
        hours = counts_by_local_hour(
            visits, "started_at", by_kind, start=start, end=end, zone=local_zone()
        )
        per_day, per_hour = _by_day_and_hour(hours)
        medical_total = sum(medical for medical, _ in per_day.values())
        dental_total = sum(dental for _, dental in per_day.values())
        per_month: dict[dt.date, tuple[int, int]] = {}
        for day, (medical, dental) in per_day.items():
            m, d = per_month.get(day.replace(day=1), (0, 0))
            per_month[day.replace(day=1)] = (m + medical, d + dental)
        days = (params["date_to"] - params["date_from"]).days + 1
        total = medical_total + dental_total
        figures = [
            Figure("visits_total", "Visits", total, "visits"),
            Figure("visits_medical", "Medical visits", medical_total, "visits"),
            Figure("visits_dental", "Dental visits", dental_total, "visits"),
            Figure("patients_seen", "Patients seen", patients_seen(visits, total), "patients"),
            Figure("visits_per_day", "Visits per day", round(total / days, 2), "visits"),
        ]

        months = month_starts(params["date_from"], params["date_to"])
        no_visits = (0, 0)
        monthly = Series(
            "visits_per_month",
            "Visits per month",
            "line",
            [month_label(m) for m in months],
            {
                "medical": [per_month.get(m, no_visits)[0] for m in months],
                "dental": [per_month.get(m, no_visits)[1] for m in months],
            },
        )

        peaks = sorted(
            (
                (day, medical, dental, medical + dental)
                for day, (medical, dental) in per_day.items()
            ),
            key=lambda row: (-row[3], row[0]),
        )[:PEAK_DAYS]
        peak_days = Table(
            "peak_days",
            f"Busiest days (top {PEAK_DAYS})",
            ["Date", "Medical", "Dental", "Total"],
            [list(row) for row in peaks],
        )

        by_hour = Series(
            "visits_by_hour",
            "Visits by hour of the day",
            "bar",
            [f"{hour:02d}:00" for hour in range(24)],
            {"visits": per_hour},
        )

        return ReportData(
            meta=meta,
            figures=figures,
            tables=[peak_days],
            series=[monthly, by_hour],
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


#: Visits per patient of the hospital below which the patients seen are counted from the visits
#: (``DISTINCT``) rather than probed patient by patient. On the 1M-visit hospital (135,000
#: patients) the probes took ~0.16 s whatever the period, the distinct count ~3.5 µs a visit:
#: 0.008 s for 4 days (4,281 visits), 0.15 s for a month (43,038), 3.7 s for two years.
DISTINCT_BELOW = 1 / 3


def patients_seen(visits: QuerySet[Visit], total: int | None = None) -> int:
    """How many patients the visits are of; ``total``, if known, is how many visits they are.

    A short period (fewer than ``DISTINCT_BELOW`` visits per patient of the hospital) counts
    the distinct patients of its visits. Otherwise, and when ``total`` is not given, it counts
    the patients with at least one of the visits (a probe of the visit index ``(patient,
    started_at)`` per patient) rather than ``COUNT(DISTINCT patient_id)``, which sorts the
    patient ids of every visit: over a million visits of 135,000 patients the probes took a
    fraction of the sort's time (docs/benchmarks.md).
    """
    if total == 0:
        return 0
    if total is not None and total < DISTINCT_BELOW * Patient._base_manager.count():
        return visits.order_by().values("patient_id").distinct().count()
    return (
        Patient._base_manager.filter(Exists(visits.filter(patient_id=OuterRef("pk"))))
        .order_by()
        .count()
    )


def _by_day_and_hour(
    hours: LocalHourCounts,
) -> tuple[dict[dt.date, tuple[int, int]], list[int]]:
    """The (medical, dental) counts of each local day, and the visits of each hour of the day,
    from the (medical, dental) counts of each local hour."""
    per_day: dict[dt.date, tuple[int, int]] = {}
    per_hour = [0] * 24
    for (day, hour), (medical, dental) in hours.items():
        m, d = per_day.get(day, (0, 0))
        per_day[day] = (m + medical, d + dental)
        per_hour[hour] += medical + dental
    return per_day, per_hour


TEMPLATE = VisitTrends()
