"""Every template in every format: a real hospital's data (demo data plus boundary rows), each
template built, each format written and read back with the program a user would open it with,
and the headline figures in the file equal to the ones the template computed (which the
template tests compare with independent computations)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from decimal import Decimal
from pathlib import Path

import jsonschema
import openpyxl
import pypdf
import pytest
from django.utils import timezone

from hospitium.reports import registry
from hospitium.reports.base import ReportData, ReportMeta
from hospitium.reports.formats.common import display, json_safe, text
from hospitium.tenancy.context import hospital_context
from tests.reports.tplhelp1 import DATE_FROM, DATE_TO, TZ, fill

pytestmark = pytest.mark.django_db

SCHEMA = json.loads((Path(registry.__file__).parent / "formats" / "report.schema.json").read_text())


def _equal(stored: object, value: object) -> bool:
    if value is None:
        return stored in (None, "")
    if isinstance(value, float):
        return abs(float(stored) - value) < 1e-6  # type: ignore[arg-type]
    if isinstance(value, Decimal):
        return Decimal(str(stored)) == value
    return str(stored) == text(value) or stored == value


def check_csv(raw: bytes, data: ReportData, listed: int) -> None:
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    start = rows.index(["# section: figures"]) + 2 if data.figures else None
    if start is not None:
        got = {row[0]: row[2] for row in rows[start : start + len(data.figures)]}
        for figure in data.figures:
            assert _equal(got[figure.key], figure.value), figure
    listing_rows = 0
    in_listing = False
    for row in rows:
        if row and row[0].startswith("# section:"):
            in_listing = row[0].startswith("# section: listing:")
            header = True
            continue
        if in_listing and row:
            if header:
                header = False
                continue
            listing_rows += 1
    assert listing_rows == listed


def check_json(raw: bytes, data: ReportData, listed: int) -> None:
    document = json.loads(raw)
    jsonschema.validate(document, SCHEMA)
    got = {f["key"]: f["value"] for f in document["figures"]}
    for figure in data.figures:
        assert got[figure.key] == json_safe(figure.value), figure
    assert sum(len(listing["rows"]) for listing in document["listings"]) == listed


def check_xlsx(raw: bytes, data: ReportData, listed: int) -> None:
    book = openpyxl.load_workbook(io.BytesIO(raw), read_only=True)
    summary = [list(row) for row in book["Summary"].iter_rows(values_only=True)]
    by_label = {row[0]: row[1] for row in summary if row and row[0] is not None}
    for figure in data.figures:
        stored = by_label[figure.label]
        if isinstance(figure.value, int | float) and not isinstance(figure.value, bool):
            assert abs(float(stored) - float(figure.value)) < 1e-6, figure
        else:
            assert _equal(stored, figure.value), figure
    assert len(book.sheetnames) >= 1 + len(data.tables) + len(data.series)


def check_pdf(raw: bytes, data: ReportData, listed: int) -> None:
    reader = pypdf.PdfReader(io.BytesIO(raw))
    first = " ".join(reader.pages[0].extract_text().split())
    assert data.meta.hospital_name in first
    everything = " ".join(" ".join(page.extract_text().split()) for page in reader.pages[:3])
    for figure in data.figures:
        assert figure.label in everything, figure
        if figure.value is not None:
            assert display(figure.value) in everything, figure


CHECKS = {"csv": check_csv, "json": check_json, "xlsx": check_xlsx, "pdf": check_pdf}


@pytest.mark.parametrize("template_key", registry.TEMPLATE_MODULES)
def test_every_format_of_a_template_reads_back_to_the_same_figures(
    template_key, hospital_a, settings
):
    settings.TIME_ZONE = TZ  # the fixture's days are New York days (treatments, campaigns)
    fill(hospital_a, patients=20)
    template = registry.templates()[template_key]
    formats = registry.formats()
    assert set(formats) == set(CHECKS)
    with hospital_context(hospital_a):
        params = template.parameters(
            data={"date_from": DATE_FROM, "date_to": DATE_TO, "include_rows": True}
        )
        params.is_valid(raise_exception=True)
        meta = ReportMeta(
            hospital_code="ALPHA",
            hospital_name="Alpha General",
            template_key=template.key,
            title=template.title,
            period_start=DATE_FROM,
            period_end=DATE_TO,
            filters={},
            generated_by="doctor@alpha.example.test",
            generated_at=timezone.now().replace(microsecond=0) or dt.datetime.now(dt.UTC),
        )
        data = template.build(dict(params.validated_data), meta)
        assert data.figures, "every template has headline figures"
        assert data.listings, "include_rows adds the underlying rows"
        counts = {}
        for key, fmt in formats.items():
            out = io.BytesIO()
            counts[key] = fmt.write(data, out)
            CHECKS[key](out.getvalue(), data, counts[key])
    # Every format wrote the same listing rows (the PDF stops far above this size).
    assert len(set(counts.values())) == 1, counts
