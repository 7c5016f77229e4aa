"""The CSV fast path (finished CSV lines built by the database, read in slices by reader threads:
``csvlines.csv_lines``) writes exactly the file the general path writes (``listing_values`` +
the csv module), around daylight-saving changes of the reporting zone, for datetimes outside the
SQL window, microseconds, empty values and text the csv module must quote (or must not: leading
and trailing spaces, tabs, non-ASCII). On PostgreSQL the fast path does not apply and the
general path is used."""

from __future__ import annotations

import csv
import datetime as dt
import io
import sqlite3
import threading
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import OperationalError, connections, transaction
from django.utils import timezone

from hospitium.billing.models import InvoiceLine
from hospitium.encounters.models import Treatment, Visit
from hospitium.patients.models import Patient
from hospitium.reports import csvlines
from hospitium.reports.base import Listing, ReportData, ReportMeta, ReportTemplate
from hospitium.reports.csvlines import csv_lines
from hospitium.reports.formats.csv import FORMAT as CSV
from hospitium.reports.streaming import listing_values
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
TEXTS = [
    "",
    "Toux, fièvre",
    'Says "ouch"',
    "Line one\nline two",
    "Кашель 咳嗽",
    " padded ",
    '"',
    "carriage\rreturn",
    "crlf\r\nend",
    "\ttab, then 'single' quotes",
    "trailing ",
    "😀 emoji",
    '",\n',
]


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
    assert all(listing.csv_chunks is None for listing in general.listings)
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
    assert listing.csv_chunks is not None
    chunks = listing.csv_chunks()
    if storehelp.on_postgres():
        assert chunks is None  # the general path writes the file
    else:
        assert chunks is not None
        assert sum(rows for _text, rows in chunks) > 0
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


def _written(rows: list[Any]) -> str:
    """What the CSV format's csv module writes for these rows."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue()


def _lines(plan: csvlines.CsvLines) -> tuple[str, int]:
    chunks = list(plan.chunks())
    return "".join(text for text, _ in chunks), sum(rows for _, rows in chunks)


def _out_of_window_visits() -> None:
    """Visits before and after the window computed in SQL, at a change of each side."""
    doctor = factories.practitioner()
    patient = factories.patient()
    for start in (
        dt.datetime(1985, 3, 31, 0, 59, 59, tzinfo=dt.UTC),
        dt.datetime(1989, 12, 31, 23, 59, 59, 999999, tzinfo=dt.UTC),
        dt.datetime(1990, 1, 1, tzinfo=dt.UTC),
        dt.datetime(2059, 12, 31, 23, 59, 59, tzinfo=dt.UTC),
    ):
        Visit.objects.create(patient=patient, practitioner=doctor, started_at=start, ended_at=None)


VISIT_COLUMNS = ("id", "started_at", "ended_at", "kind", "patient__mrn", "chief_complaint")


@pytest.mark.parametrize("zone_name", ZONES)
@pytest.mark.parametrize(("ranges", "readers"), [(1, 0), (7, 2), (40, 1)])
def test_csv_lines_are_what_the_csv_module_writes_for_the_general_rows(
    hospital_a: Hospital, zone_name: str, ranges: int, readers: int
) -> None:
    zone = ZoneInfo(zone_name)
    with hospital_context(hospital_a):
        _fill(zone)
        _out_of_window_visits()
        queryset = Visit.objects.order_by("started_at", "id").values_list(*VISIT_COLUMNS)
        plan = csv_lines(queryset, zone, ranges=ranges, readers=readers)
        if storehelp.on_postgres():
            assert plan is None
            return
        assert plan is not None
        assert len(plan.selects) == ranges  # cut on started_at, from 1985 to 2059
        fast, count = _lines(plan)
        general = list(listing_values(queryset, zone))
    assert count == len(general) > 5
    assert fast == _written(general)


@pytest.mark.sqlite_only
def test_csv_lines_keep_the_order_of_rows_that_tie_on_the_cut_column(
    hospital_a: Hospital, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Many rows at one instant, in small chunks over several slices and two reader threads:
    every row once, in (started_at, id) order, whichever reader read it."""
    monkeypatch.setattr(csvlines, "CHUNK_ROWS", 3)
    monkeypatch.setattr(csvlines, "AHEAD_CHUNKS", 2)
    started: list[int] = []
    real_read = csvlines._read

    def counting_read(*args: Any) -> None:
        started.append(len(args[1]))
        real_read(*args)

    monkeypatch.setattr(csvlines, "_read", counting_read)
    zone = ZoneInfo("Europe/Paris")
    with hospital_context(hospital_a):
        doctor = factories.practitioner()
        patient = factories.patient()
        first = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
        for n in range(40):  # the middle instant shared by 20 visits
            at = first + dt.timedelta(hours=n if n < 10 or n >= 30 else 20)
            Visit.objects.create(patient=patient, practitioner=doctor, started_at=at)
        queryset = Visit.objects.order_by("started_at", "id").values_list(*VISIT_COLUMNS)
        plan = csv_lines(queryset, zone, ranges=9, readers=2)
        assert plan is not None
        fast, count = _lines(plan)
        general = list(listing_values(queryset, zone))
    assert count == 40
    assert fast == _written(general)
    assert sorted(started) == [4, 5]  # two threads shared the 9 slices


