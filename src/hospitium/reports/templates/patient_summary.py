"""Patient summary: totals, new registrations per month, active patients, age bands × sex.

Also home of the small helpers the other core templates share (period bounds in the hospital's
time zone, month labels, streamed listings).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Case, CharField, Count, Q, QuerySet, Value, When
from django.utils import timezone

from hospitium.encounters.models import Visit
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
from hospitium.reports.csvlines import CsvLines, csv_lines, reading_early, start_early
from hospitium.reports.streaming import listing_values
from hospitium.reports.timebuckets import LocalBucket
from hospitium.tenancy.context import current_hospital_or_none, hospital_context

# -- helpers shared by the core templates ----------------------------------------------------


def local_zone() -> ZoneInfo:
    """The hospital's reporting time zone (settings.TIME_ZONE)."""
    return ZoneInfo(settings.TIME_ZONE)


def period_bounds(params: dict[str, Any]) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) as aware datetimes: midnight of date_from to midnight after date_to, local."""
    zone = local_zone()
    start = dt.datetime.combine(params["date_from"], dt.time.min, tzinfo=zone)
    end = dt.datetime.combine(params["date_to"] + dt.timedelta(days=1), dt.time.min, tzinfo=zone)
    return start, end


def month_starts(date_from: dt.date, date_to: dt.date) -> list[dt.date]:
    """The first day of every month the period touches, in order."""
    months: list[dt.date] = []
    month = date_from.replace(day=1)
    while month <= date_to:
        months.append(month)
        month = (month + dt.timedelta(days=32)).replace(day=1)
    return months


def month_label(month: dt.date) -> str:
    return f"{month:%Y-%m}"


def truncate_month(field: str, start: dt.datetime, end: dt.datetime) -> LocalBucket:
    """The local month of a datetime column, as a date (first of the month), for a query
    filtered on ``[start, end)``."""
    return LocalBucket("month", field, start=start, end=end, zone=local_zone())


def as_month(value: dt.date | dt.datetime) -> dt.date:
    if isinstance(value, dt.datetime):
        value = value.date()
    return value.replace(day=1)


def percent(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 2) if whole else None


class StreamedRows:
    """A listing's ``rows`` callable over a ``values_list`` queryset, in the hospital that built
    the report (bound again while iterating, so a writer may run outside it): see ``streamed``."""

    def __init__(
        self,
        queryset: QuerySet[Any, Any],
        convert: Callable[[Sequence[Any]], Sequence[Any]] | None = None,
    ) -> None:
        self.queryset = queryset
        self.convert = convert
        self.ref = current_hospital_or_none()
        self.plan: CsvLines | None = None
        self.planned = False

    def _context(self) -> AbstractContextManager[Any]:
        return hospital_context(self.ref) if self.ref is not None else nullcontext()

    def __call__(self) -> Iterator[Sequence[Any]]:
        """The rows (datetimes aware in the reporting zone, UUIDs as text), then ``convert``."""
        with self._context():
            source = listing_values(self.queryset, local_zone())
            if self.convert is None:
                yield from source
            else:
                yield from map(self.convert, source)

    def _plan(self) -> CsvLines | None:
        if not self.planned:
            self.planned = True
            with self._context():
                self.plan = csv_lines(self.queryset, local_zone())
        return self.plan

    def start_early(self) -> None:
        """Start the CSV fast path's readers now, inside ``csvlines.early_readers`` (see
        ``streamed``). Raises as ``csvlines.CsvLines.start``."""
        if self.convert is None and reading_early() and (plan := self._plan()) is not None:
            with self._context():
                start_early(plan)

    def csv_chunks(self) -> Iterator[tuple[str, int]] | None:
        """The same rows as finished CSV lines built by the database, in chunks with their
        row counts (``csvlines.csv_lines``), or None when that path does not apply (a
        ``convert``, a store or a column type it does not handle)."""
        if self.convert is not None:
            return None
        plan = self._plan()
        if plan is None:
            return None

        def chunks() -> Iterator[tuple[str, int]]:
            with self._context():
                yield from plan.chunks()

        return chunks()


def streamed(
    queryset: QuerySet[Any, Any], convert: Callable[[Sequence[Any]], Sequence[Any]] | None = None
) -> StreamedRows:
    """A listing's ``rows`` callable: the values_list queryset streamed in chunks (datetimes in
    the reporting zone, UUIDs as text: see ``streaming.listing_values``), then ``convert``, in the
    hospital that built the report (bound again while iterating, so a writer may run outside
    it). Without ``convert`` it also offers ``csv_chunks`` (the CSV fast path), whose reader
    processes start at once inside ``csvlines.early_readers`` (a CSV report being generated:
    templates build their listing before their figures, which are computed meanwhile)."""
    rows = StreamedRows(queryset, convert)
    rows.start_early()
    return rows


def local_datetime(value: dt.datetime | None) -> dt.datetime | None:
    """An aware datetime in the reporting time zone (None stays None)."""
    return timezone.localtime(value, local_zone()) if value is not None else None


# -- the template ---------------------------------------------------------------------------

#: (label, lowest age in years) from the oldest band down; ages are at the end of the period.
AGE_BANDS: tuple[tuple[str, int], ...] = (
    ("80+", 80),
    ("65-79", 65),
    ("45-64", 45),
    ("25-44", 25),
    ("15-24", 15),
    ("5-14", 5),
    ("0-4", 0),
)
SEXES = tuple(value for value, _ in Patient.Sex.choices)


def years_before(day: dt.date, years: int) -> dt.date:
    """The same calendar day ``years`` earlier (29 February falls back to the 28th)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


