"""The CSV fast path (finished CSV lines built by the database, read in slices by reader processes:
``csvlines.csv_lines``) writes exactly the file the general path writes (``listing_values`` +
the csv module), around daylight-saving changes of the reporting zone, for datetimes outside the
SQL window, microseconds, empty values and text the csv module must quote (or must not: leading
and trailing spaces, tabs, non-ASCII). On PostgreSQL the fast path does not apply and the
general path is used."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import OperationalError, connections, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from hospitium.billing.models import Invoice, InvoiceLine
from hospitium.encounters.models import Treatment, Visit
from hospitium.patients.models import Patient
from hospitium.reports import csvlines, csvreader, generation
from hospitium.reports.base import Listing, ReportData, ReportMeta, ReportTemplate
from hospitium.reports.csvlines import csv_lines
from hospitium.reports.errors import ReportReaderFailed
from hospitium.reports.formats.csv import FORMAT as CSV
from hospitium.reports.models import GeneratedReport
from hospitium.reports.services import report_request
from hospitium.reports.streaming import listing_values
from hospitium.reports.templates.patient_summary import TEMPLATE as PATIENT_SUMMARY
from hospitium.reports.templates.patient_summary import streamed
from hospitium.reports.templates.treatment_outcomes import TEMPLATE as TREATMENT_OUTCOMES
from hospitium.reports.templates.visit_trends import TEMPLATE as VISIT_TRENDS
from hospitium.staff.models import Department, Practitioner
from hospitium.tenancy import stores
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
    with hospital_context(hospital):
        return template.build(dict(serializer.validated_data), _meta(hospital, template))


def _meta(hospital: Hospital, template: ReportTemplate = VISIT_TRENDS) -> ReportMeta:
    return ReportMeta(
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
    hospital_a: Hospital, readers: Readers, settings: Any, zone_name: str, template: ReportTemplate
) -> None:
    """Through reader processes (``readers``: for listings of any size) on SQLite."""
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
    if not storehelp.on_postgres():
        assert len(readers.started) == 4  # two per csv_chunks() call: the check, the file
        assert readers.all_ended() and readers.leftovers() == []
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


@dataclass
class Readers:
    """The reader processes a test started, and the folder their temporary folders go in."""

    folder: Path
    started: list[subprocess.Popen[str]] = field(default_factory=list)

    def leftovers(self) -> list[str]:
        return [p.name for p in self.folder.iterdir()]

    def all_ended(self) -> bool:
        return all(child.poll() is not None for child in self.started)


@pytest.fixture
def readers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Readers:
    """Reader processes for listings of any size, started in a folder of the test's own."""
    folder = tmp_path / "csv-readers"
    folder.mkdir()
    seen = Readers(folder)
    real_start = csvlines._start

    def start(command: list[str], stderr: Any) -> subprocess.Popen[str]:
        child = real_start(command, stderr)
        seen.started.append(child)
        return child

    monkeypatch.setattr(csvlines, "_start", start)
    monkeypatch.setattr(csvlines, "PROCESS_MIN_ROWS", 0)
    monkeypatch.setattr(csvlines, "TEMP_PARENT", str(folder))
    return seen


def _visits() -> QuerySet[Any, Any]:
    return Visit.objects.order_by("started_at", "id").values_list(*VISIT_COLUMNS)


@pytest.mark.parametrize("zone_name", ZONES)
@pytest.mark.parametrize(("ranges", "processes"), [(1, 0), (7, 2), (40, 1), (5, 3)])
def test_csv_lines_are_what_the_csv_module_writes_for_the_general_rows(
    hospital_a: Hospital, readers: Readers, zone_name: str, ranges: int, processes: int
) -> None:
    zone = ZoneInfo(zone_name)
    with hospital_context(hospital_a):
        _fill(zone)
        _out_of_window_visits()
        queryset = _visits()
        plan = csv_lines(queryset, zone, ranges=ranges, processes=processes)
        if storehelp.on_postgres():
            assert plan is None
            return
        assert plan is not None
        assert len(plan.selects) == ranges  # cut on started_at, from 1985 to 2059
        assert plan.processes == (processes if ranges > 1 else 0)
        fast, count = _lines(plan)
        in_process = csv_lines(queryset, zone, ranges=ranges, processes=0)
        assert in_process is not None
        same, _count = _lines(in_process)
        general = list(listing_values(queryset, zone))
    assert count == len(general) > 5
    assert fast == _written(general)
    assert fast == same
    assert len(readers.started) == plan.processes
    assert readers.all_ended()
    assert readers.leftovers() == []


