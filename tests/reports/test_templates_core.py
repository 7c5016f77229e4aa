"""The core report templates (patient summary, visit trends, treatment outcomes, feedback):
every figure equals an independent computation in plain Python over the ORM's rows, voided rows
and the period's boundaries (in a non-UTC time zone) included; parameters; listings; isolation."""

from __future__ import annotations

import datetime as dt
import statistics
from collections import Counter
from typing import Any

import pytest

from hospitium.encounters.models import Diagnosis, Treatment, Visit
from hospitium.feedback.models import Feedback
from hospitium.patients.models import Patient
from hospitium.reports.base import ReportData
from hospitium.reports.templates import (
    feedback_analysis,
    patient_summary,
    treatment_outcomes,
    visit_trends,
)
from hospitium.tenancy.context import hospital_context
from tests import factories
from tests.reports import tplhelp1 as h


@pytest.fixture(autouse=True)
def _zone(settings: Any) -> None:
    settings.TIME_ZONE = h.TZ


@pytest.fixture
def filled(hospital_a: Any) -> dict[str, Any]:
    return h.fill(hospital_a)


def listing_count(data: ReportData, key: str) -> int:
    listing = next(found for found in data.listings if found.key == key)
    return sum(1 for _ in listing.rows())


def age_at(birth: dt.date, day: dt.date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


# -- patient summary ------------------------------------------------------------------------


def test_patient_summary_figures(hospital_a: Any, filled: dict[str, Any]) -> None:
    data = h.build(patient_summary.TEMPLATE, hospital_a, include_rows=True)
    with hospital_context(hospital_a):
        patients = list(Patient.objects.values("id", "created_at", "status", "sex", "birth_date"))
        visits = list(Visit.all_objects.values("patient_id", "started_at", "voided_at"))
    registered = [p for p in patients if h.local_date(p["created_at"]) <= h.DATE_TO]
    new = [p for p in registered if h.in_period(p["created_at"])]
    seen = {
        v["patient_id"] for v in visits if v["voided_at"] is None and h.in_period(v["started_at"])
    }
    got = h.figures(data)
    assert got["patients_total"] == len(registered)
    assert got["patients_new"] == len(new) > 0
    assert got["patients_active"] == sum(p["status"] == "active" for p in registered)
    assert got["patients_inactive"] == sum(p["status"] == "inactive" for p in registered)
    assert got["patients_deceased"] == sum(p["status"] == "deceased" for p in registered)
    assert got["patients_seen"] == len(seen) > 0

    x, y = h.series(data, "registrations_per_month")
    per_month = Counter(h.month_key(p["created_at"]) for p in new)
    assert x == h.MONTHS
    assert y["registrations"] == [per_month.get(m, 0) for m in h.MONTHS]

    bands = [
        ("0-4", 0),
        ("5-14", 5),
        ("15-24", 15),
        ("25-44", 25),
        ("45-64", 45),
        ("65-79", 65),
        ("80+", 80),
    ]

    def band(birth: dt.date) -> str:
        age = age_at(birth, h.DATE_TO)
        return [label for label, low in bands if age >= low][-1] if age >= 0 else "0-4"

    expected = Counter((band(p["birth_date"]), p["sex"]) for p in registered)
    rows = h.table(data, "age_sex")
    assert [row[0] for row in rows] == [label for label, _ in bands]
    for row in rows:
        cells = [expected[(row[0], sex)] for sex in ("female", "male", "other", "unknown")]
        assert row[1:] == [*cells, sum(cells)]
    assert sum(row[-1] for row in rows) == len(registered)
    assert listing_count(data, "patients") == len(new)


def test_patient_summary_boundaries(hospital_a: Any) -> None:
    """Only the boundary patients (no demo data): exactly the two inside the period count."""
    with hospital_context(hospital_a):
        for at, _inside in h.BOUNDARIES:
            patient = factories.patient()
            Patient.objects.filter(pk=patient.pk).update(created_at=at)
    got = h.figures(h.build(patient_summary.TEMPLATE, hospital_a))
    assert got["patients_new"] == 2
    assert got["patients_total"] == 3


# -- visit trends ---------------------------------------------------------------------------


def expected_visits(kind: str = "both", department: Any = None) -> list[dict[str, Any]]:
    rows = list(
        Visit.all_objects.values(
            "id", "kind", "started_at", "voided_at", "patient_id", "practitioner__department_id"
        )
    )
    return [
        v
        for v in rows
        if v["voided_at"] is None
        and h.in_period(v["started_at"])
        and kind in ("both", v["kind"])
        and department in (None, v["practitioner__department_id"])
    ]


@pytest.mark.parametrize("kind", ["both", "medical", "dental"])
def test_visit_trends_figures(hospital_a: Any, filled: dict[str, Any], kind: str) -> None:
    data = h.build(visit_trends.TEMPLATE, hospital_a, kind=kind, include_rows=True)
    with hospital_context(hospital_a):
        visits = expected_visits(kind)
    got = h.figures(data)
    assert got["visits_total"] == len(visits) > 0
    assert got["visits_medical"] == sum(v["kind"] == "medical" for v in visits)
    assert got["visits_dental"] == sum(v["kind"] == "dental" for v in visits)
    assert got["patients_seen"] == len({v["patient_id"] for v in visits})

    x, y = h.series(data, "visits_per_month")
    assert x == h.MONTHS
    for name in ("medical", "dental"):
        per_month = Counter(h.month_key(v["started_at"]) for v in visits if v["kind"] == name)
        assert y[name] == [per_month.get(m, 0) for m in h.MONTHS]

    x, y = h.series(data, "visits_by_hour")
    per_hour = Counter(v["started_at"].astimezone(h.ZONE).hour for v in visits)
    assert len(x) == 24
    assert y["visits"] == [per_hour.get(hour, 0) for hour in range(24)]

    per_day = Counter(h.local_date(v["started_at"]) for v in visits)
    ranked = sorted(per_day.items(), key=lambda item: (-item[1], item[0]))[:10]
    rows = h.table(data, "peak_days")
    assert [(row[0], row[3]) for row in rows] == ranked
    for row in rows:
        day_visits = [v for v in visits if h.local_date(v["started_at"]) == row[0]]
        assert row[1] == sum(v["kind"] == "medical" for v in day_visits)
        assert row[2] == sum(v["kind"] == "dental" for v in day_visits)
    assert listing_count(data, "visits") == len(visits)


@pytest.mark.parametrize("below", [0.0, 1e9])
def test_patients_seen_by_probe_and_by_distinct_agree(
    hospital_a: Any, filled: dict[str, Any], below: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both ways of counting the patients seen (a probe per patient; the distinct patients of
    the visits, for short periods) give the same number, and ``total`` picks the way."""
    from django.db import connections
    from django.test.utils import CaptureQueriesContext

    from hospitium.reports.templates.visit_trends import patients_seen

    monkeypatch.setattr(visit_trends, "DISTINCT_BELOW", below)
    with hospital_context(hospital_a):
        visits = Visit.objects.filter(voided_at__isnull=True, kind="medical")
        expected = len(set(visits.values_list("patient_id", flat=True)))
        total = visits.count()
        with CaptureQueriesContext(connections[visits.db]) as queries:
            seen = patients_seen(visits, total)
        assert patients_seen(visits) == expected  # without a total: the probe
        assert patients_seen(visits.none(), 0) == 0
        assert 0 < expected <= Patient.objects.count()
    assert seen == expected
    counted = queries.captured_queries[-1]["sql"].upper()
    assert ("DISTINCT" in counted) == (below > 0) and ("EXISTS" in counted) == (below == 0)


def test_visit_trends_department_and_boundaries(hospital_a: Any, filled: dict[str, Any]) -> None:
    department = filled["department"].pk
    data = h.build(visit_trends.TEMPLATE, hospital_a, department=str(department), include_rows=True)
    with hospital_context(hospital_a):
        visits = expected_visits(department=department)
    # Two boundary instants inside the period, medical and dental each; the voided visit and
    # the instants one second outside are not counted.
    assert len(visits) == 5  # 4 boundary visits + the visit whose treatment was voided
    got = h.figures(data)
    assert got["visits_total"] == 5
    assert got["visits_dental"] == 2
    assert got["patients_seen"] == len({v["patient_id"] for v in visits})
    _, y = h.series(data, "visits_per_month")
    assert y["medical"] == [1, 0, 1, 0, 0, 1]
    assert y["dental"] == [1, 0, 0, 0, 0, 1]
    assert listing_count(data, "visits") == 5


@pytest.mark.parametrize(
    ("extra", "field", "message"),
    [
        ({"kind": "surgical"}, "kind", "not a visit kind"),
        ({"department": "cardiology"}, "department", "UUID"),
        ({"department": "00000000-0000-7000-8000-000000000000"}, "department", "No department"),
        ({"date_to": "2024-08-01"}, "date_to", "before its start"),
    ],
)
def test_visit_trends_parameters(
    hospital_a: Any, extra: dict[str, str], field: str, message: str
) -> None:
    data = {"date_from": "2024-09-01", "date_to": "2025-02-28", **extra}
    with hospital_context(hospital_a):
        serializer = visit_trends.TEMPLATE.parameters(data=data)
        assert not serializer.is_valid()
    assert message in str(serializer.errors[field])


# -- treatment outcomes ---------------------------------------------------------------------


def live_treatments(department: Any = None) -> list[dict[str, Any]]:
    rows = Treatment.all_objects.values(
        "id",
        "procedure",
        "outcome",
        "performed_on",
        "voided_at",
        "visit__voided_at",
        "follow_up_required",
        "follow_up_date",
        "follow_up_kept_on",
        "visit__practitioner__department_id",
        "visit__practitioner__department__name",
    )
    return [
        t
        for t in rows
        if t["voided_at"] is None
        and t["visit__voided_at"] is None
        and department in (None, t["visit__practitioner__department_id"])
    ]


def success(rows: list[dict[str, Any]]) -> float | None:
    judged = [t for t in rows if t["outcome"]]
    good = [t for t in judged if t["outcome"] in ("resolved", "improved")]
    return round(100.0 * len(good) / len(judged), 2) if judged else None


OUTCOME_NAMES = ["resolved", "improved", "unchanged", "worsened"]


def outcome_cells(rows: list[dict[str, Any]]) -> list[Any]:
    counts = Counter(t["outcome"] for t in rows)
    return [*(counts[o] for o in OUTCOME_NAMES), counts[""], len(rows), success(rows)]


@pytest.mark.parametrize("by_department", [False, True])
def test_treatment_outcomes_figures(
    hospital_a: Any, filled: dict[str, Any], by_department: bool
) -> None:
    department = filled["department"].pk if by_department else None
    extra = {"department": str(department)} if department else {}
    data = h.build(treatment_outcomes.TEMPLATE, hospital_a, include_rows=True, **extra)
    with hospital_context(hospital_a):
        live = live_treatments(department)
        diagnoses = [
            d
            for d in Diagnosis.all_objects.values(
                "code",
                "description",
                "voided_at",
                "visit__voided_at",
                "visit__started_at",
                "visit__practitioner__department_id",
            )
            if d["voided_at"] is None
            and d["visit__voided_at"] is None
            and h.in_period(d["visit__started_at"])
            and department in (None, d["visit__practitioner__department_id"])
        ]
    treatments = [t for t in live if h.in_period(t["performed_on"])]
    due = [t for t in live if t["follow_up_required"] and h.in_period(t["follow_up_date"])]
    kept = [t for t in due if t["follow_up_kept_on"] is not None]
    got = h.figures(data)
    assert got["treatments_total"] == len(treatments) > 0
    assert got["treatments_with_outcome"] == sum(bool(t["outcome"]) for t in treatments)
    assert got["success_rate"] == success(treatments)
    assert got["follow_ups_due"] == len(due) > 0
    assert got["follow_ups_kept"] == len(kept)
    if by_department:
        # Boundary rows (medical and dental each): Sep 1 (resolved) and Feb 28 (worsened) are
        # in; follow-ups due Sep 1 (from Aug 31, not kept) and Sep 2 (kept) are in, Mar 1 and
        # Mar 2 are out; the voided treatment is not counted.
        assert got["treatments_total"] == 4
        assert got["success_rate"] == 50.0
        assert (got["follow_ups_due"], got["follow_ups_kept"]) == (4, 2)

    def grouped(key: str) -> dict[Any, list[dict[str, Any]]]:
        groups: dict[Any, list[dict[str, Any]]] = {}
        for t in treatments:
            groups.setdefault(t[key], []).append(t)
        return groups

    for table_key, field in (
        ("by_procedure", "procedure"),
        ("by_department", "visit__practitioner__department__name"),
    ):
        groups = grouped(field)
        rows = h.table(data, table_key)
        assert {row[0] for row in rows} == set(groups)
        for row in rows:
            assert row[1:] == outcome_cells(groups[row[0]])
        totals = [row[-2] for row in rows]
        assert totals == sorted(totals, reverse=True)

    codes = Counter(d["code"] for d in diagnoses)
    ranked = sorted(codes.items(), key=lambda item: (-item[1], item[0]))[:10]
    rows = h.table(data, "top_diagnoses")
    assert [(row[0], row[2]) for row in rows] == ranked
    assert "Z99.8" not in codes and "Z99.9" not in codes
    for row in rows:
        assert row[1] == max(d["description"] for d in diagnoses if d["code"] == row[0])
    assert listing_count(data, "treatments") == len(treatments)


def test_treatment_outcomes_parameters(hospital_a: Any) -> None:
    with hospital_context(hospital_a):
        serializer = treatment_outcomes.TEMPLATE.parameters(
            data={"date_from": "2024-09-01", "date_to": "2025-02-28", "department": "x"}
        )
        assert not serializer.is_valid()
    assert "UUID" in str(serializer.errors["department"])
    serializer = treatment_outcomes.TEMPLATE.parameters(data={"date_from": "2024-09-01"})
    assert not serializer.is_valid()
    assert "date_to" in serializer.errors


# -- feedback analysis ----------------------------------------------------------------------


def test_feedback_analysis_figures(hospital_a: Any, filled: dict[str, Any]) -> None:
    data = h.build(feedback_analysis.TEMPLATE, hospital_a, include_rows=True)
    with hospital_context(hospital_a):
        rows = [
            f
            for f in Feedback.objects.values(
                "rating", "submitted_at", "responded_at", "visit__voided_at"
            )
            if f["visit__voided_at"] is None and h.in_period(f["submitted_at"])
        ]
    times = [
        (f["responded_at"] - f["submitted_at"]).total_seconds() / 3600
        for f in rows
        if f["responded_at"] is not None
    ]
    got = h.figures(data)
    assert got["feedback_count"] == len(rows) > 0
    assert got["rating_average"] == pytest.approx(
        statistics.mean(f["rating"] for f in rows), abs=0.005
    )
    assert got["responded_count"] == len(times) > 2
    assert got["response_hours_average"] == pytest.approx(statistics.mean(times), abs=0.005)
    assert got["response_hours_median"] == pytest.approx(statistics.median(times), abs=0.005)
    p95 = statistics.quantiles(times, n=100, method="inclusive")[94]
    assert got["response_hours_p95"] == pytest.approx(p95, abs=0.005)
    # The voided visit's feedback (900 hours) would dominate the maximum.
    assert max(times) < 900

    x, y = h.series(data, "rating_distribution")
    ratings = Counter(f["rating"] for f in rows)
    assert x == ["1", "2", "3", "4", "5"]
    assert y["feedback"] == [ratings[r] for r in range(1, 6)]

    x, y = h.series(data, "rating_by_month")
    assert x == h.MONTHS
    for month, value in zip(h.MONTHS, y["average"], strict=True):
        chosen = [f["rating"] for f in rows if h.month_key(f["submitted_at"]) == month]
        if chosen:
            assert value == pytest.approx(statistics.mean(chosen), abs=0.005)
        else:
            assert value is None
    assert listing_count(data, "feedback") == len(rows)


def test_feedback_boundaries_and_empty_period(hospital_a: Any) -> None:
    """Only boundary feedback: two of four count; an empty period gives no statistics."""
    with hospital_context(hospital_a):
        doctor = factories.practitioner()
        for n, (at, _inside) in enumerate(h.BOUNDARIES):
            visit = Visit.objects.create(
                patient=factories.patient(), practitioner=doctor, started_at=at
            )
            Feedback.objects.create(
                visit=visit, rating=n + 1, submitted_at=at, responded_at=at + dt.timedelta(hours=n)
            )
    got = h.figures(h.build(feedback_analysis.TEMPLATE, hospital_a))
    assert (got["feedback_count"], got["responded_count"]) == (2, 2)
    assert got["rating_average"] == 2.5
    assert got["response_hours_median"] == 1.5
    assert got["response_hours_p95"] == pytest.approx(1.95)
    empty = feedback_analysis.TEMPLATE.parameters(
        data={"date_from": "2030-01-01", "date_to": "2030-01-31"}
    )
    assert empty.is_valid()
    meta = h.build(feedback_analysis.TEMPLATE, hospital_a).meta
    with hospital_context(hospital_a):
        data = feedback_analysis.TEMPLATE.build(dict(empty.validated_data), meta)
    got = h.figures(data)
    assert got["feedback_count"] == 0
    assert got["rating_average"] is None
    assert got["response_hours_median"] is None and got["response_hours_p95"] is None


# -- every template -------------------------------------------------------------------------

ALL = [patient_summary, visit_trends, treatment_outcomes, feedback_analysis]


@pytest.mark.parametrize("module", ALL, ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_isolation_between_hospitals(hospital_a: Any, hospital_b: Any, module: Any) -> None:
    """BRAVO's report sees none of ALPHA's data; ALPHA's equals ALPHA alone."""
    h.fill(hospital_a)
    alone = h.build(module.TEMPLATE, hospital_a, include_rows=True)
    empty = h.build(module.TEMPLATE, hospital_b, include_rows=True)
    assert all(not figure.value for figure in empty.figures)
    assert all(listing_count(empty, listing.key) == 0 for listing in empty.listings)
    h.fill(hospital_b, seed=11, patients=25)
    both = h.build(module.TEMPLATE, hospital_a, include_rows=True)
    assert h.figures(both) == h.figures(alone)
    assert [t.rows for t in both.tables] == [t.rows for t in alone.tables]
    assert [s.y for s in both.series] == [s.y for s in alone.series]


@pytest.mark.parametrize("module", ALL, ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_template_interface(hospital_a: Any, filled: dict[str, Any], module: Any) -> None:
    template = module.TEMPLATE
    assert template.key == module.__name__.rsplit(".", 1)[-1]
    assert 900 <= template.cache_seconds <= 7200
    assert h.build(template, hospital_a).listings == []
    data = h.build(template, hospital_a, include_rows=True)
    (listing,) = data.listings
    # The listing streams (values_list iterator), also when consumed outside the hospital.
    rows = iter(listing.rows())
    first = next(rows)
    assert len(first) == len(listing.columns)
    assert 1 + sum(1 for _ in rows) == listing_count(data, listing.key)