class PatientSummary(ReportTemplate):
    """Who the hospital's patients are, and how many joined in the period."""

    key = "patient_summary"
    title = "Patient summary"
    description = (
        "Patient totals, new registrations per month, active patients (by status and seen in "
        "the period) and the age bands × sex of the patients registered by the end of the period."
    )
    # Registrations change slowly and the age table scans every patient: an hour is fresh enough
    # for a summary and spares the store repeated full scans.
    cache_seconds = 3600

    def build(self, params: dict[str, Any], meta: ReportMeta) -> ReportData:
        start, end = period_bounds(params)
        # The listing first: building it may start its CSV readers (csvlines.early_readers),
        # which then read while the figures below are computed.
        listings = [self._listing(start, end)] if params.get("include_rows") else []
        registered = Patient.objects.filter(created_at__lt=end)
        totals = registered.aggregate(
            total=Count("id"),
            new=Count("id", filter=Q(created_at__gte=start)),
            active=Count("id", filter=Q(status=Patient.Status.ACTIVE)),
            inactive=Count("id", filter=Q(status=Patient.Status.INACTIVE)),
            deceased=Count("id", filter=Q(status=Patient.Status.DECEASED)),
        )
        seen = (
            Visit.objects.filter(started_at__gte=start, started_at__lt=end)
            .values("patient_id")
            .distinct()
            .count()
        )
        figures = [
            Figure(
                "patients_total",
                "Patients registered by the end of the period",
                totals["total"],
                "patients",
            ),
            Figure("patients_new", "New registrations in the period", totals["new"], "patients"),
            Figure("patients_active", "Active patients (status)", totals["active"], "patients"),
            Figure("patients_inactive", "Inactive patients", totals["inactive"], "patients"),
            Figure("patients_deceased", "Deceased patients", totals["deceased"], "patients"),
            Figure("patients_seen", "Patients seen in the period", seen, "patients"),
        ]

        per_month = dict(
            Patient.objects.filter(created_at__gte=start, created_at__lt=end)
            .annotate(month=truncate_month("created_at", start, end))
            .values("month")
            .annotate(n=Count("id"))
            .values_list("month", "n")
        )
        counts = {as_month(month): n for month, n in per_month.items()}
        months = month_starts(params["date_from"], params["date_to"])
        registrations = Series(
            "registrations_per_month",
            "New registrations per month",
            "line",
            [month_label(m) for m in months],
            {"registrations": [counts.get(m, 0) for m in months]},
        )

        return ReportData(
            meta=meta,
            figures=figures,
            tables=[self._age_table(registered, params["date_to"])],
            series=[registrations],
            listings=listings,
        )

    def _age_table(self, registered: QuerySet[Patient], day: dt.date) -> Table:
        band = Case(
            *(
                When(birth_date__lte=years_before(day, low), then=Value(label))
                for label, low in AGE_BANDS[:-1]
            ),
            default=Value(AGE_BANDS[-1][0]),
            output_field=CharField(),
        )
        by_band: dict[str, dict[str, Any]] = {
            row["band"]: dict(row)
            for row in registered.annotate(band=band)
            .values("band")
            .annotate(total=Count("id"), **{sex: Count("id", filter=Q(sex=sex)) for sex in SEXES})
        }
        rows = []
        for label, _ in reversed(AGE_BANDS):
            row = by_band.get(label, {})
            rows.append([label, *(row.get(sex, 0) for sex in SEXES), row.get("total", 0)])
        return Table(
            "age_sex",
            "Age bands × sex (age at the end of the period)",
            ["Age band", *(label for _, label in Patient.Sex.choices), "Total"],
            rows,
        )

    def _listing(self, start: dt.datetime, end: dt.datetime) -> Listing:
        rows = (
            Patient.objects.filter(created_at__gte=start, created_at__lt=end)
            .order_by("created_at", "id")
            .values_list(
                "mrn", "family_name", "given_name", "birth_date", "sex", "status", "created_at"
            )
        )
        return Listing(
            "patients",
            "Patients registered in the period",
            ["MRN", "Family name", "Given name", "Birth date", "Sex", "Status", "Registered at"],
            streamed(rows),
        )


TEMPLATE = PatientSummary()
