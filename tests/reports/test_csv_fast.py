"""The CSV fast path (listings as display-ready text computed by the database, read in chunks by a
raw cursor: ``streaming.text_listing``) writes exactly the file the general path writes
(``listing_values`` + the csv module), around daylight-saving changes of the reporting zone, for
datetimes outside the SQL window, microseconds, empty values and text the csv module must quote.
On PostgreSQL the fast path does not apply and the general path is used."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from hospitium.billing.models import InvoiceLine
from hospitium.encounters.models import Treatment, Visit
from hospitium.patients.models import Patient
from hospitium.reports.base import Listing, ReportData, ReportMeta, ReportTemplate
from hospitium.reports.formats.csv import FORMAT as CSV
from hospitium.reports.streaming import listing_values, text_listing
from hospitium.reports.templates.patient_summary import TEMPLATE as PATIENT_SUMMARY
from hospitium.reports.templates.treatment_outcomes import TEMPLATE as TREATMENT_OUTCOMES
from hospitium.reports.templates.visit_trends import TEMPLATE as VISIT_TRENDS
from hospitium.tenancy.context import hospital_context
from hospitium.tenancy.models import Hospital
from tests import factories, storehelp

DATE_FROM = dt.date(2024, 9, 1)
DATE_TO = dt.date(2025, 4, 30)
#: Zones with their daylight-saving changes inside the period (Lord Howe: half an hour), and two
#: without any.
ZONES = ["Europe/Paris", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata", "UTC"]
TEXTS = ["", "Toux, fièvre", 'Says "ouch"', "Line one\nline two", "Кашель 咳嗽", " padded "]


def _changes(zone: ZoneInfo) -> list[dt.datetime]:
    """The UTC instants at which the zone's offset changes inside the period (by the hour)."""
    found = []
    at = dt.datetime.combine(DATE_FROM, dt.time.min, tzinfo=dt.UTC)
    end = dt.datetime.combine(DATE_TO, dt.time.min, tzinfo=dt.UTC)
    while at < end:
        following = at + dt.timedelta(minutes=30)
        if at.astimezone(zone).utcoffset() != following.astimezone(zone).utcoffset():
            found.append(following)
        at = following
    return found


def _fill(zone: ZoneInfo) -> int:
    """Patients registered and visits (with treatments) made on both sides of each change of ``zone``, with and without
    microseconds, open, and ending far outside the SQL window; returns how many visits."""
    department = factories.department(name="Urgences, Nord")
    doctor = factories.practitioner(department=department, display_name='Dr "Zoë" Marchand')
    instants = [
        dt.datetime(2024, 9, 1, 12, 0, tzinfo=dt.UTC),
        dt.datetime(2024, 12, 31, 23, 59, 59, 999999, tzinfo=dt.UTC),
        dt.datetime(2025, 1, 15, 6, 0, 0, 1, tzinfo=dt.UTC),
        dt.datetime(2025, 4, 29, 18, 45, tzinfo=dt.UTC),
    ]
    for change in _changes(zone):
        for delta in (
            dt.timedelta(hours=-1, seconds=-1),
            dt.timedelta(seconds=-1),
            dt.timedelta(microseconds=-1),
            dt.timedelta(0),
            dt.timedelta(microseconds=250),
            dt.timedelta(minutes=30),
            dt.timedelta(hours=1),
        ):
            instants.append(change + delta)
    ends: list[dt.timedelta | None] = [
        dt.timedelta(minutes=20),
        None,
        dt.timedelta(hours=2, microseconds=123456),
        dt.timedelta(days=365 * 50),  # 2075: outside the window computed in SQL
    ]
    # Inserted latest first, so that the files' order comes from the ORDER BY, not the storage.
    for n, start in enumerate(reversed(instants)):
        end = ends[n % len(ends)]
        patient = factories.patient(family_name=TEXTS[n % len(TEXTS)] or "Durand")
        Patient.objects.filter(pk=patient.pk).update(created_at=start)  # registered then
        visit = Visit.objects.create(
            patient=patient,
            practitioner=doctor,
            kind="dental" if n % 3 == 0 else "medical",
            started_at=start,
            ended_at=start + end if end is not None else None,
            chief_complaint=TEXTS[n % len(TEXTS)],
        )
        Treatment.objects.create(
            visit=visit,
            procedure=TEXTS[(n + 1) % len(TEXTS)] or "Check-up",
            performed_on=start.astimezone(zone).date(),
            outcome="resolved" if n % 2 else "improved",
            follow_up_required=bool(n % 2),
            follow_up_date=start.astimezone(zone).date() + dt.timedelta(days=7) if n % 2 else None,
        )
    return len(instants)


