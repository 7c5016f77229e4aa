"""A small fake report template and format for the generation, storage and API tests, registered
by monkeypatching the registries (the real ones are tested in test_templates_*/test_formats)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import IO, Any

import pytest
from django.core.cache import cache
from django.db.models import Count
from rest_framework import serializers

from hospitium.patients.models import Patient
from hospitium.reports import registry
from hospitium.reports.base import (
    BaseParameters,
    Figure,
    Listing,
    ReportData,
    ReportFormat,
    ReportMeta,
    ReportTemplate,
    Series,
    Table,
)
from hospitium.reports.errors import ReportError

#: Called by the fake format in the middle of writing (tests plant a cancel or a crash here).
HOOKS: dict[str, Callable[[], None]] = {}
BUILDS: list[dict[str, Any]] = []


class FakeParameters(BaseParameters):
    sex = serializers.ChoiceField(choices=["", "female", "male"], required=False, default="")
    explode = serializers.ChoiceField(choices=["", "user", "internal"], required=False, default="")


class FakeTemplate(ReportTemplate):
    key = "fake_counts"
    title = "Fake counts"
    description = "Patients counted by sex (tests only)."
    parameters = FakeParameters
    cache_seconds = 900
    formats = ("csv", "json")

    def build(self, params: dict[str, Any], meta: ReportMeta) -> ReportData:
        BUILDS.append(params)
        if params.get("explode") == "user":
            raise ReportError("There are no patients of that kind in the period; widen it.")
        if params.get("explode") == "internal":
            raise RuntimeError("division by zero in the secret sauce")
        patients = Patient.objects.all()
        if params.get("sex"):
            patients = patients.filter(sex=params["sex"])
        by_sex = list(patients.values("sex").annotate(n=Count("pk")).order_by("sex"))
        data = ReportData(
            meta=meta,
            figures=[Figure("patients", "Patients", patients.count(), "patients")],
            tables=[
                Table("by_sex", "By sex", ["sex", "patients"], [(r["sex"], r["n"]) for r in by_sex])
            ],
            series=[
                Series(
                    "by_sex",
                    "By sex",
                    "bar",
                    [r["sex"] for r in by_sex],
                    {"patients": [r["n"] for r in by_sex]},
                )
            ],
        )
        if params.get("include_rows"):

            def rows() -> Iterator[tuple[Any, ...]]:
                yield from patients.order_by("mrn").values_list("mrn", "sex").iterator()

            data.listings.append(Listing("patients", "Patients", ["mrn", "sex"], rows))
        return data


class FakeCsv(ReportFormat):
    key = "csv"
    extension = "csv"
    content_type = "text/csv; charset=utf-8"

    def write(
        self, data: ReportData, out: IO[bytes], progress: Callable[[float], None] | None = None
    ) -> int:
        lines = [f"# {data.meta.hospital_code} {data.meta.template_key}"]
        lines += [f"{f.key},{f.value}" for f in data.figures]
        for table in data.tables:
            lines += [f"{a},{b}" for a, b in table.rows]
        out.write(("\n".join(lines) + "\n").encode())
        if progress:
            progress(0.5)
        if "during_write" in HOOKS:
            HOOKS["during_write"]()
        rows = 0
        for listing in data.listings:
            for row in listing.rows():
                out.write((",".join(map(str, row)) + "\n").encode())
                rows += 1
                if progress:
                    progress(0.5 + 0.5 * rows / 1000)
        if progress:
            progress(1.0)
        return rows


class FakeJson(FakeCsv):
    key = "json"
    extension = "json"
    content_type = "application/json"


@pytest.fixture
def fake_reports(monkeypatch, settings, _isolated_home):
    """Registries holding only the fake template and formats; media under the test's home."""
    settings.MEDIA_ROOT = _isolated_home / "media"
    monkeypatch.setattr(registry, "templates", lambda: {"fake_counts": FakeTemplate()})
    monkeypatch.setattr(registry, "formats", lambda: {"csv": FakeCsv(), "json": FakeJson()})
    HOOKS.clear()
    BUILDS.clear()
    cache.clear()
    yield
    HOOKS.clear()
    cache.clear()


PERIOD = {"date_from": "2025-01-01", "date_to": "2025-03-31"}
