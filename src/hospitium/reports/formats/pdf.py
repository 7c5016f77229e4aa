"""PDF with ReportLab's platypus.

Layout (A4 portrait): a title block (hospital, report title, period, filters, who generated it
and when), the headline figures as a grid, one chart per series (line or bar, drawn with
``reportlab.graphics``), the tables (header row repeated on every page, zebra rows), then the
listings. Every page has a footer with the hospital, the report and "page N of M".

Listings are laid out in chunks of ``CHUNK_ROWS`` rows built as the rows stream in (the document
never holds one giant table), with fixed column widths and row heights so that ReportLab does not
measure every cell. A PDF is for reading, not for a million rows: each listing stops after
``MAX_LISTING_ROWS`` rows with a note that the CSV, Excel and JSON formats carry all of them; the
count returned is the number of rows the PDF shows.

Text uses DejaVu Sans when the system has it (Latin, Greek, Cyrillic…), else ReportLab's bundled
Vera; both are embedded (subset), so any PDF reader shows the same glyphs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from decimal import Decimal
from itertools import islice
from pathlib import Path
from typing import IO, Any

from reportlab.graphics.charts.barcharts import VerticalBarChart  # type: ignore[import-untyped]
from reportlab.graphics.charts.legends import Legend  # type: ignore[import-untyped]
from reportlab.graphics.charts.linecharts import (  # type: ignore[import-untyped]
    HorizontalLineChart,
)
from reportlab.graphics.shapes import Drawing, String  # type: ignore[import-untyped]
from reportlab.lib import colors  # type: ignore[import-untyped]
from reportlab.lib.pagesizes import A4  # type: ignore[import-untyped]
from reportlab.lib.styles import ParagraphStyle  # type: ignore[import-untyped]
from reportlab.lib.units import mm  # type: ignore[import-untyped]
from reportlab.pdfbase import pdfmetrics  # type: ignore[import-untyped]
from reportlab.pdfbase.ttfonts import TTFont  # type: ignore[import-untyped]
from reportlab.pdfgen.canvas import Canvas  # type: ignore[import-untyped]
from reportlab.platypus import (  # type: ignore[import-untyped]
    BaseDocTemplate,
    CondPageBreak,
    Frame,
    KeepTogether,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)
from reportlab.rl_config import TTFSearchPath  # type: ignore[import-untyped]

from hospitium.reports.base import Listing, ReportData, ReportFormat
from hospitium.reports.formats.common import (
    PROGRESS_EVERY,
    Progress,
    display,
    filters_text,
    period_text,
)

CHUNK_ROWS = 200
MAX_LISTING_ROWS = 100_000
FONT = "HospitiumSans"
FONT_BOLD = "HospitiumSans-Bold"
PAGE = A4
MARGIN = 15 * mm
WIDTH = PAGE[0] - 2 * MARGIN
CELL_FONT_SIZE = 7.5
ROW_HEIGHT = 11.5
HEADER_BG = colors.HexColor("#1F4E79")
ZEBRA = [colors.white, colors.HexColor("#EEF3F8")]
PALETTE = [
    colors.HexColor(c)
    for c in ("#1F77B4", "#FF7F0E", "#2CA02C", "#D62728", "#9467BD", "#8C564B", "#E377C2")
]

_FONT_FILES = [
    ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "DejaVuSans-Bold.ttf"),
    ("/usr/share/fonts/dejavu/DejaVuSans.ttf", "DejaVuSans-Bold.ttf"),
]
_fonts_ready = False


def _register_fonts() -> None:
    global _fonts_ready
    if _fonts_ready:
        return
    regular = bold = None
    for path, bold_name in _FONT_FILES:
        candidate = Path(path)
        if candidate.exists() and (candidate.parent / bold_name).exists():
            regular, bold = str(candidate), str(candidate.parent / bold_name)
            break
    if regular is None:  # ReportLab's own Vera, always installed with it
        for folder in TTFSearchPath:
            if (Path(folder) / "Vera.ttf").exists():
                regular, bold = str(Path(folder) / "Vera.ttf"), str(Path(folder) / "VeraBd.ttf")
                break
    if regular is None or bold is None:
        regular, bold = "Vera.ttf", "VeraBd.ttf"
    pdfmetrics.registerFont(TTFont(FONT, regular))
    pdfmetrics.registerFont(TTFont(FONT_BOLD, bold))
    pdfmetrics.registerFontFamily(FONT, normal=FONT, bold=FONT_BOLD)
    _fonts_ready = True


def _styles() -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("base", fontName=FONT, fontSize=9.5, leading=12.5)
    return {
        "base": base,
        "hospital": ParagraphStyle(
            "hospital", parent=base, fontName=FONT_BOLD, fontSize=11, textColor=HEADER_BG
        ),
        "title": ParagraphStyle(
            "title", parent=base, fontName=FONT_BOLD, fontSize=20, leading=25, spaceAfter=6
        ),
        "h2": ParagraphStyle(
            "h2",
            parent=base,
            fontName=FONT_BOLD,
            fontSize=13,
            leading=17,
            spaceBefore=10,
            spaceAfter=5,
            textColor=HEADER_BG,
        ),
        "meta": ParagraphStyle("meta", parent=base, fontSize=9, leading=12),
        "fig_label": ParagraphStyle(
            "fig_label", parent=base, fontSize=8, leading=10, textColor=colors.HexColor("#555555")
        ),
        "fig_value": ParagraphStyle(
            "fig_value", parent=base, fontName=FONT_BOLD, fontSize=15, leading=19
        ),
        "note": ParagraphStyle(
            "note", parent=base, fontSize=8.5, textColor=colors.HexColor("#555555")
        ),
    }


def _esc(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class _NumberedCanvas(Canvas):
    """Holds pages back until the end so the footer can say "page N of M"."""

    footer_left = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pages: list[dict[str, Any]] = []

    def showPage(self) -> None:
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._pages)
        for state in self._pages:
            self.__dict__.update(state)
            self._footer(total)
            super().showPage()
        super().save()

    def _footer(self, total: int) -> None:
        self.saveState()
        self.setStrokeColor(colors.HexColor("#BBBBBB"))
        self.setLineWidth(0.5)
        self.line(MARGIN, MARGIN - 4 * mm, PAGE[0] - MARGIN, MARGIN - 4 * mm)
        self.setFont(FONT, 7.5)
        self.setFillColor(colors.HexColor("#555555"))
        doc = getattr(self, "_doctemplate", None)
        left = getattr(doc, "footer_text", "")
        self.drawString(MARGIN, MARGIN - 8 * mm, left)
        self.drawRightString(
            PAGE[0] - MARGIN, MARGIN - 8 * mm, f"page {self._pageNumber} of {total}"
        )
        self.restoreState()


class _Feed(list[Any]):
    """A flowable list that fills itself from a generator as platypus consumes it, so a long
    listing is laid out chunk by chunk and never held whole."""

    def __init__(self, source: Iterator[Any]) -> None:
        super().__init__()
        self._source: Iterator[Any] | None = source

    def __len__(self) -> int:
        while self._source is not None and super().__len__() < 3:
            try:
                self.append(next(self._source))
            except StopIteration:
                self._source = None
        return super().__len__()


class _Doc(BaseDocTemplate):
    footer_text = ""


def _number_like(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


class _Job:
    def __init__(self, data: ReportData, tracker: Progress) -> None:
        self.data = data
        self.tracker = tracker
        self.styles = _styles()
        self.total = 0

    # -- content -----------------------------------------------------------------------------

    def flowables(self) -> Iterator[Any]:
        s = self.styles
        data = self.data
        meta = data.meta
        yield Paragraph(_esc(f"{meta.hospital_name} ({meta.hospital_code})"), s["hospital"])
        yield Paragraph(_esc(meta.title), s["title"])
        generated_at = meta.generated_at.replace(microsecond=0)
        lines = [
            ("Period", period_text(meta)),
            ("Filters", filters_text(meta.filters)),
            ("Generated by", meta.generated_by),
            ("Generated at", generated_at.isoformat(sep=" ")),
            ("Template", meta.template_key),
        ]
        info = Table(
            [
                [Paragraph(f"<b>{_esc(k)}</b>", s["meta"]), Paragraph(_esc(v), s["meta"])]
                for k, v in lines
            ],
            colWidths=[32 * mm, WIDTH - 32 * mm],
            hAlign="LEFT",
        )
        info.setStyle(
            TableStyle(
                [
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ("LEFTPADDING", (0, 0), (-1, -1), 0),
                    ("BOTTOMPADDING", (0, 0), (-1, -1), 1),
                    ("TOPPADDING", (0, 0), (-1, -1), 1),
                    ("LINEBELOW", (0, -1), (-1, -1), 0.75, HEADER_BG),
                ]
            )
        )
        yield info
        yield Spacer(1, 4 * mm)
        if data.figures:
            yield Paragraph("Headline figures", s["h2"])
            yield self.figures()
        for series in data.series:
            yield KeepTogether(
                [
                    Paragraph(_esc(series.title), s["h2"]),
                    self.chart(series.kind, series.x, series.y),
                ]
            )
        for table in data.tables:
            yield CondPageBreak(40 * mm)
            yield Paragraph(_esc(table.title), s["h2"])
            if table.rows:
                yield from self.grid(table.columns, list(table.rows))
            else:
                yield Paragraph("No rows.", s["note"])
        self.tracker.head_done()
        for index, listing in enumerate(data.listings):
            yield CondPageBreak(40 * mm)
            yield Paragraph(_esc(listing.title), s["h2"])
            yield from self.listing(index, listing)

    def figures(self) -> Table:
        s = self.styles
        per_row = 3
        cells = []
        for f in self.data.figures:
            value = "–" if f.value is None else display(f.value)
            unit = f" <font size=9>{_esc(f.unit)}</font>" if f.unit else ""
            cells.append(
                [
                    Paragraph(_esc(f.label), s["fig_label"]),
                    Paragraph(_esc(value) + unit, s["fig_value"]),
                ]
            )
        while len(cells) % per_row:
            cells.append([])
        rows = [cells[i : i + per_row] for i in range(0, len(cells), per_row)]
        grid = Table(rows, colWidths=[WIDTH / per_row] * per_row, hAlign="LEFT")
        grid.setStyle(
            TableStyle(
                [
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ("BOX", (0, 0), (-1, -1), 0.5, colors.HexColor("#BBBBBB")),
                    ("INNERGRID", (0, 0), (-1, -1), 0.5, colors.HexColor("#DDDDDD")),
                    ("BACKGROUND", (0, 0), (-1, -1), colors.HexColor("#F7F9FB")),
                    ("TOPPADDING", (0, 0), (-1, -1), 5),
                    ("BOTTOMPADDING", (0, 0), (-1, -1), 6),
                ]
            )
        )
        return grid

    def chart(self, kind: str, x: Sequence[Any], y: dict[str, Sequence[Any]]) -> Drawing:
        height = 62 * mm
        drawing = Drawing(WIDTH, height)
        chart = VerticalBarChart() if kind == "bar" else HorizontalLineChart()
        chart.x, chart.y = 30, 28 if len(y) > 1 else 18
        chart.width, chart.height = WIDTH - 45, height - chart.y - 8
        values = [[(0 if v is None else float(v)) for v in ys] for ys in y.values()]
        if not values or not any(values):
            values = [[0.0] * max(1, len(x))]
        chart.data = values
        labels = [display(v) for v in x]
        step = max(1, len(labels) // 16 + (1 if len(labels) % 16 else 0)) if len(labels) > 16 else 1
        chart.categoryAxis.categoryNames = [
            lab if i % step == 0 else "" for i, lab in enumerate(labels)
        ]
        chart.categoryAxis.labels.fontName = FONT
        chart.categoryAxis.labels.fontSize = 7
        chart.valueAxis.labels.fontName = FONT
        chart.valueAxis.labels.fontSize = 7
        chart.valueAxis.valueMin = min(0.0, *(min(v) for v in values if v))
        chart.valueAxis.visibleGrid = True
        chart.valueAxis.gridStrokeColor = colors.HexColor("#E3E3E3")
        for i in range(len(values)):
            color = PALETTE[i % len(PALETTE)]
            if kind == "bar":
                chart.bars[i].fillColor = color
                chart.bars[i].strokeColor = None
            else:
                chart.lines[i].strokeColor = color
                chart.lines[i].strokeWidth = 1.5
        if kind == "bar":
            chart.barSpacing = 1
            chart.groupSpacing = 4
        drawing.add(chart)
        if len(y) > 1:
            legend = Legend()
            legend.x, legend.y = 30, 6
            legend.fontName = FONT
            legend.fontSize = 7.5
            legend.alignment = "right"
            legend.columnMaximum = 1
            legend.dx = legend.dy = 7
            legend.colorNamePairs = [(PALETTE[i % len(PALETTE)], n) for i, n in enumerate(y)]
            drawing.add(legend)
        elif not x:
            drawing.add(String(WIDTH / 2, height / 2, "No data.", fontName=FONT, fontSize=9))
        return drawing

    # -- tables ------------------------------------------------------------------------------

    def layout(
        self, columns: Sequence[str], sample: Sequence[Sequence[Any]]
    ) -> tuple[list[float], list[bool], list[int]]:
        """Column widths (by content, scaled to the page), right alignment for numeric columns,
        and how many characters fit in each column."""
        n = max(1, len(columns))
        wants = [float(min(40, len(str(c)) + 2)) for c in columns]
        numeric = [True] * n
        for row in sample:
            for c, v in enumerate(row[:n]):
                if v is None:
                    continue
                wants[c] = max(wants[c], float(min(40, len(display(v)) + 1)))
                if not _number_like(v):
                    numeric[c] = False
        if not sample:
            numeric = [False] * n
        total = sum(wants) or 1.0
        widths = [WIDTH * w / total for w in wants]
        char_w = CELL_FONT_SIZE * 0.55
        fits = [max(3, int((w - 6) / char_w)) for w in widths]
        return widths, numeric, fits

    def grid(
        self,
        columns: Sequence[str],
        rows: Sequence[Sequence[Any]] | None = None,
        source: Iterator[Sequence[Any]] | None = None,
        shape: tuple[list[float], list[bool], list[int]] | None = None,
    ) -> Iterator[Table]:
        """Chunked tables of at most ``CHUNK_ROWS`` rows, header repeated on every page."""
        widths, numeric, fits = shape or self.layout(columns, rows or [])
        it: Iterator[Sequence[Any]] = iter(rows) if rows is not None else (source or iter(()))
        header = [_clip(str(c), f) for c, f in zip(columns, fits, strict=False)]
        ncols = len(columns)
        style = self.table_style(numeric)
        while chunk := list(islice(it, CHUNK_ROWS)):
            cells = [header]
            for row in chunk:
                cells.append([_clip(display(v), fits[c]) for c, v in enumerate(row[:ncols])])
            table = Table(
                cells,
                colWidths=widths,
                rowHeights=[ROW_HEIGHT + 2] + [ROW_HEIGHT] * len(chunk),
                repeatRows=1,
                hAlign="LEFT",
            )
            table.setStyle(style)
            yield table

    def table_style(self, numeric: list[bool]) -> TableStyle:
        commands: list[tuple[Any, ...]] = [
            ("FONTNAME", (0, 0), (-1, -1), FONT),
            ("FONTSIZE", (0, 0), (-1, -1), CELL_FONT_SIZE),
            ("LEADING", (0, 0), (-1, -1), CELL_FONT_SIZE + 1),
            ("FONTNAME", (0, 0), (-1, 0), FONT_BOLD),
            ("TEXTCOLOR", (0, 0), (-1, 0), colors.white),
            ("BACKGROUND", (0, 0), (-1, 0), HEADER_BG),
            ("ROWBACKGROUNDS", (0, 1), (-1, -1), ZEBRA),
            ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ("TOPPADDING", (0, 0), (-1, -1), 1),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
            ("LEFTPADDING", (0, 0), (-1, -1), 3),
            ("RIGHTPADDING", (0, 0), (-1, -1), 3),
            ("LINEBELOW", (0, -1), (-1, -1), 0.5, colors.HexColor("#BBBBBB")),
        ]
        for c, is_number in enumerate(numeric):
            if is_number:
                commands.append(("ALIGN", (c, 0), (c, -1), "RIGHT"))
        return TableStyle(commands)

    def listing(self, index: int, listing: Listing) -> Iterator[Any]:
        self.tracker.listing_start(index)
        rows = iter(listing.rows())
        sample = list(islice(rows, CHUNK_ROWS))
        if not sample:
            yield Paragraph("No rows.", self.styles["note"])
            self.tracker.listing_end()
            return
        shape = self.layout(listing.columns, sample)
        shown = 0
        truncated = False

        def counted() -> Iterator[Sequence[Any]]:
            nonlocal shown, truncated
            for row in sample:
                shown += 1
                yield row
            for row in rows:
                if shown >= MAX_LISTING_ROWS:
                    truncated = True
                    return
                shown += 1
                if shown % PROGRESS_EVERY == 0:
                    self.tracker.rows(shown)
                yield row

        yield from self.grid(listing.columns, source=counted(), shape=shape)
        self.total += shown
        if truncated:
            yield Paragraph(
                f"This listing stops after {MAX_LISTING_ROWS:,} rows; the CSV, Excel and JSON "
                "formats of this report carry every row.",
                self.styles["note"],
            )
        self.tracker.listing_end()


def _clip(value: str, fit: int) -> str:
    value = value.replace("\n", " ")
    return value if len(value) <= fit else value[: max(1, fit - 1)] + "…"


class PdfFormat(ReportFormat):
    key = "pdf"
    extension = "pdf"
    content_type = "application/pdf"

    def write(
        self, data: ReportData, out: IO[bytes], progress: Callable[[float], None] | None = None
    ) -> int:
        _register_fonts()
        tracker = Progress(progress, data)
        meta = data.meta
        doc = _Doc(
            out,
            pagesize=PAGE,
            leftMargin=MARGIN,
            rightMargin=MARGIN,
            topMargin=MARGIN,
            bottomMargin=MARGIN,
            title=meta.title,
            author=meta.generated_by,
            subject=f"{meta.hospital_name} — {period_text(meta)}",
            creator="Hospitium",
        )
        doc.footer_text = _clip(f"{meta.hospital_name} · {meta.title} · {period_text(meta)}", 110)
        frame = Frame(MARGIN, MARGIN, WIDTH, PAGE[1] - 2 * MARGIN, id="body")
        doc.addPageTemplates([PageTemplate(id="page", frames=[frame])])
        job = _Job(data, tracker)
        doc.build(_Feed(job.flowables()), canvasmaker=_NumberedCanvas)
        tracker.done()
        return job.total


FORMAT = PdfFormat()