@pytest.mark.sqlite_only
def test_csv_lines_keep_the_order_of_rows_that_tie_on_the_cut_column(
    hospital_a: Hospital, readers: Readers, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Many rows at one instant, in small chunks over several slices and two reader processes:
    every row once, in (started_at, id) order, whichever process read it."""
    monkeypatch.setattr(csvlines, "CHUNK_ROWS", 3)
    zone = ZoneInfo("Europe/Paris")
    with hospital_context(hospital_a):
        doctor = factories.practitioner()
        patient = factories.patient()
        first = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
        for n in range(40):  # the middle instant shared by 20 visits
            at = first + dt.timedelta(hours=n if n < 10 or n >= 30 else 20)
            Visit.objects.create(patient=patient, practitioner=doctor, started_at=at)
        queryset = _visits()
        plan = csv_lines(queryset, zone, ranges=9, processes=2)
        assert plan is not None
        chunks = list(plan.chunks())
        general = list(listing_values(queryset, zone))
    assert sum(rows for _text, rows in chunks) == 40
    assert max(rows for _text, rows in chunks) == 3
    assert "".join(text for text, _rows in chunks) == _written(general)
    assert len(readers.started) == 2


@pytest.mark.sqlite_only
def test_a_small_listing_is_read_in_the_reports_own_process(hospital_a: Hospital) -> None:
    zone = ZoneInfo("UTC")
    with hospital_context(hospital_a):
        _fill(zone)
        plan = csv_lines(_visits(), zone, ranges=4, processes=2)
        assert plan is not None
        assert len(plan.selects) == 4
        assert plan.processes == 0  # fewer than PROCESS_MIN_ROWS rows


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
def test_csv_lines_inside_a_transaction_see_its_uncommitted_rows(
    hospital_a: Hospital, readers: Readers
) -> None:
    """Reader processes would not see them: the listing is read on the connection itself."""
    zone = ZoneInfo("UTC")
    with hospital_context(hospital_a):
        _fill(zone)
        queryset = _visits()
        with transaction.atomic(using=queryset.db):
            Visit.objects.create(
                patient=factories.patient(),
                practitioner=factories.practitioner(),
                started_at=dt.datetime(2025, 2, 2, tzinfo=dt.UTC),
                chief_complaint="uncommitted",
            )
            plan = csv_lines(queryset, zone, ranges=4, processes=2)
            assert plan is not None
            fast, _count = _lines(plan)
            general = list(listing_values(queryset, zone))
            transaction.set_rollback(True, using=queryset.db)
    assert "uncommitted" in fast
    assert fast == _written(general)
    assert readers.started == []


@pytest.mark.sqlite_only
def test_closing_the_chunks_early_ends_the_readers_and_removes_their_files(
    hospital_a: Hospital, readers: Readers, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(csvlines, "CHUNK_ROWS", 2)
    zone = ZoneInfo("Europe/Paris")
    with hospital_context(hospital_a):
        _fill(zone)
        plan = csv_lines(_visits(), zone, ranges=6, processes=2)
        assert plan is not None
        chunks = plan.chunks()
        text, rows = next(chunks)
        assert 1 <= rows <= 2 and text.count("\r\n") >= rows
        assert len(readers.started) == 2
        assert len(readers.leftovers()) == 1  # the readers' folder
        chunks.close()
    assert readers.all_ended()
    assert readers.leftovers() == []


class _Cancelled(Exception):
    pass


@pytest.mark.sqlite_only
def test_a_report_stopped_while_writing_ends_the_readers_and_removes_their_files(
    hospital_a: Hospital, readers: Readers, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CSV format closes the chunks when writing stops (here the progress callback raises,
    as the worker's lease does for a cancelled report)."""
    monkeypatch.setattr(csvlines, "CHUNK_ROWS", 2)

    def progress(fraction: float) -> None:
        if fraction > 0.05:  # some rows of the listing written
            raise _Cancelled()

    zone = ZoneInfo("UTC")
    with hospital_context(hospital_a):
        _fill(zone)
        plan = csv_lines(_visits(), zone, ranges=6, processes=2)
        assert plan is not None
        listing = Listing("visits", "Visits", VISIT_COLUMNS, list, plan.chunks)
        data = ReportData(_meta(hospital_a), listings=[listing])
        with pytest.raises(_Cancelled):
            CSV.write(data, io.BytesIO(), progress)
    assert len(readers.started) == 2
    assert readers.all_ended()
    assert readers.leftovers() == []


@pytest.mark.sqlite_only
@pytest.mark.parametrize("commits", [1, csvlines.SNAPSHOT_ATTEMPTS])
def test_a_commit_between_the_readers_snapshots_is_detected(
    hospital_a: Hospital, readers: Readers, monkeypatch: pytest.MonkeyPatch, commits: int
) -> None:
    """A visit committed after the first reader's snapshot and before the second's, on the
    first ``commits`` attempts: the readers take new snapshots, and after ``SNAPSHOT_ATTEMPTS``
    the first reader reads alone. Either way the file is one state of the store."""
    zone = ZoneInfo("UTC")
    at = dt.datetime(2025, 2, 2, 10, tzinfo=dt.UTC)
    attempts: list[int] = []
    real_ready = csvlines._Readers._ready

    def ready(self: Any, child: subprocess.Popen[str]) -> None:
        real_ready(self, child)
        if child is self.children[0]:
            attempts.append(1)
            if len(attempts) <= commits:  # committed on the report's own connection
                Visit.objects.create(
                    patient=patient,
                    practitioner=doctor,
                    started_at=at + dt.timedelta(minutes=len(attempts)),
                    chief_complaint="committed meanwhile",
                )

    monkeypatch.setattr(csvlines._Readers, "_ready", ready)
    with hospital_context(hospital_a):
        _fill(zone)
        patient, doctor = factories.patient(), factories.practitioner()
        queryset = _visits()
        plan = csv_lines(queryset, zone, ranges=4, processes=2)
        assert plan is not None
        fast, count = _lines(plan)
        every = list(listing_values(queryset, zone))
    if commits < csvlines.SNAPSHOT_ATTEMPTS:  # a later attempt found one state: every visit
        expected = every
    else:  # the first reader alone, on its last snapshot: before the last commit
        last = at + dt.timedelta(minutes=commits)
        expected = [row for row in every if row[1] != last]
        assert len(expected) == len(every) - 1
    assert sum(row[5] == "committed meanwhile" for row in every) == commits
    assert fast == _written(expected)
    assert count == len(expected)
    assert len(attempts) == min(commits + 1, csvlines.SNAPSHOT_ATTEMPTS)
    assert len(readers.started) == 2
    assert readers.all_ended()
    assert readers.leftovers() == []


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
        queryset = _visits()
        plan = csv_lines(queryset, zone, ranges=3)
        assert plan is not None
        sql, params = plan.selects[1]
        reader = csvlines._open(str(connections[queryset.db].settings_dict["NAME"]), 5.0)
        try:
            steps = [row[3] for row in reader.execute(f"EXPLAIN QUERY PLAN {sql}", params)]
        finally:
            reader.close()
    assert any("patients_patient USING COVERING INDEX patient_id_mrn" in s for s in steps), steps
    assert any("encounters_visit USING INDEX visit_started" in s for s in steps), steps


@pytest.mark.sqlite_only
def test_a_reader_error_reaches_the_writer_as_a_database_error(
    hospital_a: Hospital, readers: Readers
) -> None:
    zone = ZoneInfo("UTC")
    with hospital_context(hospital_a):
        _fill(zone)
        plan = csv_lines(_visits(), zone, ranges=4, processes=2)
        assert plan is not None
        plan.selects[2] = ("SELECT no_such_column FROM encounters_visit", ())
        with pytest.raises(OperationalError, match="no_such_column"):
            _lines(plan)
    assert readers.all_ended()
    assert readers.leftovers() == []


#: A slice that keeps its reader busy for many seconds, then yields one line.
_SLOW = (
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 1000000000)"
    " SELECT count(*) || char(13, 10) FROM c"
)


