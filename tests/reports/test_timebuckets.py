"""Local-time buckets and elapsed seconds computed in SQL (reports.timebuckets): equal to Python's
own time-zone arithmetic around daylight-saving changes, month and day ends, in zones with
whole-hour, half-hour and no changes; on every store."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db.models import Count, Q

from hospitium.encounters.models import Visit
from hospitium.reports.timebuckets import (
    LocalBucket,
    SecondsBetween,
    counts_by_local_hour,
    local_hour_starts,
    utc_offsets,
)
from hospitium.tenancy.context import hospital_context
from tests import factories

UTC = dt.UTC


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


def test_utc_offsets_find_each_daylight_saving_change_to_the_second() -> None:
    paris = ZoneInfo("Europe/Paris")
    start = dt.datetime(2024, 1, 1, tzinfo=paris)
    end = dt.datetime(2025, 1, 1, tzinfo=paris)
    assert utc_offsets(paris, start, end) == (
        (start.astimezone(UTC), 3600),
        (utc(2024, 3, 31, 1), 7200),
        (utc(2024, 10, 27, 1), 3600),
    )


@pytest.mark.parametrize(("name", "offset"), [("UTC", 0), ("Asia/Kolkata", 19800)])
def test_utc_offsets_of_a_zone_without_changes_is_one_span(name: str, offset: int) -> None:
    zone = ZoneInfo(name)
    start = dt.datetime(2020, 1, 1, tzinfo=zone)
    spans = utc_offsets(zone, start, dt.datetime(2024, 1, 1, tzinfo=zone))
    assert spans == ((start.astimezone(UTC), offset),)


def test_utc_offsets_refuse_naive_bounds() -> None:
    with pytest.raises(ValueError, match="aware"):
        utc_offsets(UTC, dt.datetime(2024, 1, 1), dt.datetime(2024, 2, 1))


def test_an_unknown_bucket_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown bucket"):
        LocalBucket("year", "started_at", start=utc(2024, 1, 1), end=utc(2025, 1, 1))


def _instants(zone: ZoneInfo, start: dt.datetime, end: dt.datetime) -> list[dt.datetime]:
    """Instants on both sides of every offset change, of month ends and of local midnights."""
    found: set[dt.datetime] = set()
    for at, _offset in utc_offsets(zone, start, end):
        for delta in (-3601, -1, 0, 1, 1799, 3599, 3600, 5400):
            found.add(at + dt.timedelta(seconds=delta, microseconds=250))
    for month in range(1, 13):
        midnight = dt.datetime(2024, month, 1, tzinfo=zone).astimezone(UTC)
        for delta in (-1, 0, 1):
            found.add(midnight + dt.timedelta(seconds=delta))
        # The last microsecond before a local midnight (SQLite's datetime() would round it up).
        found.add(midnight - dt.timedelta(microseconds=1))
    return sorted(at for at in found if start <= at < end)


@pytest.mark.parametrize(
    "name", ["Europe/Paris", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata", "UTC"]
)
def test_local_buckets_equal_python_around_every_change(hospital_a: Any, name: str) -> None:
    zone = ZoneInfo(name)
    start = dt.datetime(2024, 1, 1, tzinfo=zone)
    end = dt.datetime(2025, 1, 1, tzinfo=zone)
    instants = _instants(zone, start, end)
    with hospital_context(hospital_a):
        doctor = factories.practitioner()
        patient = factories.patient()
        Visit.objects.bulk_create(
            Visit(patient=patient, practitioner=doctor, started_at=at) for at in instants
        )
        got = list(
            Visit.objects.order_by("started_at").values_list(
                "started_at",
                *(
                    LocalBucket(kind, "started_at", start=start, end=end, zone=zone)
                    for kind in ("month", "week", "day", "hour", "dayhour")
                ),
            )
        )
    assert len(got) == len(instants) > 20
    for at, month, week, day, hour, dayhour in got:
        local = at.astimezone(zone)
        assert dayhour == f"{local:%Y-%m-%d %H}", (at, local)
        assert month == local.date().replace(day=1), (at, local)
        assert week == local.date() - dt.timedelta(days=local.weekday()), (at, local)
        assert day == local.date(), (at, local)
        assert hour == local.hour, (at, local)


def test_buckets_of_a_date_column_ignore_the_zone(hospital_a: Any) -> None:
    from hospitium.encounters.models import Treatment

    zone = ZoneInfo("Pacific/Kiritimati")
    with hospital_context(hospital_a):
        visit = Visit.objects.create(
            patient=factories.patient(),
            practitioner=factories.practitioner(),
            started_at=utc(2024, 2, 29, 9),
        )
        for day in (dt.date(2024, 2, 29), dt.date(2024, 3, 3), dt.date(2024, 3, 4)):
            Treatment.objects.create(visit=visit, procedure="x", performed_on=day)
        got = list(
            Treatment.objects.order_by("performed_on").values_list(
                "performed_on",
                LocalBucket("month", "performed_on", start=utc(2024, 1, 1), end=utc(2025, 1, 1)),
                LocalBucket(
                    "week", "performed_on", start=utc(2024, 1, 1), end=utc(2025, 1, 1), zone=zone
                ),
            )
        )
    assert got == [
        (dt.date(2024, 2, 29), dt.date(2024, 2, 1), dt.date(2024, 2, 26)),
        (dt.date(2024, 3, 3), dt.date(2024, 3, 1), dt.date(2024, 2, 26)),
        (dt.date(2024, 3, 4), dt.date(2024, 3, 1), dt.date(2024, 3, 4)),
    ]


@pytest.mark.parametrize("kind", ["hour", "dayhour"])
def test_an_hour_of_a_date_column_is_refused(hospital_a: Any, kind: str) -> None:
    from hospitium.encounters.models import Treatment

    bucket = LocalBucket(kind, "performed_on", start=utc(2024, 1, 1), end=utc(2025, 1, 1))
    with hospital_context(hospital_a), pytest.raises(ValueError, match="no hour"):
        list(Treatment.objects.values_list(bucket))


def test_seconds_between_is_exact_to_the_microsecond(hospital_a: Any) -> None:
    started = utc(2024, 3, 31, 0, 59, 59, 999_999)
    durations = [
        dt.timedelta(hours=3, microseconds=123),
        dt.timedelta(days=40, seconds=1, microseconds=999_999),
        dt.timedelta(0),
    ]
    with hospital_context(hospital_a):
        doctor = factories.practitioner()
        patient = factories.patient()
        for n, duration in enumerate(durations):
            start = started + dt.timedelta(days=60 * n)
            Visit.objects.create(
                patient=patient, practitioner=doctor, started_at=start, ended_at=start + duration
            )
        Visit.objects.create(patient=patient, practitioner=doctor, started_at=utc(2025, 1, 1))
        got = list(
            Visit.objects.order_by("started_at").values_list(
                SecondsBetween("ended_at", "started_at"), flat=True
            )
        )
    expected = [d.total_seconds() for d in durations]
    assert got[:3] == pytest.approx(expected, abs=1e-6)
    assert got[3] is None


ZONES = ["Europe/Paris", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata", "UTC"]
BY_KIND = {"medical": Count("kind", filter=Q(kind="medical")), "all": Count("id")}


@pytest.mark.parametrize("name", ZONES)
def test_counts_by_local_hour_equal_python_around_every_change(hospital_a: Any, name: str) -> None:
    """Every visit counted once, in its local hour (the fall-back hour holds both of its
    passes); the period's first instant in, its end out; rows outside not counted."""
    zone = ZoneInfo(name)
    start = dt.datetime(2024, 1, 1, tzinfo=zone)
    end = dt.datetime(2025, 1, 1, tzinfo=zone)
    instants = _instants(zone, start, end)
    instants += [start.astimezone(UTC), end.astimezone(UTC) - dt.timedelta(microseconds=1)]
    outside = [start - dt.timedelta(microseconds=1), end, end + dt.timedelta(days=3)]
    with hospital_context(hospital_a):
        doctor = factories.practitioner()
        patient = factories.patient()
        Visit.objects.bulk_create(
            Visit(
                patient=patient,
                practitioner=doctor,
                started_at=at,
                kind="medical" if n % 3 else "dental",
            )
            for n, at in enumerate([*instants, *outside])
        )
        got = counts_by_local_hour(
            Visit.objects.all(), "started_at", BY_KIND, start=start, end=end, zone=zone
        )
    medical: Counter[tuple[dt.date, int]] = Counter()
    every: Counter[tuple[dt.date, int]] = Counter()
    for n, at in enumerate(instants):
        local = at.astimezone(zone)
        every[(local.date(), local.hour)] += 1
        medical[(local.date(), local.hour)] += 1 if n % 3 else 0
    assert got == {key: (medical[key], every[key]) for key in every}
    assert sum(total for _medical, total in got.values()) == len(instants) > 20


