"""Local-time buckets and elapsed seconds computed in SQL (reports.timebuckets): equal to Python's
own time-zone arithmetic around daylight-saving changes, month and day ends, in zones with
whole-hour, half-hour and no changes; on every store."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from hospitium.encounters.models import Visit
from hospitium.reports.timebuckets import LocalBucket, SecondsBetween, utc_offsets
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
