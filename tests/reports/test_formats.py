"""The report formats: each writes a file a user's program opens, with the ReportData's values.

No database: the ReportData is built by hand, with a listing of 20,000 rows of dates, aware
datetimes, Decimals, None and non-ASCII text.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from hospitium.reports import registry
from hospitium.reports.base import Figure, Listing, ReportData, ReportMeta, Series, Table
from hospitium.reports.formats import common

LISTING_ROWS = 20_000
TZ = dt.timezone(dt.timedelta(hours=2))
NAMES = ["Zoë Ångström", "Иван Петров", "李小龙", "Amélie Poulain", 'O\'Brien, "Pat"']
SCHEMA = Path(__file__).resolve().parents[2] / "src/hospitium/reports/formats/report.schema.json"


def listing_row(i: int) -> tuple[Any, ...]:
    return (
        i + 1,
        dt.date(2024, 1, 1) + dt.timedelta(days=i % 366),
        dt.datetime(2024, 1, 1, 8, 30, tzinfo=TZ) + dt.timedelta(minutes=i),
        NAMES[i % len(NAMES)],
        Decimal(i % 1000) + Decimal("0.25"),
        None if i % 7 == 0 else "dental" if i % 2 else "medical",
    )


LISTING_COLUMNS = ["visit_id", "date", "started_at", "patient", "amount", "kind"]


def make_report() -> ReportData:
    meta = ReportMeta(
        hospital_code="ALPHA",
        hospital_name="Hôpital Saint-Éloi",
        template_key="visit_trends",
        title="Visit trends",
        period_start=dt.date(2024, 1, 1),
        period_end=dt.date(2024, 12, 31),
        filters={"department": "Cardiología", "kinds": ["medical", "dental"]},
        generated_by="Dr. Müller",
        generated_at=dt.datetime(2025, 1, 2, 9, 15, 30, tzinfo=TZ),
    )
    months = [f"2024-{m:02d}" for m in range(1, 13)]
    return ReportData(
        meta=meta,
        figures=[
            Figure("visits", "Visits", 20000, "visits"),
            Figure("revenue", "Revenue collected", "12345.67", "EUR"),
            Figure("success_rate", "Success rate", 87.5, "%"),
            Figure("unknown", "Not computed", None),
        ],
        tables=[
            Table(
                "by_department",
                "Visits by department",
                ["department", "visits", "revenue", "first_visit"],
                [
                    ["Cardiología", 120, Decimal("1500.50"), dt.date(2024, 1, 3)],
                    ["Pédiatrie", 80, Decimal("800.00"), dt.date(2024, 2, 1)],
                    ["Стоматология", 45, None, None],
                ],
            )
        ],
        series=[
            Series(
                "per_month",
                "Visits per month",
                "line",
                months,
                {"medical": [100 + m for m in range(12)], "dental": [40 + m for m in range(12)]},
            ),
            Series(
                "per_hour",
                "Visits by hour of day",
                "bar",
                list(range(24)),
                {"visits": [h * 3 for h in range(24)]},
            ),
        ],
        listings=[
            Listing(
                "visits",
                "Every visit",
                LISTING_COLUMNS,
                lambda: (listing_row(i) for i in range(LISTING_ROWS)),
            )
        ],
    )


def write(key: str, data: ReportData) -> tuple[bytes, int, list[float]]:
    fmt = registry.formats()[key]
    out = io.BytesIO()
    seen: list[float] = []
    count = fmt.write(data, out, seen.append)
    return out.getvalue(), count, seen


def check_progress(seen: list[float]) -> None:
    assert seen, "no progress reported"
    assert seen == sorted(seen)
    assert all(0.0 <= f <= 1.0 for f in seen)
    assert seen[-1] == 1.0
    # the listing (20,000 rows) reports along the way, not just at the end
    assert len({f for f in seen if 0.05 < f < 0.99}) >= 2


def test_registry_has_every_format() -> None:
    found = registry.formats()
    assert set(found) == {"pdf", "xlsx", "csv", "json"}
    for key, fmt in found.items():
        assert fmt.key == key
        assert fmt.extension
        assert fmt.content_type


def test_progress_grows_towards_one() -> None:
    seen: list[float] = []
    data = make_report()
    tracker = common.Progress(seen.append, data)
    tracker.head_done()
    tracker.listing_start(0)
    for n in range(10_000, 2_000_001, 10_000):
        tracker.rows(n)
    assert seen == sorted(seen)
    assert seen[-1] < 0.99
    tracker.listing_end()
    tracker.done()
    assert seen[-1] == 1.0


# -- CSV -------------------------------------------------------------------------------------


def csv_sections(raw: bytes) -> dict[str, list[list[str]]]:
    assert raw.startswith(b"\xef\xbb\xbf"), "UTF-8 byte-order mark"
    sections: dict[str, list[list[str]]] = {}
    current: list[list[str]] = []
    for row in csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")):
        if row and row[0].startswith("# section: "):
            current = sections.setdefault(row[0].removeprefix("# section: "), [])
            current.append(row[1:])  # the marker's title cells
        elif row:
            current.append(row)
    return sections


def test_csv() -> None:
    data = make_report()
    raw, count, seen = write("csv", data)
    assert count == LISTING_ROWS
    check_progress(seen)
    sections = csv_sections(raw)
    assert list(sections) == [
        "meta",
        "figures",
        "table:by_department",
        "series:per_month",
        "series:per_hour",
        "listing:visits",
    ]
    meta = dict(sections["meta"][2:])
    assert meta["Hospital"] == "Hôpital Saint-Éloi"
    assert meta["Period start"] == "2024-01-01"
    assert meta["Generated by"] == "Dr. Müller"
    assert meta["Generated at"] == "2025-01-02T09:15:30+02:00"
    assert meta["Filter: department"] == "Cardiología"

    figures = {r[0]: r[1:] for r in sections["figures"][2:]}
    for f in data.figures:
        assert figures[f.key] == [f.label, "" if f.value is None else str(f.value), f.unit]

    table = sections["table:by_department"]
    assert table[0] == ["Visits by department"]
    assert table[1] == ["department", "visits", "revenue", "first_visit"]
    assert table[4] == ["Стоматология", "45", "", ""]
    assert table[2] == ["Cardiología", "120", "1500.50", "2024-01-03"]

    series = sections["series:per_month"]
    assert series[1] == ["x", "medical", "dental"]
    assert series[2] == ["2024-01", "100", "40"]

    listing = sections["listing:visits"]
    assert listing[1] == LISTING_COLUMNS
    rows = listing[2:]
    assert len(rows) == LISTING_ROWS
    for i in (0, 1, 7, 12_345, LISTING_ROWS - 1):
        expected = listing_row(i)
        assert rows[i] == ["" if v is None else str(v) for v in expected]
    assert rows[4][3] == 'O\'Brien, "Pat"'
    assert rows[2][3] == "李小龙"


# -- JSON ------------------------------------------------------------------------------------


def test_json() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    data = make_report()
    raw, count, seen = write("json", data)
    assert count == LISTING_ROWS
    check_progress(seen)
    doc = json.loads(raw.decode("utf-8"))
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(doc, schema, cls=jsonschema.Draft202012Validator)

    assert doc["format"] == "hospitium-report"
    assert doc["version"] == 1
    meta = doc["meta"]
    assert meta["hospital"] == {"code": "ALPHA", "name": "Hôpital Saint-Éloi"}
    assert meta["period"] == {"start": "2024-01-01", "end": "2024-12-31"}
    assert meta["generated_at"] == "2025-01-02T09:15:30+02:00"
    assert meta["filters"] == {"department": "Cardiología", "kinds": ["medical", "dental"]}

    assert [(f["key"], f["label"], f["value"], f["unit"]) for f in doc["figures"]] == [
        (f.key, f.label, f.value, f.unit) for f in data.figures
    ]
    table = doc["tables"][0]
    assert table["columns"] == ["department", "visits", "revenue", "first_visit"]
    assert table["rows"][0] == ["Cardiología", 120, "1500.50", "2024-01-03"]
    assert table["rows"][2] == ["Стоматология", 45, None, None]
    series = doc["series"][0]
    assert series["kind"] == "line"
    assert series["x"] == data.series[0].x
    assert series["y"] == data.series[0].y

    listing = doc["listings"][0]
    assert listing["key"] == "visits"
    assert listing["columns"] == LISTING_COLUMNS
    assert listing["count"] == LISTING_ROWS
    assert len(listing["rows"]) == LISTING_ROWS
    for i in (0, 7, 12_345, LISTING_ROWS - 1):
        assert listing["rows"][i] == [common.json_safe(v) for v in listing_row(i)]
    assert listing["rows"][0][2] == "2024-01-01T08:30:00+02:00"
    assert listing["rows"][0][4] == "0.25"


# -- Excel -----------------------------------------------------------------------------------


def test_xlsx() -> None:
    openpyxl = pytest.importorskip("openpyxl")
    data = make_report()
    raw, count, seen = write("xlsx", data)
    assert count == LISTING_ROWS
    check_progress(seen)
    assert raw[:2] == b"PK"
    book = openpyxl.load_workbook(io.BytesIO(raw))
    assert book.sheetnames == [
        "Summary",
        "Visits by department",
        "Visits per month",
        "Visits by hour of day",
        "Every visit",
    ]

    summary = book["Summary"]
    assert summary["A1"].value == "Visit trends"
    meta = {
        r[0]: r[1] for r in summary.iter_rows(min_row=3, max_row=11, max_col=2, values_only=True)
    }
    assert meta["Hospital"] == "Hôpital Saint-Éloi"
    assert meta["Period start"] == dt.datetime(2024, 1, 1)
    assert meta["Generated by"] == "Dr. Müller"
    assert meta["Generated at"] == dt.datetime(2025, 1, 2, 9, 15, 30)
    assert "Cardiología" in meta["Filters"]
    figures = {
        r[0]: (r[1], r[2])
        for r in summary.iter_rows(min_row=14, max_col=3, values_only=True)
        if r[0] is not None
    }
    for f in data.figures:
        assert figures[f.label] == (f.value, f.unit or None)

    table = book["Visits by department"]
    assert table.freeze_panes == "A2"
    assert table.auto_filter.ref == "A1:D4"
    rows = list(table.iter_rows(values_only=True))
    assert rows[0] == ("department", "visits", "revenue", "first_visit")
    assert rows[1] == ("Cardiología", 120, 1500.5, dt.datetime(2024, 1, 3))
    assert rows[3] == ("Стоматология", 45, None, None)
    assert table["C2"].number_format == "#,##0.00"
    assert table["D2"].number_format == "yyyy-mm-dd"
    assert table["A1"].font.b

    for name, series in (
        ("Visits per month", data.series[0]),
        ("Visits by hour of day", data.series[1]),
    ):
        sheet = book[name]
        assert len(sheet._charts) == 1
        values = list(sheet.iter_rows(min_row=2, values_only=True))
        assert [r[0] for r in values] == list(series.x)
        for j, key in enumerate(series.y, start=1):
            assert [r[j] for r in values] == list(series.y[key])

    listing = book["Every visit"]
    assert listing.freeze_panes == "A2"
    assert listing.auto_filter.ref == f"A1:F{LISTING_ROWS + 1}"
    assert listing.column_dimensions["D"].width >= len('O\'Brien, "Pat"')
    rows = list(listing.iter_rows(values_only=True))
    assert rows[0] == tuple(LISTING_COLUMNS)
    assert len(rows) == LISTING_ROWS + 1
    for i in (0, 7, 12_345, LISTING_ROWS - 1):
        vid, day, started, patient, amount, kind = listing_row(i)
        assert rows[i + 1] == (
            vid,
            dt.datetime.combine(day, dt.time()),
            started.replace(tzinfo=None),
            patient,
            float(amount),
            kind,
        )
    assert listing["B2"].number_format == "yyyy-mm-dd"
    assert listing["C2"].number_format == "yyyy-mm-dd hh:mm:ss"


def test_xlsx_listing_longer_than_a_sheet_continues(monkeypatch: pytest.MonkeyPatch) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    from hospitium.reports.formats import xlsx

    monkeypatch.setattr(xlsx, "MAX_ROWS", 1001)
    data = make_report()
    data.listings[0].rows = lambda: (listing_row(i) for i in range(2500))
    raw, count, _ = write("xlsx", data)
    assert count == 2500
    book = openpyxl.load_workbook(io.BytesIO(raw), read_only=True)
    assert book.sheetnames[-3:] == ["Every visit", "Every visit (2)", "Every visit (3)"]
    sizes = [sum(1 for _ in book[n].iter_rows()) - 1 for n in book.sheetnames[-3:]]
    assert sizes == [1000, 1000, 500]


# -- PDF -------------------------------------------------------------------------------------


def pdf_pages(raw: bytes, which: Sequence[int] | None = None) -> tuple[int, dict[int, str]]:
    """The page count and the text of the pages asked for (0-based; all when None)."""
    pypdf = pytest.importorskip("pypdf")
    reader = pypdf.PdfReader(io.BytesIO(raw))
    n = len(reader.pages)
    wanted = range(n) if which is None else sorted({i % n for i in which})
    return n, {i: reader.pages[i].extract_text() or "" for i in wanted}


def test_pdf() -> None:
    data = make_report()
    raw, count, seen = write("pdf", data)
    assert raw.startswith(b"%PDF-")
    assert count == LISTING_ROWS
    check_progress(seen)
    # 20,000 rows at about 60 rows a page, plus the title page and charts
    n, pages = pdf_pages(raw, [0, 1, 2, 3, 50, 200, -2, -1])
    assert 250 <= n <= 600
    first = pages[0]
    assert "Visit trends" in first
    assert "Hôpital Saint-Éloi" in first
    assert "2024-01-01 – 2024-12-31" in first
    assert "Dr. Müller" in first
    assert "Cardiología" in first
    assert "2025-01-02 09:15:30+02:00" in first
    assert "20,000" in first  # the visits figure
    assert "12345.67" in first
    assert "87.5" in first
    for i, text in pages.items():
        assert f"page {i + 1} of {n}" in text
    head = "\n".join(pages[i] for i in (0, 1, 2, 3))
    assert "Visits per month" in head
    assert "Visits by department" in head
    assert "Стоматология" in head
    assert "1,500.50" in head or "1500.50" in head
    # listing pages: header repeated, unicode, the last row on the last page
    assert "visit_id" in pages[200]
    assert "Иван Петров" in pages[200]
    assert "Zoë Ångström" in pages[200]  # (no CJK font on the system: 李小龙 is not checked)
    assert pages[n - 1].count("visit_id") == 1
    last = listing_row(LISTING_ROWS - 1)
    assert f"{last[0]:,}" in pages[n - 1]


def test_pdf_stops_a_huge_listing(monkeypatch: pytest.MonkeyPatch) -> None:
    from hospitium.reports.formats import pdf

    monkeypatch.setattr(pdf, "MAX_LISTING_ROWS", 500)
    data = make_report()
    raw, count, _ = write("pdf", data)
    assert count == 500
    everything = "\n".join(pdf_pages(raw)[1].values())
    assert "stops after 500 rows" in everything
