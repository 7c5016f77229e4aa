"""Fleet report tests: the fake template (tests.reports.fakes) with a format that writes what
it was given as JSON, so a test can read the merged figures back exactly."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import IO, Any

import pytest

from hospitium.reports import registry
from hospitium.reports.base import ReportData, ReportFormat
from tests.reports.fakes import FakeCsv

PLATFORM = "testserver"
ALPHA = "alpha.example.test"
BODY = {"date_from": "2025-01-01", "date_to": "2025-03-31", "format": "json"}


class DumpJson(ReportFormat):
    key = "json"
    extension = "json"
    content_type = "application/json"

    def write(
        self, data: ReportData, out: IO[bytes], progress: Callable[[float], None] | None = None
    ) -> int:
        payload = {
            "hospital": data.meta.hospital_name,
            "figures": {f.key: f.value for f in data.figures},
            "tables": {t.key: [list(row) for row in t.rows] for t in data.tables},
        }
        out.write(json.dumps(payload, default=str).encode())
        if progress:
            progress(1.0)
        return 0


def read(content: bytes) -> dict[str, Any]:
    return json.loads(content)


@pytest.fixture
def fleet_formats(monkeypatch, fake_reports):
    monkeypatch.setattr(registry, "formats", lambda: {"csv": FakeCsv(), "json": DumpJson()})