@pytest.mark.sqlite_only
def test_a_reader_killed_mid_read_fails_the_listing_clearly(
    hospital_a: Hospital, readers: Readers
) -> None:
    zone = ZoneInfo("UTC")
    with hospital_context(hospital_a):
        _fill(zone)
        plan = csv_lines(_visits(), zone, ranges=4, processes=2)
        assert plan is not None
        plan.selects[1] = (_SLOW, ())  # the second reader's first slice
        chunks = plan.chunks()
        _text, rows = next(chunks)  # slice 0, from the first reader
        assert rows > 0
        readers.started[1].send_signal(signal.SIGKILL)
        with pytest.raises(ReportReaderFailed, match="stopped before the end"):
            list(chunks)
    assert readers.all_ended()
    assert readers.leftovers() == []


def _django_local_text(value: str | None, zone_key: str) -> str | None:
    """The general path's text of a stored datetime, through Django's own parser."""
    if value is None:
        return None
    parsed = parse_datetime(value)
    if parsed is None:
        raise ValueError(f"not a datetime: {value!r}")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return str(parsed.astimezone(ZoneInfo(zone_key)))


def test_the_readers_zone_function_is_the_general_paths(settings: Any) -> None:
    """``csvreader.local_text`` (no Django; the parent's fallback too) gives what Django's
    ``parse_datetime`` and the aware datetime's ``str()`` give."""
    assert csvlines._local_text is csvreader.local_text
    values = [
        None,
        "1985-03-31 00:59:59",
        "1985-03-31 01:00:00",
        "1989-12-31 23:59:59.999999",
        "2075-10-26 01:30:00.5",
        "2075-03-31T01:00:00",
        "2075-03-31 01:00:00+00:00",
        "2075-03-31 01:00:00Z",
        "2075-3-5 1:02",
        "2075-03-31 01:00:00,123",
        "2075-03-31 01:00:00.1234567",
        "1900-01-01 00:00:00",
        "9999-12-31 23:59:59.999999",
    ]

    def outcome(function: Any, value: str | None, zone: str) -> Any:
        try:
            return function(value, zone)
        except (ValueError, OverflowError) as exc:  # 9999 east of UTC: past datetime.max
            return type(exc)

    for zone in ZONES:
        for value in values:
            ours = outcome(csvreader.local_text, value, zone)
            assert ours == outcome(_django_local_text, value, zone), value
    for bad in ("", "yesterday", "2075-13-01 00:00:00"):
        with pytest.raises(ValueError):
            _django_local_text(bad, "UTC")
        with pytest.raises(ValueError):
            csvreader.local_text(bad, "UTC")


