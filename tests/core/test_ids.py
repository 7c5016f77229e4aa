"""Row ids: UUIDv7, and the smallest one of a moment (the lower bound of a time filter)."""

from __future__ import annotations

import datetime as dt
import uuid
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from hospitium.core.ids import first_id_at, new_id

MOMENT = dt.datetime(2025, 3, 1, 8, 0, 0, 123456, tzinfo=dt.UTC)


def test_the_first_id_of_a_moment_carries_its_millisecond_and_is_a_uuid7():
    first = first_id_at(MOMENT)
    assert first.version == 7 and first.variant == uuid.RFC_4122
    assert first.int >> 80 == int(MOMENT.timestamp() * 1000)  # …08:00:00.123
    assert first.int & ((1 << 62) - 1) == 0  # nothing random: the smallest of its millisecond


def test_ids_made_from_a_moment_on_are_not_smaller_and_earlier_ones_are():
    before = timezone.now()
    made = [new_id() for _ in range(50)]
    assert all(first_id_at(before) <= made_id for made_id in made)
    assert all(made_id < first_id_at(timezone.now() + dt.timedelta(seconds=5)) for made_id in made)
    assert made == sorted(made)  # strictly increasing within a process


def test_the_same_instant_in_any_zone_gives_the_same_id():
    assert first_id_at(MOMENT) == first_id_at(MOMENT.astimezone(ZoneInfo("America/New_York")))


def test_a_moment_before_1970_gives_the_first_id_of_1970():
    assert first_id_at(dt.datetime(1969, 12, 31, tzinfo=dt.UTC)).int >> 80 == 0


def test_a_naive_moment_is_refused():
    with pytest.raises(ValueError, match="aware"):
        first_id_at(dt.datetime(2025, 3, 1, 8, 0))
