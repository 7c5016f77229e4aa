"""Comprehensive analytics: the headline figures of the other templates, user activity from the
audit log, bed occupancy, revenue and collections."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db.models import (
    Avg,
    Count,
    DateTimeField,
    DecimalField,
    DurationField,
    ExpressionWrapper,
    F,
    Max,
    Q,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, Greatest, Least
from django.utils import timezone

from hospitium.admissions.models import Admission, Bed
from hospitium.audit.models import AuditEvent
from hospitium.audit.selectors import events_since
from hospitium.billing.models import Invoice, InvoiceLine, Payment
from hospitium.billing.selectors import hospital_currency
from hospitium.campaigns.models import Participation
from hospitium.encounters.models import Treatment, Visit
from hospitium.feedback.models import Feedback
from hospitium.patients.models import Patient
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

TOP_ACTORS = 25
SUCCESS = Q(outcome__in=[Treatment.Outcome.RESOLVED, Treatment.Outcome.IMPROVED])
MONEY = DecimalField(max_digits=20, decimal_places=2)
DAY = dt.timedelta(days=1)


def _money(value: Decimal | float | None) -> float:
    return float(Decimal(str(value or 0)).quantize(Decimal("0.01")))


def bed_occupancy(start: dt.datetime, end: dt.datetime) -> tuple[float, float]:
    """(occupied bed-days, available bed-days) of active beds over ``[start, end)``.

    The period stops at now (the future is neither occupied nor available). Each admission
    overlapping it is clipped to it in SQL: from the later of admission and start to the earlier
    of discharge and end, an open admission lasting until the end.
    """
    # In UTC: elapsed time, so a day of a daylight-saving change counts its 23 or 25 hours.
    start = start.astimezone(dt.UTC)
    end = min(end, timezone.now()).astimezone(dt.UTC)
    if end <= start:
        return 0.0, 0.0
    beds = Bed.objects.filter(is_active=True).count()
    lo = Value(start, output_field=DateTimeField())
    hi = Value(end, output_field=DateTimeField())
    stays = Admission.objects.filter(
        Q(discharged_at__isnull=True) | Q(discharged_at__gt=start),
        bed__is_active=True,
        admitted_at__lt=end,
    )
    occupied = stays.order_by().aggregate(
        total=Sum(
            ExpressionWrapper(
                Least(Coalesce("discharged_at", hi), hi) - Greatest("admitted_at", lo),
                output_field=DurationField(),
            )
        )
    )["total"]
    occupied_days = (occupied or dt.timedelta(0)) / DAY
    return round(occupied_days, 2), round(beds * ((end - start) / DAY), 2)


def revenue(start: dt.datetime, end: dt.datetime) -> dict[str, float]:
    """Invoiced total (sum of lines) of issued, non-voided invoices issued in the period, by
    currency: amounts in different currencies are never added together."""
    rows = (
        InvoiceLine.objects.filter(
            invoice__status=Invoice.Status.ISSUED,
            invoice__voided_at__isnull=True,
            invoice__issued_at__gte=start,
            invoice__issued_at__lt=end,
        )
        .order_by()
        .values("invoice__currency")
        .annotate(total=Sum(ExpressionWrapper(F("quantity") * F("unit_price"), output_field=MONEY)))
    )
    return {row["invoice__currency"]: _money(row["total"]) for row in rows}


def payments(start: dt.datetime, end: dt.datetime) -> Any:
    """Non-voided payments (on non-voided invoices) made in the period."""
    return Payment.objects.filter(
        paid_at__gte=start, paid_at__lt=end, invoice__voided_at__isnull=True
    )


def collections(start: dt.datetime, end: dt.datetime) -> dict[str, tuple[float, int]]:
    """(amount, number) of the period's payments, by their invoice's currency."""
    rows = (
        payments(start, end)
        .order_by()
        .values("invoice__currency")
        .annotate(total=Sum("amount"), n=Count("pk"))
    )
    return {row["invoice__currency"]: (_money(row["total"]), row["n"]) for row in rows}


def money_by_currency(
    currency: str, invoiced: dict[str, float], collected: dict[str, tuple[float, int]]
) -> list[list[Any]]:
    """Rows of currency, invoiced, collected, payments: the hospital's ``currency`` first (even
    at zero), then any other found on older invoices, in code order."""
    others = sorted((set(invoiced) | set(collected)) - {currency})
    return [
        [code, invoiced.get(code, 0.0), *collected.get(code, (0.0, 0))]
        for code in [currency, *others]
    ]


COLUMNS = ["at", "actor_id", "actor_label", "action", "object_type", "object_id", "ip"]
HEADERS = ["At", "Actor id", "Actor", "Action", "Object type", "Object id", "IP"]


class ComprehensiveAnalytics(ReportTemplate):
    key = "comprehensive_analytics"
    title = "Comprehensive analytics"
    description = (
        "Headline figures of every report, user activity, bed occupancy, revenue and collections."
    )
    # The heaviest template (a dozen aggregates over most tables) and read as an overview:
    # 30 minutes of cache spares the database while occupancy and money stay reasonably fresh.
    cache_seconds = 1800

    def build(self, params: dict[str, Any], meta: ReportMeta) -> ReportData:
        start, end = period_bounds(params)
        patients = Patient.objects.aggregate(
            total=Count("pk", filter=Q(created_at__lt=end)),
            new=Count("pk", filter=Q(created_at__gte=start, created_at__lt=end)),
        )
        visits = Visit.objects.filter(started_at__gte=start, started_at__lt=end).aggregate(
            medical=Count("pk", filter=Q(kind=Visit.Kind.MEDICAL)),
            dental=Count("pk", filter=Q(kind=Visit.Kind.DENTAL)),
            patients=Count("patient", distinct=True),
        )
        treatments = Treatment.objects.filter(
            visit__voided_at__isnull=True,
            performed_on__gte=params["date_from"],
            performed_on__lte=params["date_to"],
        ).aggregate(
            n=Count("pk"),
            success=Count("pk", filter=SUCCESS),
            recorded=Count("pk", filter=~Q(outcome="")),
        )
        feedback = Feedback.objects.filter(
            submitted_at__gte=start, submitted_at__lt=end, visit__voided_at__isnull=True
        ).aggregate(n=Count("pk"), average=Avg("rating"))
        joined = Participation.objects.filter(joined_at__gte=start, joined_at__lt=end).count()
        # From the period's start on through the primary key (the log has no index on ``at``).
        events = events_since(AuditEvent.objects.filter(at__lt=end), start)
        by_action = list(
            events.order_by().values("action").annotate(n=Count("pk")).order_by("-n", "action")
        )
        by_actor = list(
            events.order_by()
            .values("actor_id")
            .annotate(n=Count("pk"), label=Max("actor_label"), last=Max("at"))
            .order_by("-n", "actor_id")[:TOP_ACTORS]
        )
        occupied, available = bed_occupancy(start, end)
        # The headline money figures are in the hospital's currency; invoices left in another
        # (made before the hospital had one) are shown apart, in the table by currency.
        currency = hospital_currency()
        money = money_by_currency(currency, revenue(start, end), collections(start, end))
        invoiced, collected = money[0][1], money[0][2]
        months = month_starts(params["date_from"], params["date_to"])
        visit_months = per_month(
            Visit.objects.filter(started_at__gte=start, started_at__lt=end),
            "started_at",
            (start, end),
        )
        event_months = per_month(events, "at", (start, end))

        data = ReportData(meta=meta)
        average = feedback["average"]
        data.figures = [
            Figure(
                "patients_total",
                "Patients registered (to the end of the period)",
                patients["total"],
                "patients",
            ),
            Figure("patients_new", "New patients in the period", patients["new"], "patients"),
            Figure("visits_medical", "Medical visits", visits["medical"], "visits"),
            Figure("visits_dental", "Dental visits", visits["dental"], "visits"),
            Figure("patients_seen", "Patients seen", visits["patients"], "patients"),
            Figure("treatments", "Treatments", treatments["n"], "treatments"),
            Figure(
                "treatment_success_rate",
                "Treatment success rate (resolved + improved, of recorded outcomes)",
                percent(treatments["success"], treatments["recorded"]),
                "%",
            ),
            Figure("feedback_count", "Feedback received", feedback["n"], "responses"),
            Figure(
                "average_rating",
                "Average rating",
                round(average, 2) if average is not None else None,
                "/ 5",
            ),
            Figure("campaign_participants", "Campaign participants joined", joined, "participants"),
            Figure("audit_events", "User actions logged", sum(r["n"] for r in by_action), "events"),
            Figure("occupied_bed_days", "Occupied bed-days", occupied, "bed-days"),
            Figure("available_bed_days", "Available bed-days", available, "bed-days"),
            Figure("bed_occupancy", "Bed occupancy", percent(occupied, available), "%"),
            Figure("revenue", "Revenue invoiced", invoiced, currency),
            Figure("collections", "Payments collected", collected, currency),
            Figure("payments", "Payments", sum(row[3] for row in money), "payments"),
            Figure("collection_rate", "Collected / invoiced", percent(collected, invoiced), "%"),
        ]
        data.tables = [
            Table(
                "money_by_currency",
                "Invoiced and collected by currency",
                ["Currency", "Invoiced", "Collected", "Payments"],
                money,
            ),
            Table(
                "activity_by_action",
                "User activity by action",
                ["Action", "Events"],
                [[row["action"], row["n"]] for row in by_action],
            ),
            Table(
                "activity_by_actor",
                f"User activity by actor (top {TOP_ACTORS})",
                ["Actor id", "Actor", "Events", "Last action"],
                [[row["actor_id"], row["label"], row["n"], row["last"]] for row in by_actor],
            ),
        ]
        data.series = [
            Series(
                "activity_per_month",
                "Visits and user actions per month",
                "line",
                [m.strftime("%Y-%m") for m in months],
                {
                    "Visits": [visit_months.get(m, 0) for m in months],
                    "User actions": [event_months.get(m, 0) for m in months],
                },
            )
        ]
        if params.get("include_rows"):
            data.listings = [
                Listing(
                    "audit_events",
                    "User activity of the period",
                    HEADERS,
                    # In the order of the ids, which is that of time (see AuditEvent): a
                    # walk of the primary key, where an order by ``at`` would sort.
                    lambda: stream(events.order_by("id"), COLUMNS),
                )
            ]
        return data


TEMPLATE = ComprehensiveAnalytics()
