"""Listing rows streamed from the database (reports.streaming): the same values as Django's
values_list (ids as text, datetimes in the reporting zone), fetched one chunk at a time and only
as the writer asks for them, on every store."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from itertools import islice
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db.models.sql.compiler import SQLCompiler
from django.utils import timezone

from hospitium.encounters.models import Treatment, Visit
from hospitium.reports import streaming
from hospitium.reports.streaming import listing_values
from hospitium.tenancy.context import hospital_context
from tests import factories

ZONE = ZoneInfo("America/New_York")
COLUMNS = ("id", "started_at", "ended_at", "kind", "patient__mrn", "practitioner__display_name")


def _visits(count: int) -> None:
    doctor = factories.practitioner()
    patient = factories.patient()
    first = dt.datetime(2024, 11, 3, 4, 30, 0, 250, tzinfo=dt.UTC)  # around New York's change
    for n in range(count):
        start = first + dt.timedelta(minutes=37 * n)
        Visit.objects.create(
            patient=patient,
            practitioner=doctor,
            kind="dental" if n % 3 == 0 else "medical",
            started_at=start,
            ended_at=start + dt.timedelta(minutes=20) if n % 4 else None,
        )


def test_listing_values_equal_django_values_in_the_reporting_zone(hospital_a: Any) -> None:
    with hospital_context(hospital_a):
        _visits(12)
        queryset = Visit.objects.order_by("started_at", "id").values_list(*COLUMNS)
        expected = [
            (
                str(row[0]),
                timezone.localtime(row[1], ZONE),
                timezone.localtime(row[2], ZONE) if row[2] else None,
                *row[3:],
            )
            for row in queryset
        ]
        got = list(listing_values(queryset, ZONE))
    assert got == expected
    assert len(got) == 12
    for row, want in zip(got, expected, strict=True):
        assert isinstance(row[0], str) and row[0] == want[0]
        assert row[1].utcoffset() == want[1].utcoffset()  # the local offset, not UTC


def test_listing_values_keep_djangos_conversions_for_other_columns(hospital_a: Any) -> None:
    with hospital_context(hospital_a):
        _visits(1)
        visit = Visit.objects.get()
        Treatment.objects.create(
            visit=visit,
            procedure="Filling",
            performed_on=dt.date(2024, 11, 3),
            follow_up_required=True,
            follow_up_date=dt.date(2024, 11, 10),
        )
        queryset = Treatment.objects.values_list(
            "performed_on", "follow_up_required", "follow_up_date", "follow_up_kept_on"
        )
        got = list(listing_values(queryset, ZONE))
    assert got == [(dt.date(2024, 11, 3), True, dt.date(2024, 11, 10), None)]
    assert got[0][1] is True


def test_listing_values_fetch_one_chunk_at_a_time_as_rows_are_asked_for(
    hospital_a: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(streaming, "CHUNK_SIZE", 5)
    pulled: list[int] = []
    calls: list[dict[str, Any]] = []
    original = SQLCompiler.execute_sql

    def watched(self: SQLCompiler, *args: Any, **kwargs: Any) -> Any:
        result = original(self, *args, **kwargs)
        if not kwargs.get("chunked_fetch"):
            return result
        calls.append(kwargs)

        def chunks() -> Iterator[Any]:
            for chunk in result:
                pulled.append(len(chunk))
                yield chunk

        return chunks()

    with hospital_context(hospital_a):
        _visits(23)
        monkeypatch.setattr(SQLCompiler, "execute_sql", watched)
        rows = listing_values(Visit.objects.order_by("started_at").values_list("id"), ZONE)
        first = list(islice(rows, 7))
        assert len(first) == 7
        assert pulled == [5, 5]  # only what the writer has asked for so far
        rest = list(rows)
    assert len(first) + len(rest) == 23
    assert pulled == [5, 5, 5, 5, 3]
    assert calls == [{"chunked_fetch": True, "chunk_size": 5}]


def test_listing_values_refuse_anything_but_a_values_list(hospital_a: Any) -> None:
    with hospital_context(hospital_a), pytest.raises(ValueError, match="values_list"):
        list(listing_values(Visit.objects.all(), ZONE))
