"""Excel (.xlsx) with XlsxWriter in constant-memory mode.

Sheets, in order:

* **Summary** — the report's meta (hospital, period, filters, who generated it and when) and the
  headline figures (label, value, unit; styled header, auto-filter);
* one sheet per **table**;
* one sheet per **series**, its points as a table and a native Excel chart (line, or clustered
  column for "bar");
* one sheet per **listing**, written row by row as the rows stream in (constant memory: XlsxWriter
  flushes each row to a temporary file once the next one starts). A listing longer than Excel's
  1,048,576 rows continues on "<name> (2)", "<name> (3)"…

Every data sheet has a bold, filled header row, frozen below the header, an auto-filter over its
columns, column widths from the header and the first rows, number formats for integers and
decimals and date formats for dates and datetimes. Excel has no time zones: an aware datetime is
written as the wall-clock time it carries (the offset is dropped, as XlsxWriter's
``remove_timezone`` does).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator, Sequence
from decimal import Decimal
from itertools import chain, islice
from typing import IO, Any

import xlsxwriter  # type: ignore[import-untyped]

from hospitium.reports.base import ReportData, ReportFormat
from hospitium.reports.formats.common import PROGRESS_EVERY, Progress, filters_text, series_rows

MAX_ROWS = 1_048_576
#: Rows looked at to size a listing's columns before writing it.
SAMPLE_ROWS = 200
MAX_WIDTH = 60
_BAD_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")

Cell = Callable[[int, int, Any], Any]


class _Styles:
    def __init__(self, book: Any) -> None:
        self.header = book.add_format(
            {
                "bold": True,
                "bg_color": "#1F4E79",
                "font_color": "#FFFFFF",
                "border": 1,
                "valign": "vcenter",
            }
        )
        self.title = book.add_format({"bold": True, "font_size": 14})
        self.label = book.add_format({"bold": True})
        self.date = book.add_format({"num_format": "yyyy-mm-dd"})
        self.datetime = book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
        self.time = book.add_format({"num_format": "hh:mm:ss"})
        self.integer = book.add_format({"num_format": "#,##0"})
        self.decimal = book.add_format({"num_format": "#,##0.00"})
        self.number = book.add_format({"num_format": "#,##0.######"})


class _Writer:
    """Writes one value with the right cell type and format (a dispatch on the value's type, so
    the per-cell cost stays close to XlsxWriter's own)."""

    def __init__(self, styles: _Styles) -> None:
        self.styles = styles

    def cell_writers(self, ws: Any) -> dict[type, Cell]:
        s = self.styles
        # XlsxWriter's public write_* methods each go through a decorator that accepts "A1"
        # cell names (a try/int() per cell); its underscore methods are the same writers
        # without it, and what its own write_row calls. Public ones when a version lacks them.
        write_string = getattr(ws, "_write_string", ws.write_string)
        write_number = getattr(ws, "_write_number", ws.write_number)
        write_datetime = getattr(ws, "_write_datetime", ws.write_datetime)
        write_boolean = getattr(ws, "_write_boolean", ws.write_boolean)

        def w_str(r: int, c: int, v: str) -> Any:
            return write_string(r, c, v)

        def w_int(r: int, c: int, v: int) -> Any:
            return write_number(r, c, v, s.integer)

        def w_float(r: int, c: int, v: float) -> Any:
            if v != v or v in (float("inf"), float("-inf")):
                return None
            return write_number(r, c, v, s.number)

        def w_decimal(r: int, c: int, v: Decimal) -> Any:
            if not v.is_finite():
                return None
            return write_number(r, c, float(v), s.decimal)

        def w_date(r: int, c: int, v: dt.date) -> Any:
            return write_datetime(r, c, v, s.date)

        def w_datetime(r: int, c: int, v: dt.datetime) -> Any:
            if v.tzinfo is not None:
                v = v.replace(tzinfo=None)
            return write_datetime(r, c, v, s.datetime)

        def w_time(r: int, c: int, v: dt.time) -> Any:
            return write_datetime(r, c, v.replace(tzinfo=None), s.time)

        def w_bool(r: int, c: int, v: bool) -> Any:
            return write_boolean(r, c, v)

        def w_none(r: int, c: int, v: None) -> Any:
            return None

        return {
            str: w_str,
            int: w_int,
            float: w_float,
            Decimal: w_decimal,
            dt.date: w_date,
            dt.datetime: w_datetime,
            dt.time: w_time,
            bool: w_bool,
            type(None): w_none,
        }

    @staticmethod
    def fallback(writers: dict[type, Cell], value: Any) -> Cell:
        """The writer for a type not in the table (a subclass, say), remembered for next time."""
        for kind in (bool, dt.datetime, dt.date, dt.time, Decimal, int, float, str):
            if isinstance(value, kind):
                writers[type(value)] = writers[kind]
                return writers[kind]
        string = writers[str]

        def w_other(r: int, c: int, v: Any) -> Any:
            return string(r, c, str(v))

        writers[type(value)] = w_other
        return w_other


def _width(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, dt.datetime):
        return 19
    if isinstance(value, dt.date):
        return 10
    if isinstance(value, int | float | Decimal):
        return len(f"{value:,}") + 1 if not isinstance(value, Decimal) else len(str(value)) + 2
    text = str(value)
    # East Asian characters are about two columns wide
    return len(text) + sum(1 for ch in text if ord(ch) >= 0x2E80)


class XlsxFormat(ReportFormat):
    key = "xlsx"
    extension = "xlsx"
    content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

    def write(
        self, data: ReportData, out: IO[bytes], progress: Callable[[float], None] | None = None
    ) -> int:
        return _Job().run(data, out, progress)


class _Job:
    """One file being written (FORMAT is shared between threads; its state lives here)."""

    def run(
        self, data: ReportData, out: IO[bytes], progress: Callable[[float], None] | None
    ) -> int:
        tracker = Progress(progress, data)
        book = xlsxwriter.Workbook(
            out,
            {
                "constant_memory": True,
                "strings_to_numbers": False,
                "strings_to_formulas": False,
                "strings_to_urls": False,
            },
        )
        book.set_properties(
            {
                "title": data.meta.title,
                "subject": f"{data.meta.hospital_name} ({data.meta.hospital_code})",
                "author": data.meta.generated_by,
                "company": data.meta.hospital_name,
                "created": data.meta.generated_at.replace(tzinfo=None),
            }
        )
        self.styles = _Styles(book)
        self.writer = _Writer(self.styles)
        self.names: set[str] = set()
        try:
            self._summary(book, data)
            for table in data.tables:
                ws = book.add_worksheet(self._sheet_name(table.title or table.key))
                self._grid(ws, table.columns, iter(table.rows))
            for series in data.series:
                self._series(book, series.key, series.title, series.kind, series.x, series.y)
            tracker.head_done()
            total = 0
            for index, listing in enumerate(data.listings):
                tracker.listing_start(index)
                total += self._listing(book, listing.title or listing.key, listing, tracker)
                tracker.listing_end()
        finally:
            book.close()
        tracker.done()
        return total

    # -- sheets ------------------------------------------------------------------------------

    def _sheet_name(self, wanted: str) -> str:
        base = _BAD_SHEET_CHARS.sub(" ", wanted).strip().strip("'")[:31] or "Sheet"
        name, n = base, 1
        while name.lower() in self.names:
            n += 1
            suffix = f" ({n})"
            name = base[: 31 - len(suffix)] + suffix
        self.names.add(name.lower())
        return name

    def _summary(self, book: Any, data: ReportData) -> None:
        ws = book.add_worksheet(self._sheet_name("Summary"))
        s = self.styles
        meta = data.meta
        ws.write_string(0, 0, meta.title, s.title)
        rows: list[tuple[str, Any, Any]] = [
            ("Hospital", meta.hospital_name, None),
            ("Hospital code", meta.hospital_code, None),
            ("Template", meta.template_key, None),
            ("Period start", meta.period_start, s.date),
            ("Period end", meta.period_end, s.date),
            ("Filters", filters_text(meta.filters), None),
            ("Generated by", meta.generated_by, None),
            ("Generated at", meta.generated_at.replace(tzinfo=None), s.datetime),
            (
                "Time zone",
                meta.generated_at.strftime("UTC%z") if meta.generated_at.tzinfo else "",
                None,
            ),
        ]
        r = 2
        for label, value, fmt in rows:
            ws.write_string(r, 0, label, s.label)
            if isinstance(value, dt.date):
                ws.write_datetime(r, 1, value, fmt)
            else:
                ws.write_string(r, 1, str(value))
            r += 1
        widths = [max(len(x[0]) for x in rows) + 2, 40, 12]
        if data.figures:
            r += 1
            writers = self.writer.cell_writers(ws)
            top = r
            for c, head in enumerate(("Figure", "Value", "Unit")):
                ws.write_string(r, c, head, s.header)
            for f in data.figures:
                r += 1
                ws.write_string(r, 0, f.label)
                value = f.value
                (writers.get(type(value)) or self.writer.fallback(writers, value))(r, 1, value)
                if f.unit:
                    ws.write_string(r, 2, f.unit)
                widths[0] = max(widths[0], min(MAX_WIDTH, _width(f.label) + 2))
            ws.autofilter(top, 0, r, 2)
        for c, w in enumerate(widths):
            ws.set_column(c, c, w)

    def _rows(
        self,
        ws: Any,
        start: int,
        rows: Iterator[Sequence[Any]],
        limit: int,
        tracker: Progress | None,
        done: int,
    ) -> int:
        writers = self.writer.cell_writers(ws)
        fallback = self.writer.fallback
        r = start
        end = start + limit
        for row in rows:
            for c, v in enumerate(row):
                w = writers.get(type(v))
                if w is None:
                    w = fallback(writers, v)
                w(r, c, v)
            r += 1
            if tracker is not None and (r - start + done) % PROGRESS_EVERY == 0:
                tracker.rows(r - start + done)
            if r >= end:
                break
        return r - start

    def _series(
        self,
        book: Any,
        key: str,
        title: str,
        kind: str,
        x: Sequence[Any],
        y: dict[str, Sequence[Any]],
    ) -> None:
        name = self._sheet_name(title or key)
        ws = book.add_worksheet(name)
        columns = ["x", *y]
        n = self._grid(ws, columns, iter(series_rows(x, y)))
        chart = book.add_chart({"type": "column" if kind == "bar" else "line"})
        for i, series_name in enumerate(y, start=1):
            chart.add_series(
                {
                    "name": [name, 0, i],
                    "categories": [name, 1, 0, max(n, 1), 0],
                    "values": [name, 1, i, max(n, 1), i],
                    "marker": {"type": "circle", "size": 4} if kind != "bar" else {"type": "none"},
                }
            )
            del series_name
        chart.set_title({"name": title or key})
        chart.set_legend({"position": "bottom" if len(y) > 1 else "none"})
        chart.set_size({"width": 720, "height": 360})
        ws.insert_chart(1, len(columns) + 1, chart)

    def _listing(self, book: Any, title: str, listing: Any, tracker: Progress) -> int:
        rows = iter(listing.rows())
        columns = list(listing.columns)
        ws = book.add_worksheet(self._sheet_name(title))
        # the first sheet sizes the columns from a sample; continuation sheets reuse the header
        total = self._grid(ws, columns, rows, tracker, 0)
        part = 1
        while True:
            peek = list(islice(rows, 1))
            if not peek:
                break
            part += 1
            ws = book.add_worksheet(self._sheet_name(f"{title[:24]} ({part})"))
            total += self._grid(ws, columns, chain(peek, rows), tracker, total)
        return total

    def _grid(
        self,
        ws: Any,
        columns: Sequence[str],
        rows: Iterator[Sequence[Any]],
        tracker: Progress | None = None,
        done: int = 0,
    ) -> int:
        """Header row, then ``rows`` (at most as many as a sheet holds); returns the number of
        data rows written."""
        s = self.styles
        sample = list(islice(rows, SAMPLE_ROWS))
        widths = [_width(c) + 3 for c in columns]
        ncols = len(columns)
        for row in sample:
            for c, v in enumerate(row[:ncols]):
                w = _width(v)
                if w > widths[c]:
                    widths[c] = w
        for c, w in enumerate(widths):
            ws.set_column(c, c, min(MAX_WIDTH, max(8, w + 1)))
        for c, head in enumerate(columns):
            ws.write_string(0, c, str(head), s.header)
        ws.freeze_panes(1, 0)
        # itertools.chain, not a generator: closing a generator would close the listing too
        written = self._rows(ws, 1, chain(sample, rows), MAX_ROWS - 1, tracker, done)
        ws.autofilter(0, 0, max(written, 1), max(ncols - 1, 0))
        return written


FORMAT = XlsxFormat()
