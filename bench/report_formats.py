"""The report formats on large inputs (no Django, no database: rows come from an in-memory
generator, since the database side is measured elsewhere).

    .venv/bin/python -m bench.report_formats [--rows 1000000] [--pdf-pages 50] [--json out.json]

Each measurement runs in a fresh child process, so peak RSS (``ru_maxrss``) is that one
measurement's alone:

* xlsx: a listing of ``--rows`` rows through ``formats.xlsx`` (peak RSS target ≤ 150 MB) against
  XlsxWriter alone (constant memory, ``write_row``) writing the same rows from the same generator
  (time target ≤ 1.5×);
* csv: ``--rows`` rows through ``formats.csv`` (target ≥ 200,000 rows/s) against ``csv.writer``
  alone;
* json: ``--rows`` rows through ``formats.json`` (for information);
* pdf: a report with figures, two charts, a table and a listing sized to about ``--pdf-pages``
  pages (target ≤ 2 s), best of three.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TZ = dt.timezone(dt.timedelta(hours=1))
NAMES = ["Zoë Ångström", "Иван Петров", "李小龙", "Amélie Poulain", "Jean Dupont", "Ana Lima"]
COLUMNS = ["visit_id", "date", "started_at", "patient", "department", "amount", "kind", "notes"]
DEPARTMENTS = ["Cardiología", "Pédiatrie", "Dental", "Emergency", "Стоматология"]
ROWS_PER_PDF_PAGE = 60  # measured: the listing lays out about 60 rows on an A4 page


POOL = 10_000


def rows(n: int):
    """``n`` rows cycling through a pool of 10,000 distinct ones built up front (so that the
    generator costs next to nothing and the measurement is the writer's)."""
    pool = list(_make_rows(min(n, POOL)))
    for i in range(n):
        yield pool[i % POOL]


def _make_rows(n: int):
    base_day = dt.date(2024, 1, 1)
    base_time = dt.datetime(2024, 1, 1, 8, 0, tzinfo=TZ)
    for i in range(n):
        yield (
            i + 1,
            base_day + dt.timedelta(days=i % 366),
            base_time + dt.timedelta(seconds=37 * i),
            NAMES[i % 6],
            DEPARTMENTS[i % 5],
            Decimal(i % 5000) / 100,
            "dental" if i % 3 == 0 else "medical",
            None if i % 4 else "follow-up booked",
        )


def report(n: int):
    from hospitium.reports.base import Figure, Listing, ReportData, ReportMeta, Series, Table

    months = [f"2024-{m:02d}" for m in range(1, 13)]
    return ReportData(
        meta=ReportMeta(
            hospital_code="BENCH",
            hospital_name="Hôpital Saint-Éloi",
            template_key="visit_trends",
            title="Visit trends",
            period_start=dt.date(2024, 1, 1),
            period_end=dt.date(2024, 12, 31),
            filters={"department": "all"},
            generated_by="bench",
            generated_at=dt.datetime(2025, 1, 1, 12, 0, tzinfo=TZ),
        ),
        figures=[
            Figure("visits", "Visits", n, "visits"),
            Figure("patients", "Patients", n // 3, "patients"),
            Figure("revenue", "Revenue", "123456.78", "EUR"),
            Figure("success", "Success rate", 91.2, "%"),
        ],
        tables=[
            Table(
                "by_department",
                "Visits by department",
                ["department", "visits", "revenue"],
                [[d, 1000 + i, Decimal("1234.50") * i] for i, d in enumerate(DEPARTMENTS)],
            )
        ],
        series=[
            Series(
                "per_month",
                "Visits per month",
                "line",
                months,
                {
                    "medical": [100 + 7 * m for m in range(12)],
                    "dental": [40 + 3 * m for m in range(12)],
                },
            ),
            Series(
                "per_hour",
                "Visits by hour",
                "bar",
                list(range(24)),
                {"visits": [(h * 37) % 200 for h in range(24)]},
            ),
        ],
        listings=[Listing("visits", "Every visit", COLUMNS, lambda: rows(n))],
    )


# -- children: one measurement each ---------------------------------------------------------


def child(kind: str, n: int, path: str) -> dict[str, Any]:
    written = n
    if kind in ("xlsx", "csv", "json", "pdf"):
        from hospitium.reports import registry  # imports (Django's among them) are not timed

        registry.formats()
    start = time.perf_counter()
    if kind == "xlsx-baseline":
        import xlsxwriter  # type: ignore[import-untyped]

        book = xlsxwriter.Workbook(
            path,
            {"constant_memory": True, "remove_timezone": True, "default_date_format": "yyyy-mm-dd"},
        )
        ws = book.add_worksheet("rows")
        ws.write_row(0, 0, COLUMNS)
        for r, row in enumerate(rows(n), start=1):
            ws.write_row(r, 0, row)
        book.close()
    elif kind == "csv-baseline":
        import csv

        with open(path, "w", encoding="utf-8", newline="") as f:
            w = csv.writer(f)
            w.writerow(COLUMNS)
            w.writerows(rows(n))
    elif kind in ("xlsx", "csv", "json", "pdf"):
        from hospitium.reports import registry

        fmt = registry.formats()[kind]
        data = report(n)
        with open(path, "wb") as f:
            written = fmt.write(data, f, lambda fraction: None)
    else:
        raise SystemExit(f"unknown measurement {kind}")
    seconds = time.perf_counter() - start
    result = {
        "kind": kind,
        "rows": written,
        "seconds": seconds,
        "rows_per_second": written / seconds if seconds else 0.0,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "bytes": Path(path).stat().st_size,
    }
    if kind == "pdf":
        import pypdf

        result["pages"] = len(pypdf.PdfReader(path).pages)
    return result


def run(kind: str, n: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / f"out.{kind.split('-')[0]}")
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            [str(ROOT / "src"), str(ROOT), env.get("PYTHONPATH", "")]
        )
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "bench.report_formats",
                "--child",
                kind,
                "--rows",
                str(n),
                "--out",
                path,
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode:
            raise SystemExit(f"{kind} failed:\n{done.stderr}")
        return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--pdf-pages", type=int, default=50)
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.rows, args.out)))
        return

    n = args.rows
    results: dict[str, Any] = {}
    for kind in ("xlsx-baseline", "xlsx", "csv-baseline", "csv", "json"):
        results[kind] = r = run(kind, n)
        print(
            f"{kind:14} {r['rows']:>9,} rows {r['seconds']:7.2f} s "
            f"{r['rows_per_second']:>9,.0f} rows/s peak RSS {r['peak_rss_mb']:6.1f} MB  "
            f"{r['bytes'] / 1e6:7.1f} MB file",
            flush=True,
        )
    pdf_rows = max(1, args.pdf_pages * ROWS_PER_PDF_PAGE)
    pdf_runs = [run("pdf", pdf_rows) for _ in range(3)]
    times = ", ".join(f"{x['seconds']:.2f}" for x in pdf_runs)
    results["pdf"] = r = min(pdf_runs, key=lambda x: x["seconds"])
    print(
        f"{'pdf':14} {r['rows']:>9,} rows {r['seconds']:7.2f} s ({r['pages']} pages, best of 3; "
        f"runs {times} s) peak RSS {r['peak_rss_mb']:.1f} MB",
        flush=True,
    )

    xlsx_ratio = results["xlsx"]["seconds"] / results["xlsx-baseline"]["seconds"]
    checks = [
        (
            f"xlsx peak RSS {results['xlsx']['peak_rss_mb']:.1f} MB ≤ 150 MB",
            results["xlsx"]["peak_rss_mb"] <= 150,
        ),
        (f"xlsx time {xlsx_ratio:.2f}× XlsxWriter alone ≤ 1.5×", xlsx_ratio <= 1.5),
        (
            f"csv {results['csv']['rows_per_second']:,.0f} rows/s ≥ 200,000",
            results["csv"]["rows_per_second"] >= 200_000,
        ),
        (f"pdf {r['pages']} pages in {r['seconds']:.2f} s ≤ 2 s", r["seconds"] <= 2.0),
    ]
    print()
    for label, ok in checks:
        print(f"{'PASS' if ok else 'FAIL'}  {label}")
    results["checks"] = dict(checks)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
