"""Feedback analysis: rating distribution, average rating by month, response-time statistics."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from typing import Any

from django.db.models import Avg, Count, Q, QuerySet

from hospitium.feedback.models import Feedback
from hospitium.reports.base import (
    Figure,
    Listing,
    ReportData,
    ReportMeta,
    ReportTemplate,
    Series,
)
from hospitium.reports.templates.patient_summary import (
    as_month,
    month_label,
    month_starts,
    percent,
    period_bounds,
    streamed,
    truncate_month,
)
from hospitium.reports.timebuckets import SecondsBetween

RATINGS = range(1, 6)
#: Seconds from submission to response, computed by the database (no per-row Python function).
RESPONSE_SECONDS = SecondsBetween("responded_at", "submitted_at")


def hours(value: dt.timedelta | float | None) -> float | None:
    """A duration (or a number of seconds) in hours, two decimals."""
    if value is None:
        return None
    seconds = value.total_seconds() if isinstance(value, dt.timedelta) else value
    return round(seconds / 3600, 2)


def quantile(ordered: QuerySet[Any, Any], count: int, fraction: float) -> Any:
    """The ``fraction`` quantile (linear interpolation between closest ranks, as numpy's default
    and ``statistics.quantiles(method="inclusive")``) of a one-column ordered queryset, fetching
    only the one or two rows it needs (OFFSET/LIMIT)."""
    if count == 0:
        return None
    position = fraction * (count - 1)
    low = math.floor(position)
    values = list(ordered[low : low + 2])
    if position == low or len(values) == 1:
        return values[0]
    first, second = values
    return first + (second - first) * (position - low)


class FeedbackAnalysis(ReportTemplate):
    """What patients think and how fast the hospital answers."""

    key = "feedback_analysis"
    title = "Feedback analysis"
    description = (
        "Rating distribution (1 to 5), average rating by month, and response-time statistics "
        "(responses, average, median and 95th percentile in hours)."
    )
    # Feedback trickles in a few times a day and responses within hours: 30 minutes keeps the
    # response-time figures useful to the team answering without recomputing on every view.
    cache_seconds = 1800

    def build(self, params: dict[str, Any], meta: ReportMeta) -> ReportData:
        start, end = period_bounds(params)
        # Feedback on a voided visit goes with the visit.
        feedback = Feedback.objects.filter(
            visit__voided_at__isnull=True, submitted_at__gte=start, submitted_at__lt=end
        )
        # One scan for the totals and the average response time (an unanswered feedback's
        # response time is NULL, which Avg leaves out).
        totals = feedback.aggregate(
            count=Count("id"),
            average=Avg("rating"),
            responded=Count("id", filter=Q(responded_at__isnull=False)),
            average_response=Avg(RESPONSE_SECONDS),
            **{f"r{rating}": Count("id", filter=Q(rating=rating)) for rating in RATINGS},
        )
        average_response = totals["average_response"]
        responded = feedback.filter(responded_at__isnull=False).annotate(
            response_time=RESPONSE_SECONDS
        )
        ordered = responded.order_by("response_time", "id").values_list("response_time", flat=True)
        count = totals["responded"]
        average = totals["average"]
        figures = [
            Figure("feedback_count", "Feedback received", totals["count"], "responses"),
            Figure(
                "rating_average",
                "Average rating",
                round(average, 2) if average is not None else None,
                "/ 5",
            ),
            Figure("responded_count", "Feedback answered", count, "responses"),
            Figure("response_rate", "Feedback answered (%)", percent(count, totals["count"]), "%"),
            Figure(
                "response_hours_average", "Average response time", hours(average_response), "hours"
            ),
            Figure(
                "response_hours_median",
                "Median response time",
                hours(quantile(ordered, count, 0.5)),
                "hours",
            ),
            Figure(
                "response_hours_p95",
                "95th percentile response time",
                hours(quantile(ordered, count, 0.95)),
                "hours",
            ),
        ]

        distribution = Series(
            "rating_distribution",
            "Rating distribution",
            "bar",
            [str(rating) for rating in RATINGS],
            {"feedback": [totals[f"r{rating}"] for rating in RATINGS]},
        )
        monthly = {
            as_month(month): value
            for month, value in feedback.annotate(month=truncate_month("submitted_at", start, end))
            .values("month")
            .annotate(average=Avg("rating"))
            .values_list("month", "average")
        }
        months = month_starts(params["date_from"], params["date_to"])
        # A month without feedback has no average (None): 0 would read as a terrible month.
        averages: list[Any] = [round(monthly[m], 2) if m in monthly else None for m in months]
        by_month = Series(
            "rating_by_month",
            "Average rating by month",
            "line",
            [month_label(m) for m in months],
            {"average": averages},
        )
        return ReportData(
            meta=meta,
            figures=figures,
            series=[distribution, by_month],
            listings=[self._listing(feedback)] if params.get("include_rows") else [],
        )

    def _listing(self, feedback: QuerySet[Feedback]) -> Listing:
        rows = feedback.order_by("submitted_at", "id").values_list(
            "id",
            "submitted_at",
            "rating",
            "visit__kind",
            "visit__patient__mrn",
            "visit__practitioner__department__name",
            "comment",
            "responded_at",
            "response",
        )

        def convert(row: Sequence[Any]) -> Sequence[Any]:
            # ids come as text and datetimes in the reporting zone (streamed)
            response = row[7] - row[1] if row[7] is not None else None
            return (*row[:8], hours(response), row[8])

        return Listing(
            "feedback",
            "Feedback of the period",
            [
                "Feedback",
                "Submitted at",
                "Rating",
                "Visit kind",
                "Patient MRN",
                "Department",
                "Comment",
                "Responded at",
                "Response time (hours)",
                "Response",
            ],
            streamed(rows, convert),
        )


TEMPLATE = FeedbackAnalysis()