def _build(template: ReportTemplate, hospital: Hospital) -> ReportData:
    data = {"date_from": DATE_FROM.isoformat(), "date_to": DATE_TO.isoformat()}
    serializer = template.parameters(data={**data, "include_rows": True})
    assert serializer.is_valid(), serializer.errors
    meta = ReportMeta(
        hospital_code=hospital.code,
        hospital_name=hospital.name,
        template_key=template.key,
        title=template.title,
        period_start=DATE_FROM,
        period_end=DATE_TO,
        filters={},
        generated_by="tests",
        generated_at=timezone.now(),
    )
    with hospital_context(hospital):
        return template.build(dict(serializer.validated_data), meta)


def _general(data: ReportData) -> ReportData:
    """The same report with its listings stripped of the fast path."""

    def plain(listing: Listing) -> Listing:
        rows = listing.rows
        return Listing(listing.key, listing.title, listing.columns, lambda: rows())

    general = ReportData(data.meta, data.figures, data.tables, data.series)
    general.listings = [plain(listing) for listing in data.listings]
    assert all(listing.text_chunks is None for listing in general.listings)
    return general


def _csv(data: ReportData) -> tuple[bytes, int]:
    out = io.BytesIO()
    count = CSV.write(data, out)
    return out.getvalue(), count


@pytest.mark.parametrize("zone_name", ZONES)
@pytest.mark.parametrize("template", [VISIT_TRENDS, TREATMENT_OUTCOMES, PATIENT_SUMMARY])
def test_fast_path_file_equals_the_general_path_file(
    hospital_a: Hospital, settings: Any, zone_name: str, template: ReportTemplate
) -> None:
    settings.TIME_ZONE = zone_name
    zone = ZoneInfo(zone_name)
    with hospital_context(hospital_a):
        visits = _fill(zone)
    data = _build(template, hospital_a)
    listing = data.listings[0]
    assert listing.text_chunks is not None
    chunks = listing.text_chunks()
    if storehelp.on_postgres():
        assert chunks is None  # the general path writes the file
    else:
        assert chunks is not None
        assert sum(len(chunk) for chunk in chunks) > 0
    fast, fast_count = _csv(data)
    general, general_count = _csv(_general(data))
    assert fast == general
    assert fast_count == general_count
    if template is VISIT_TRENDS:
        assert fast_count == visits
        text = fast.decode("utf-8-sig")
        # both offsets of a zone with changes are written, each at the right instants
        offsets = {str(dt.datetime(2024, 12, 1, tzinfo=dt.UTC).astimezone(zone))[19:]}
        offsets.add(str(dt.datetime(2024, 9, 2, tzinfo=dt.UTC).astimezone(zone))[19:])
        for offset in offsets:
            assert offset in text
        assert "2074-" in text or "2075-" in text  # the far end, outside the SQL window


@pytest.mark.parametrize("zone_name", ZONES)
def test_text_listing_rows_are_what_the_csv_module_writes_for_the_general_rows(
    hospital_a: Hospital, zone_name: str
) -> None:
    zone = ZoneInfo(zone_name)
    with hospital_context(hospital_a):
        _fill(zone)
        # before and after the window computed in SQL, at a change of each side
        doctor = factories.practitioner()
        patient = factories.patient()
        for start in (
            dt.datetime(1985, 3, 31, 0, 59, 59, tzinfo=dt.UTC),
            dt.datetime(1989, 12, 31, 23, 59, 59, 999999, tzinfo=dt.UTC),
            dt.datetime(1990, 1, 1, tzinfo=dt.UTC),
            dt.datetime(2059, 12, 31, 23, 59, 59, tzinfo=dt.UTC),
        ):
            Visit.objects.create(
                patient=patient, practitioner=doctor, started_at=start, ended_at=None
            )
        queryset = Visit.objects.order_by("started_at", "id").values_list(
            "id", "started_at", "ended_at", "kind", "patient__mrn", "chief_complaint"
        )
        plan = text_listing(queryset, zone)
        if storehelp.on_postgres():
            assert plan is None
            return
        assert plan is not None
        fast = [row for chunk in plan.chunks() for row in chunk]
        general = list(listing_values(queryset, zone))

    def written(rows: list[Any]) -> str:
        out = io.StringIO()
        csv.writer(out).writerows(rows)
        return out.getvalue()

    assert len(fast) == len(general) > 5
    assert written(fast) == written(general)
    assert all(isinstance(value, str) for value in fast[0][:2])  # text, no per-value objects


@pytest.mark.sqlite_only
def test_text_listing_does_not_apply_to_columns_it_cannot_format(hospital_a: Hospital) -> None:
    zone = ZoneInfo("Europe/Paris")
    with hospital_context(hospital_a):
        assert text_listing(Visit.objects.all(), zone) is None  # not a values_list
        assert text_listing(Visit.objects.values_list("patient"), zone) is not None  # its UUID
        assert text_listing(InvoiceLine.objects.values_list("id", "unit_price"), zone) is None
        assert text_listing(Visit.objects.values_list("id"), dt.UTC) is None  # not a ZoneInfo