@pytest.mark.sqlite_only
def test_a_one_column_listing_writes_an_empty_value_as_the_csv_module_does(
    hospital_a: Hospital,
) -> None:
    zone = ZoneInfo("UTC")
    with hospital_context(hospital_a):
        _fill(zone)
        queryset = Visit.objects.order_by("started_at", "id").values_list("chief_complaint")
        plan = csv_lines(queryset, zone)
        assert plan is not None
        fast, count = _lines(plan)
        general = list(listing_values(queryset, zone))
    assert count == len(general)
    assert ("",) in general
    assert '\r\n""\r\n' in fast  # a lone empty field is quoted
    assert fast == _written(general)


@pytest.mark.sqlite_only
def test_csv_lines_inside_a_transaction_see_its_uncommitted_rows(hospital_a: Hospital) -> None:
    """Reader connections would not see them: the listing is read on the connection itself."""
    zone = ZoneInfo("UTC")
    with hospital_context(hospital_a):
        _fill(zone)
        queryset = Visit.objects.order_by("started_at", "id").values_list(*VISIT_COLUMNS)
        with transaction.atomic(using=queryset.db):
            Visit.objects.create(
                patient=factories.patient(),
                practitioner=factories.practitioner(),
                started_at=dt.datetime(2025, 2, 2, tzinfo=dt.UTC),
                chief_complaint="uncommitted",
            )
            plan = csv_lines(queryset, zone, ranges=4, readers=2)
            assert plan is not None
            fast, _count = _lines(plan)
            general = list(listing_values(queryset, zone))
            transaction.set_rollback(True, using=queryset.db)
    assert "uncommitted" in fast
    assert fast == _written(general)


