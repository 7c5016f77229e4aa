"""JSON: a documented, versioned structure, written incrementally.

The file is one object (described by ``report.schema.json`` next to this module)::

    {
      "format": "hospitium-report",
      "version": 1,
      "meta": {
        "title": "Visit trends", "template": "visit_trends",
        "hospital": {"code": "ALPHA", "name": "…"},
        "period": {"start": "2024-01-01", "end": "2024-12-31"},
        "filters": {…},
        "generated_by": "…", "generated_at": "2025-01-02T09:15:30+02:00"
      },
      "figures": [{"key": …, "label": …, "value": 1234 | 12.5 | "12.50" | null, "unit": …}],
      "tables": [{"key": …, "title": …, "columns": [...], "rows": [[...], ...]}],
      "series": [{"key": …, "title": …, "kind": "line" | "bar", "x": [...],
                  "y": {"name": [numbers…]}}],
      "listings": [{"key": …, "title": …, "columns": [...], "rows": [[...], ...], "count": n}]
    }

Rows are arrays in ``columns`` order. Values: dates and datetimes ISO 8601 strings (aware
datetimes keep their offset); ``Decimal`` a string with its exact digits (money must not go
through binary floating point); ``None`` and non-finite floats ``null``; text UTF-8, not escaped.

Listing rows are streamed to the file in batches (the document is never held in memory), so
``count`` comes after ``rows``. ``version`` changes only when a reader would have to change:
added keys do not change it.
"""

from __future__ import annotations

import json as _json
from collections.abc import Callable, Sequence
from typing import IO, Any

from hospitium.reports.base import ReportData, ReportFormat
from hospitium.reports.formats.common import (
    PROGRESS_EVERY,
    Progress,
    batched,
    json_default,
    json_safe,
)

FORMAT_NAME = "hospitium-report"
VERSION = 1

_encode = _json.JSONEncoder(
    ensure_ascii=False, allow_nan=False, default=json_default, separators=(",", ":")
).encode


def _dumps(value: Any) -> str:
    try:
        return _encode(value)
    except ValueError:  # NaN or infinity somewhere: null them
        return _encode(json_safe(value))


def _row(row: Sequence[Any]) -> str:
    return _dumps(row if isinstance(row, list) else list(row))


class JsonFormat(ReportFormat):
    key = "json"
    extension = "json"
    content_type = "application/json"

    def write(
        self, data: ReportData, out: IO[bytes], progress: Callable[[float], None] | None = None
    ) -> int:
        tracker = Progress(progress, data)
        meta = data.meta

        def put(chunk: str) -> None:
            out.write(chunk.encode("utf-8"))

        head = {
            "format": FORMAT_NAME,
            "version": VERSION,
            "meta": {
                "title": meta.title,
                "template": meta.template_key,
                "hospital": {"code": meta.hospital_code, "name": meta.hospital_name},
                "period": {
                    "start": meta.period_start.isoformat(),
                    "end": meta.period_end.isoformat(),
                },
                "filters": json_safe(meta.filters),
                "generated_by": meta.generated_by,
                "generated_at": meta.generated_at.isoformat(),
            },
            "figures": [
                {"key": f.key, "label": f.label, "value": json_safe(f.value), "unit": f.unit}
                for f in data.figures
            ],
            "tables": [
                {
                    "key": t.key,
                    "title": t.title,
                    "columns": list(t.columns),
                    "rows": [list(r) for r in t.rows],
                }
                for t in data.tables
            ],
            "series": [
                {
                    "key": s.key,
                    "title": s.title,
                    "kind": s.kind,
                    "x": list(s.x),
                    "y": {name: list(values) for name, values in s.y.items()},
                }
                for s in data.series
            ],
        }
        text = _json.dumps(json_safe(head), ensure_ascii=False, allow_nan=False, indent=1)
        put(text[: text.rstrip().rfind("}")].rstrip() + ',\n "listings": [')

        total = 0
        for index, listing in enumerate(data.listings):
            opening = _dumps(
                {"key": listing.key, "title": listing.title, "columns": list(listing.columns)}
            )
            put(("\n  " if index == 0 else ",\n  ") + opening[:-1] + ',"rows":[')
            tracker.listing_start(index)
            count = 0
            for batch in batched(listing.rows(), PROGRESS_EVERY // 10):
                lead = "\n   " if count == 0 else ",\n   "
                put(lead + ",\n   ".join(map(_row, batch)))
                count += len(batch)
                if count % PROGRESS_EVERY < len(batch):
                    tracker.rows(count)
            put(f'\n  ],"count":{count}}}')
            tracker.listing_end()
            total += count
        put("\n ]\n}\n" if data.listings else "]\n}\n")
        tracker.done()
        return total


FORMAT = JsonFormat()