def test_counts_by_local_hour_follow_the_querysets_filters_and_joins(hospital_a: Any) -> None:
    zone = ZoneInfo("Europe/Paris")
    start, end = dt.datetime(2024, 3, 1, tzinfo=zone), dt.datetime(2024, 4, 1, tzinfo=zone)
    with hospital_context(hospital_a):
        cardiology = factories.department(name="Cardiology")
        doctors = [factories.practitioner(department=cardiology), factories.practitioner()]
        patient = factories.patient()
        for n in range(12):
            Visit.objects.create(
                patient=patient,
                practitioner=doctors[n % 2],
                started_at=utc(2024, 3, 30, 23, 30) + dt.timedelta(minutes=20 * n),
                voided_at=utc(2024, 4, 2) if n == 4 else None,
                void_reason="entered twice" if n == 4 else "",
            )
        visits = Visit.objects.filter(practitioner__department=cardiology, voided_at=None)
        got = counts_by_local_hour(visits, "started_at", BY_KIND, start=start, end=end, zone=zone)
        nothing = counts_by_local_hour(
            Visit.objects.none(), "started_at", BY_KIND, start=start, end=end, zone=zone
        )
    # visits 0, 2, 6, 8, 10 (4 is voided): 00:30, 01:10 CET, then 03:30, 04:10, 04:50 CEST
    day = dt.date(2024, 3, 31)
    assert got == {(day, 0): (1, 1), (day, 1): (1, 1), (day, 3): (1, 1), (day, 4): (2, 2)}
    assert nothing == {}