@pytest.mark.sqlite_only
def test_stopping_early_stops_the_reader_threads(
    hospital_a: Hospital, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(csvlines, "CHUNK_ROWS", 2)
    monkeypatch.setattr(csvlines, "AHEAD_CHUNKS", 1)
    zone = ZoneInfo("Europe/Paris")
    with hospital_context(hospital_a):
        _fill(zone)
        queryset = Visit.objects.order_by("started_at", "id").values_list(*VISIT_COLUMNS)
        plan = csv_lines(queryset, zone, ranges=2, readers=2)
        assert plan is not None
        chunks = plan.chunks()
        text, rows = next(chunks)
        assert rows == 2 and text.count("\r\n") >= 2
        assert any(t.name.startswith("csv-lines-") for t in threading.enumerate())
        chunks.close()
    assert not any(t.name.startswith("csv-lines-") for t in threading.enumerate())


class _WriterAfterBegin:
    """A reader whose read transaction starts, then another connection commits a row."""

    def __init__(self, reader: sqlite3.Connection, database: str) -> None:
        self.reader = reader
        self.database = database

    def execute(self, sql: str) -> sqlite3.Cursor:
        cursor = self.reader.execute(sql)
        if sql.startswith("SELECT"):
            cursor.fetchone()
            writer = sqlite3.connect(self.database, uri=True)
            writer.execute("CREATE TABLE IF NOT EXISTS snapshot_probe (x)")
            writer.execute("INSERT INTO snapshot_probe VALUES (1)")
            writer.commit()
            writer.close()
        return cursor


@pytest.mark.sqlite_only
def test_readers_that_would_start_on_different_states_are_detected(hospital_a: Hospital) -> None:
    zone = ZoneInfo("UTC")
    with hospital_context(hospital_a):
        queryset = Visit.objects.order_by("started_at", "id").values_list(*VISIT_COLUMNS)
        plan = csv_lines(queryset, zone)
        assert plan is not None
        database = str(connections[queryset.db].settings_dict["NAME"])
        readers = [plan._open(database, 5.0) for _ in range(2)]
        try:
            assert plan._snapshot(readers, database, 5.0)  # nothing written in between
            for reader in readers:
                reader.execute("ROLLBACK")
            racing: list[Any] = [_WriterAfterBegin(readers[0], database), readers[1]]
            assert not plan._snapshot(racing, database, 5.0)
            assert not readers[0].in_transaction and not readers[1].in_transaction
        finally:
            for reader in readers:
                reader.close()


@pytest.mark.sqlite_only
def test_csv_lines_do_not_apply_to_columns_they_cannot_format(hospital_a: Hospital) -> None:
    zone = ZoneInfo("Europe/Paris")
    with hospital_context(hospital_a):
        assert csv_lines(Visit.objects.all(), zone) is None  # not a values_list
        assert csv_lines(Visit.objects.values_list("patient"), zone) is not None  # its UUID
        assert csv_lines(InvoiceLine.objects.values_list("id", "unit_price"), zone) is None
        assert csv_lines(Visit.objects.values_list("id"), dt.UTC) is None  # not a ZoneInfo


@pytest.mark.sqlite_only
def test_the_visit_listing_reads_the_mrn_from_the_covering_index(hospital_a: Hospital) -> None:
    """patients 0004: (id, mrn), and the statistic that makes SQLite's planner take it."""
    zone = ZoneInfo("UTC")
    with hospital_context(hospital_a):
        _fill(zone)
        queryset = Visit.objects.order_by("started_at", "id").values_list(*VISIT_COLUMNS)
        plan = csv_lines(queryset, zone, ranges=3)
        assert plan is not None
        sql, params = plan.selects[1]
        reader = plan._open(str(connections[queryset.db].settings_dict["NAME"]), 5.0)
        try:
            steps = [row[3] for row in reader.execute(f"EXPLAIN QUERY PLAN {sql}", params)]
        finally:
            reader.close()
    assert any("patients_patient USING COVERING INDEX patient_id_mrn" in s for s in steps), steps
    assert any("encounters_visit USING INDEX visit_started" in s for s in steps), steps


@pytest.mark.sqlite_only
def test_a_reader_error_reaches_the_writer_as_a_database_error(hospital_a: Hospital) -> None:
    zone = ZoneInfo("UTC")
    with hospital_context(hospital_a):
        _fill(zone)
        queryset = Visit.objects.order_by("started_at", "id").values_list(*VISIT_COLUMNS)
        plan = csv_lines(queryset, zone, ranges=4, readers=2)
        assert plan is not None
        plan.selects[2] = ("SELECT no_such_column FROM encounters_visit", ())
        with pytest.raises(OperationalError, match="no_such_column"):
            _lines(plan)
    assert not any(t.name.startswith("csv-lines-") for t in threading.enumerate())