def test_the_reader_program_imports_nothing_of_django() -> None:
    """It starts as ``python -I`` on the standard library alone."""
    probe = (
        "import runpy, sys; runpy.run_path(sys.argv[1], run_name='probe');"
        " print(sorted(m for m in sys.modules if m.split('.')[0] in ('django', 'hospitium')))"
    )
    done = subprocess.run(
        [sys.executable, "-I", "-c", probe, csvreader.__file__],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == "[]"


def test_an_orphaned_reader_removes_the_folder_and_exits(tmp_path: Path) -> None:
    """Its parent gone (here: its stdout closed), nobody would remove the files."""
    folder = tmp_path / "orphan"
    folder.mkdir()
    database = tmp_path / "store.sqlite3"
    raw = sqlite3.connect(database)
    raw.execute("CREATE TABLE t (x)")
    raw.executemany("INSERT INTO t VALUES (?)", [(n,) for n in range(100)])
    raw.commit()
    raw.close()
    child = subprocess.Popen(
        [sys.executable, "-I", csvreader.__file__],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdin is not None and child.stdout is not None
    config = {
        "database": str(database),
        "timeout": 5,
        "pragmas": ["PRAGMA query_only = ON"],
        "directory": str(folder),
        "zone_function": "f",
    }
    child.stdin.write(json.dumps(config) + "\n")
    child.stdin.flush()
    assert child.stdout.readline() == "ready\n"
    child.stdout.close()
    order = {"slices": [[0, "SELECT x || char(13, 10) FROM t", []]], "chunk_rows": 10}
    child.stdin.write(json.dumps(order) + "\n")
    child.stdin.close()
    assert child.wait(timeout=30) == csvreader.ORPHANED
    assert not folder.exists()


def _listing_section(file: bytes) -> bytes:
    return file[file.index(b"# section: listing:") :]


@pytest.mark.sqlite_only
@pytest.mark.parametrize("template", [VISIT_TRENDS, TREATMENT_OUTCOMES, PATIENT_SUMMARY])
def test_a_csv_report_starts_its_readers_while_the_template_builds(
    hospital_a: Hospital,
    readers: Readers,
    monkeypatch: pytest.MonkeyPatch,
    template: ReportTemplate,
) -> None:
    """``build_file`` of a CSV: the listing's readers run while the template computes its
    figures (started inside ``build_data``), and the file is the general path's."""
    started_during_build: list[int] = []
    real_build_data = generation.build_data

    def build_data(*args: Any, **kwargs: Any) -> ReportData:
        data = real_build_data(*args, **kwargs)
        started_during_build.append(len(readers.started))
        return data

    monkeypatch.setattr(generation, "build_data", build_data)
    zone = ZoneInfo("Europe/Paris")
    with hospital_context(hospital_a):
        _fill(zone)
        report = report_request(
            template_key=template.key,
            format="csv",
            date_from=DATE_FROM,
            date_to=DATE_TO,
            include_rows=True,
            enqueue=False,
            roles={"admin"},
        )
        built = generation.build_file(report)
        try:
            fast = built.file.read()
        finally:
            built.close()
    assert started_during_build == [2]
    assert readers.all_ended()
    assert readers.leftovers() == []
    general, _count = _csv(_general(_build(template, hospital_a)))
    assert _listing_section(fast) == _listing_section(general)


@pytest.mark.sqlite_only
def test_readers_started_early_end_when_the_template_fails(
    hospital_a: Hospital, readers: Readers
) -> None:
    zone = ZoneInfo("UTC")
    with hospital_context(hospital_a):
        _fill(zone)
        with pytest.raises(ZeroDivisionError), csvlines.early_readers() as started:
            streamed(_visits())
            assert len(started) == 1 and len(readers.started) == 2
            assert not readers.all_ended()
            _ = 1 / 0  # the figures fail
    assert readers.all_ended()
    assert readers.leftovers() == []


@pytest.mark.sqlite_only
def test_listings_start_no_readers_outside_a_csv_report(
    hospital_a: Hospital, readers: Readers
) -> None:
    zone = ZoneInfo("UTC")
    with hospital_context(hospital_a):
        _fill(zone)
        rows = streamed(_visits())
        with csvlines.early_readers(enabled=False):
            also = streamed(_visits())
        assert rows.plan is None and also.plan is None  # not even planned
        assert readers.started == []


def _copy_a_visit_elsewhere(hospital: Hospital) -> None:
    """Another connection commits a copy of a visit (a new id): what another worker would."""
    database = stores.store_path(hospital.code)
    raw = sqlite3.connect(database)
    try:
        columns = [row[1] for row in raw.execute("PRAGMA table_info(encounters_visit)")]
        chosen = ", ".join(f'"{c}"' for c in columns)
        copied = ", ".join("?" if c == "id" else f'"{c}"' for c in columns)
        raw.execute(
            f"INSERT INTO encounters_visit ({chosen}) SELECT {copied} FROM encounters_visit"  # noqa: S608
            " ORDER BY started_at LIMIT 1",
            (uuid.uuid4().hex,),
        )
        raw.commit()
    finally:
        raw.close()


@pytest.mark.sqlite_only
def test_figures_computed_while_the_readers_read_see_the_rows_snapshot(
    hospital_a: Hospital, readers: Readers
) -> None:
    """A visit committed after the readers started is in neither the rows nor what the report's
    connection reads inside ``early_readers``; after it, that connection sees it."""
    zone = ZoneInfo("UTC")
    with hospital_context(hospital_a):
        visits = _fill(zone)
        with csvlines.early_readers() as started:
            rows = streamed(_visits())
            assert started[0].holding
            _copy_a_visit_elsewhere(hospital_a)
            assert Visit.objects.count() == visits  # the figures' view: the rows' snapshot
        assert not started[0].holding
        assert Visit.objects.count() == visits + 1
        chunks = rows.csv_chunks()
        assert chunks is not None
        assert sum(count for _text, count in chunks) == visits
    assert readers.all_ended()
    assert readers.leftovers() == []


_PARENT = """
import json, subprocess, sys, time
child = subprocess.Popen(
    [sys.executable, "-I", sys.argv[1]], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
)
child.stdin.write(sys.argv[2] + "\\n")
child.stdin.flush()
assert child.stdout.readline() == "ready\\n"
child.stdin.write(sys.argv[3] + "\\n")
child.stdin.flush()
print(child.pid, flush=True)
time.sleep(60)
"""


def _gone(pid: int) -> bool:
    """Exited (reaped, or a zombie waiting for a parent that does not reap)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1].startswith("Z")
    except (FileNotFoundError, ProcessLookupError):
        return True


def test_a_reader_whose_parent_is_killed_removes_the_folder_and_exits(tmp_path: Path) -> None:
    folder = tmp_path / "orphan"
    folder.mkdir()
    database = tmp_path / "empty.sqlite3"
    sqlite3.connect(database).close()
    config = {
        "database": str(database),
        "timeout": 5,
        "pragmas": ["PRAGMA query_only = ON"],
        "directory": str(folder),
        "zone_function": "f",
    }
    endless = (  # lines for minutes: the reader is mid-read when its parent dies
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 1000000000)"
        " SELECT x || char(13, 10) FROM c"
    )
    order = {"slices": [[0, endless, []]], "chunk_rows": 1000}
    parent = subprocess.Popen(
        [sys.executable, "-c", _PARENT, csvreader.__file__, json.dumps(config), json.dumps(order)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert parent.stdout is not None
    pid = int(parent.stdout.readline())
    try:
        deadline = time.monotonic() + 10
        while not (folder / "0.lines").exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert (folder / "0.lines").exists()
        parent.kill()
        parent.wait()
        deadline = time.monotonic() + 20
        while not (_gone(pid) and not folder.exists()) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _gone(pid)
        assert not folder.exists()
    finally:
        if not _gone(pid):
            os.kill(pid, signal.SIGKILL)
        parent.stdout.close()


@pytest.mark.sqlite_only
def test_whether_a_listing_is_large_is_counted_no_further_than_needed(
    hospital_a: Hospital,
) -> None:
    zone = ZoneInfo("UTC")
    with hospital_context(hospital_a):
        visits = _fill(zone)
        other = factories.practitioner(department=factories.department(name="Elsewhere"))
        Visit.objects.create(
            patient=factories.patient(),
            practitioner=other,
            started_at=dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
        )
        everything = _visits()
        assert csvlines._at_least(everything, visits + 1)
        assert not csvlines._at_least(everything, visits + 2)
        assert csvlines._at_least(everything, 0)
        # a WHERE on a joined table: counted with the join
        theirs = everything.filter(practitioner__department=other.department)
        assert csvlines._at_least(theirs, 1)
        assert not csvlines._at_least(theirs, 2)
        assert not csvlines._at_least(everything.none(), 1)


@pytest.mark.sqlite_only
def test_a_report_whose_reader_dies_fails_with_a_clear_message(
    hospital_a: Hospital, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the worker's path: the report ends failed, with a message a user can act on,
    and nothing is left behind (no file stored, no folder, no process)."""
    folder = tmp_path / "csv-readers"
    folder.mkdir()
    started: list[subprocess.Popen[str]] = []
    real_start = csvlines._start

    def dying(command: list[str], stderr: Any) -> subprocess.Popen[str]:
        child = real_start([sys.executable, "-c", "import sys; sys.exit(7)"], stderr)
        started.append(child)
        return child

    monkeypatch.setattr(csvlines, "_start", dying)
    monkeypatch.setattr(csvlines, "PROCESS_MIN_ROWS", 0)
    monkeypatch.setattr(csvlines, "TEMP_PARENT", str(folder))
    with hospital_context(hospital_a):
        _fill(ZoneInfo("UTC"))
        report = report_request(
            template_key=VISIT_TRENDS.key,
            format="csv",
            date_from=DATE_FROM,
            date_to=DATE_TO,
            include_rows=True,
            enqueue=False,
            roles={"admin"},
        )
        done = generation.report_generate(report_id=report.pk)
    assert done is not None
    assert done.status == GeneratedReport.Status.FAILED
    assert "stopped before the end (exit status 7)" in done.error_message
    assert not done.storage_key
    assert started and all(child.poll() is not None for child in started)
    assert list(folder.iterdir()) == []


@pytest.mark.sqlite_only
def test_a_listing_filtered_with_djangos_sql_functions_is_read_in_process(
    hospital_a: Hospital, readers: Readers
) -> None:
    """``started_at__date`` compiles to a function Django registers on its own connections
    only: a reader process could not run it."""
    zone = ZoneInfo("UTC")
    with hospital_context(hospital_a):
        _fill(zone)
        queryset = _visits().filter(started_at__date__gte=dt.date(2024, 10, 1))
        plan = csv_lines(queryset, zone, ranges=4, processes=2)
        assert plan is not None
        assert any("django_" in sql for sql, _params in plan.selects)
        assert plan.processes == 0
        fast, count = _lines(plan)
        general = list(listing_values(queryset, zone))
    assert count == len(general) > 0
    assert fast == _written(general)
    assert readers.started == []


def test_a_column_checked_to_plain_values_skips_the_quoting_test() -> None:
    from types import SimpleNamespace

    from django.db.models import CheckConstraint, Q

    from hospitium.reports.csvlines import _checked_plain

    assert _checked_plain(Visit._meta.get_field("kind"))  # CHECK kind IN ('medical', 'dental')
    assert not _checked_plain(Visit._meta.get_field("chief_complaint"))

    def field(*constraints: CheckConstraint) -> SimpleNamespace:
        model = SimpleNamespace(_meta=SimpleNamespace(constraints=list(constraints)))
        return SimpleNamespace(name="x", model=model)

    plain = CheckConstraint(condition=Q(x__in=["a", "b"]), name="plain")
    assert _checked_plain(field(plain))
    # A listed value the csv module quotes, a negated list, or a list with more conditions
    # leave the test per row in place.
    for condition in (
        Q(x__in=["a", "b,c"]),
        Q(x__in=["a", 'say "b"']),
        ~Q(x__in=["a"]),
        Q(x__in=["a"]) | Q(y=1),
        Q(x__in=["a"], y=1),
        Q(y__in=["a"]),
    ):
        assert not _checked_plain(field(CheckConstraint(condition=condition, name="c")))


def test_a_reader_process_sets_its_sqlite_single_threaded_and_still_reads(tmp_path: Path) -> None:
    """In a process of its own (as a reader runs), before any connection: the call takes
    effect on the library ``_sqlite3`` uses, and that library still reads a store."""
    store = tmp_path / "s.sqlite3"
    with sqlite3.connect(store) as connection:
        connection.execute("CREATE TABLE t (x)")
        connection.executemany("INSERT INTO t VALUES (?)", [(n,) for n in range(100)])
    probe = (
        "import runpy, sqlite3, sys; ns = runpy.run_path(sys.argv[1], run_name='probe');"
        " print(ns['single_threaded_sqlite']());"
        " print(sqlite3.connect(sys.argv[2]).execute('SELECT sum(x) FROM t').fetchone()[0])"
    )
    done = subprocess.run(
        [sys.executable, "-I", "-c", probe, csvreader.__file__, str(store)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.split() == ["True", "4950"]


def _staff_visits(zone: ZoneInfo) -> None:
    """Visits of several practitioners in several departments, names the csv module quotes,
    and one department of no practitioner."""
    _fill(zone)
    factories.department(name="Unused")
    patient = factories.patient()
    for n, (department_name, doctor_name) in enumerate(
        [("Cardiology", "Dr Ada, Byron"), ('The "East" wing', "Dr Plain"), ("Line\nbreak", "")]
    ):
        department = factories.department(name=department_name)
        doctor = factories.practitioner(department=department, display_name=doctor_name)
        at = dt.datetime(2024, 10, 1 + n, 9, 30, tzinfo=dt.UTC)
        Visit.objects.create(patient=patient, practitioner=doctor, started_at=at)


STAFF_COLUMNS = (
    "id",
    "started_at",
    "practitioner__display_name",
    "practitioner__department__name",
    "chief_complaint",
)


def _plan_steps(queryset: QuerySet[Any, Any], sql: str, params: Any) -> list[str]:
    reader = csvlines._open(str(connections[queryset.db].settings_dict["NAME"]), 5.0)
    try:
        return [row[3] for row in reader.execute(f"EXPLAIN QUERY PLAN {sql}", params)]
    finally:
        reader.close()


@pytest.mark.sqlite_only
def test_small_joined_tables_are_read_once_into_lookup_tables(
    hospital_a: Hospital, readers: Readers
) -> None:
    zone = ZoneInfo("Europe/Paris")
    with hospital_context(hospital_a):
        _staff_visits(zone)
        queryset = Visit.objects.order_by("started_at", "id").values_list(*STAFF_COLUMNS)
        assert csvlines._lookup_roots(queryset) == ("staff_practitioner",)
        plan = csv_lines(queryset, zone, ranges=4, processes=2)
        assert plan is not None and plan.processes == 2
        sql, params = plan.selects[1]
        steps = _plan_steps(queryset, sql, params)
        fast, count = _lines(plan)
        general = list(listing_values(queryset, zone))
        visits = Visit.objects.count()
    assert 'MATERIALIZED (SELECT "staff_practitioner"."id"' in sql
    assert 'INNER JOIN "staff_department"' not in sql.split(" SELECT printf(")[1]
    assert any("staff_practitioner USING AUTOMATIC COVERING INDEX" in s for s in steps), steps
    assert count == len(general) == visits
    assert fast == _written(general)
    assert '"Dr Ada, Byron",Cardiology' in fast and '"Line\nbreak"' in fast


@pytest.mark.sqlite_only
def test_a_joined_table_the_listing_filters_on_is_not_a_lookup_table(
    hospital_a: Hospital,
) -> None:
    """Filtered on the practitioner's department: the practitioners stay joined (the WHERE
    names them), their departments alone become a lookup table."""
    zone = ZoneInfo("UTC")
    with hospital_context(hospital_a):
        _staff_visits(zone)
        department = Visit.objects.filter(practitioner__display_name="Dr Plain").values_list(
            "practitioner__department", flat=True
        )[0]
        queryset = (
            Visit.objects.filter(practitioner__department=department)
            .order_by("started_at", "id")
            .values_list(*STAFF_COLUMNS)
        )
        assert csvlines._lookup_roots(queryset) == ("staff_department",)
        plan = csv_lines(queryset, zone, ranges=1, processes=0)
        assert plan is not None
        fast, count = _lines(plan)
        general = list(listing_values(queryset, zone))
    assert count == len(general) == 1
    assert fast == _written(general)


def _invoices_of_visits(zone: ZoneInfo, *, with_visit: int, without: int) -> None:
    """Staff and their visits (``_staff_visits``), then invoices ``INV-0``… : the first
    ``with_visit`` of the earliest visits, one each, and ``without`` more of another patient
    with no visit."""
    _staff_visits(zone)
    patient = factories.patient()
    visits = list(Visit.objects.order_by("started_at")[:with_visit])
    for n in range(with_visit + without):
        visit = visits[n] if n < with_visit else None
        Invoice.objects.create(
            number=f"INV-{n}", patient=visit.patient if visit else patient, visit=visit
        )


@pytest.mark.sqlite_only
def test_lookup_tables_over_outer_joins_keep_the_rows_without_a_match(
    hospital_a: Hospital, readers: Readers
) -> None:
    """Invoices with and without a visit: the visit and the joins below it are outer joins,
    and a lookup table joined outer keeps the invoices without one (empty fields)."""
    zone = ZoneInfo("UTC")
    with hospital_context(hospital_a):
        _invoices_of_visits(zone, with_visit=3, without=3)
        queryset = Invoice.objects.order_by("created_at", "id").values_list(
            "number", "visit__kind", "visit__practitioner__display_name", "patient__mrn"
        )
        roots = csvlines._lookup_roots(queryset)
        plan = csv_lines(queryset, zone, ranges=3, processes=2)
        assert plan is not None
        fast, count = _lines(plan)
        general = list(listing_values(queryset, zone))
    assert roots == ("encounters_visit", "patients_patient")
    assert 'LEFT OUTER JOIN "hospitium_lookup_0" "encounters_visit"' in plan.selects[0][0]
    assert count == len(general) == 6
    assert fast == _written(general)
    assert sum(1 for row in general if row[1] is None) == 3


@pytest.mark.sqlite_only
def test_uuids_are_written_as_the_csv_module_writes_them_null_or_not(
    hospital_a: Hospital, readers: Readers
) -> None:
    """A never-null UUID of the listing's own table is cut in the line's printf; a nullable
    foreign key's, one reached through an outer join, and a lone column keep the expression
    that writes NULL as an empty field."""
    zone = ZoneInfo("UTC")
    with hospital_context(hospital_a):
        _invoices_of_visits(zone, with_visit=2, without=3)
        queryset = Invoice.objects.order_by("created_at", "id").values_list(
            "id", "visit", "visit__patient", "patient", "number"
        )
        plan = csv_lines(queryset, zone, ranges=2, processes=2)
        assert plan is not None
        fast, count = _lines(plan)
        general = list(listing_values(queryset, zone))
        lone = csv_lines(Invoice.objects.order_by("id").values_list("id"), zone, processes=0)
        assert lone is not None
        lone_text, _ = _lines(lone)
        lone_general = list(listing_values(Invoice.objects.order_by("id").values_list("id"), zone))
    sql = plan.selects[0][0]
    # the invoice's own id and its patient (a non-null foreign key) by printf, not the visit's
    assert sql.count("%.8s-%.4s-%.4s-%.4s-%s") == 2
    assert sql.count('substr(CAST("billing_invoice"."id" AS BLOB), 9)') == 1
    assert sql.count('substr(CAST("billing_invoice"."patient_id" AS BLOB), 9)') == 1
    assert count == len(general) == 5
    assert fast == _written(general)
    assert sum(1 for row in general if row[1] is None and row[2] is None) == 3
    assert all(str(row[0]) == str(uuid.UUID(str(row[0]))) for row in general)
    assert lone_text == _written(lone_general)


@pytest.mark.sqlite_only
def test_a_joined_table_of_more_rows_than_the_limit_stays_a_join(
    hospital_a: Hospital, monkeypatch: pytest.MonkeyPatch
) -> None:
    zone = ZoneInfo("UTC")
    with hospital_context(hospital_a):
        _staff_visits(zone)
        queryset = Visit.objects.order_by("started_at", "id").values_list(*STAFF_COLUMNS)
        departments = Department.objects.count()
        while Practitioner.objects.count() <= departments:
            factories.practitioner(department=Department.objects.first())
        monkeypatch.setattr(csvlines, "LOOKUP_MAX_ROWS", departments)
        # the practitioners are too many; their departments are not
        assert csvlines._lookup_roots(queryset) == ("staff_department",)
        monkeypatch.setattr(csvlines, "LOOKUP_MAX_ROWS", 0)
        assert csvlines._lookup_roots(queryset) == ()
        plan = csv_lines(queryset, zone, ranges=1, processes=0)
        assert plan is not None
        assert "hospitium_lookup_" not in plan.selects[0][0]
        fast, _count = _lines(plan)
        general = list(listing_values(queryset, zone))
    assert fast == _written(general)


@pytest.mark.sqlite_only
def test_a_table_joined_twice_gives_two_lookup_tables_under_their_own_aliases(
    hospital_a: Hospital,
) -> None:
    """Appointments with their practitioner's department, and the departments of the
    practitioners of every visit of their patient: the second path goes through a reverse
    join (not a lookup), below which the practitioners (a second alias) are one."""
    from hospitium.scheduling.models import Appointment

    zone = ZoneInfo("UTC")
    with hospital_context(hospital_a):
        _staff_visits(zone)
        for visit in Visit.objects.order_by("started_at")[:4]:
            Appointment.objects.create(
                patient=visit.patient,
                practitioner=visit.practitioner,
                starts_at=visit.started_at,
                ends_at=visit.started_at + dt.timedelta(minutes=20),
            )
        queryset = Appointment.objects.order_by(
            "starts_at", "id", "patient__visits__id"
        ).values_list(
            "id",
            "practitioner__department__name",
            "patient__visits__practitioner__department__name",
        )
        roots = csvlines._lookup_roots(queryset)
        plan = csv_lines(queryset, zone, ranges=1, processes=0)
        assert plan is not None
        fast, count = _lines(plan)
        general = list(listing_values(queryset, zone))
    assert len(roots) == 2 and roots[0] == "staff_practitioner" and roots[1] != roots[0]
    assert '"hospitium_lookup_1"' in plan.selects[0][0]
    assert count == len(general) > 4
    assert fast == _written(general)