def test_counts_by_local_hour_refuse_what_does_not_add_up(hospital_a: Any) -> None:
    start, end = utc(2024, 1, 1), utc(2024, 2, 1)
    with hospital_context(hospital_a), pytest.raises(ValueError, match="distinct"):
        counts_by_local_hour(
            Visit.objects.all(),
            "started_at",
            {"patients": Count("patient", distinct=True)},
            start=start,
            end=end,
            zone=UTC,
        )
    with pytest.raises(ValueError, match="aware"):
        counts_by_local_hour(
            Visit.objects.all(),
            "started_at",
            BY_KIND,
            start=dt.datetime(2024, 1, 1),
            end=dt.datetime(2024, 2, 1),
            zone=UTC,
        )


def test_local_hour_starts_cut_at_each_hour_and_each_change() -> None:
    zone = ZoneInfo("Australia/Lord_Howe")  # +11:00 in summer, +10:30 in winter
    start = dt.datetime(2024, 4, 7, 0, 0, tzinfo=zone)  # the change back: 02:00 -> 01:30
    end = dt.datetime(2024, 4, 7, 4, 0, tzinfo=zone)
    starts, offsets = local_hour_starts(zone, start, end)
    local = [str(dt.datetime.fromtimestamp(at, UTC).astimezone(zone)) for at in starts]
    assert local == [
        "2024-04-07 00:00:00+11:00",
        "2024-04-07 01:00:00+11:00",
        "2024-04-07 01:30:00+10:30",
        "2024-04-07 02:00:00+10:30",
        "2024-04-07 03:00:00+10:30",
    ]
    assert offsets == [39600, 39600, 37800, 37800, 37800]


def test_counts_by_local_hour_of_an_annotated_queryset_are_grouped_by_django(
    hospital_a: Any,
) -> None:
    from django.db.models import Value

    zone = ZoneInfo("Asia/Kolkata")
    start, end = dt.datetime(2024, 5, 1, tzinfo=zone), dt.datetime(2024, 5, 2, tzinfo=zone)
    with hospital_context(hospital_a):
        doctor, patient = factories.practitioner(), factories.patient()
        for minutes in (0, 29, 30, 95):
            Visit.objects.create(
                patient=patient,
                practitioner=doctor,
                started_at=start + dt.timedelta(minutes=minutes),
            )
        plain = counts_by_local_hour(
            Visit.objects.all(), "started_at", BY_KIND, start=start, end=end, zone=zone
        )
        annotated = counts_by_local_hour(
            Visit.objects.annotate(one=Value(1)),
            "started_at",
            BY_KIND,
            start=start,
            end=end,
            zone=zone,
        )
        with pytest.raises(ValueError, match="slice"):
            counts_by_local_hour(
                Visit.objects.all()[:2], "started_at", BY_KIND, start=start, end=end, zone=zone
            )
    day = dt.date(2024, 5, 1)
    assert plain == annotated == {(day, 0): (3, 3), (day, 1): (1, 1)}


def test_seconds_between_is_exact_over_centuries_and_at_every_fraction(hospital_a: Any) -> None:
    """julianday()'s rounded difference for the whole seconds: exact even two centuries apart
    (the doubles' error stays far below half a second), fractions kept to the microsecond."""
    pairs = [
        (utc(1901, 1, 1), utc(2099, 12, 31, 23, 59, 59, 999_999)),
        (utc(1970, 1, 1), utc(1970, 1, 1, 0, 0, 0, 1)),
        (utc(2024, 2, 28, 23, 59, 59, 999_999), utc(2024, 3, 1, 0, 0, 0, 1)),
        (utc(2000, 1, 1, 12, 0, 0, 500_000), utc(2000, 1, 1, 12, 0, 1, 499_999)),
        (utc(2037, 6, 30, 11, 59, 59), utc(2038, 1, 19, 3, 14, 8)),
        (utc(9998, 12, 31), utc(9999, 12, 31, 23, 59, 59, 999_999)),
    ]
    with hospital_context(hospital_a):
        doctor = factories.practitioner()
        patient = factories.patient()
        for started, ended in pairs:
            Visit.objects.create(
                patient=patient, practitioner=doctor, started_at=started, ended_at=ended
            )
        got = list(
            Visit.objects.order_by("started_at").values_list(
                SecondsBetween("ended_at", "started_at"), flat=True
            )
        )
    expected = [(ended - started).total_seconds() for started, ended in sorted(pairs)]
    assert got == pytest.approx(expected, abs=1e-6, rel=0)
