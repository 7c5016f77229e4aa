"""Identifiers for hospital rows: UUIDv7, time-ordered so primary-key indexes stay compact."""

from __future__ import annotations

import datetime as dt
import uuid

import uuid6

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MILLISECOND = dt.timedelta(milliseconds=1)
#: The version (7) and variant (0b10) bits of a UUIDv7, every other bit after the time zero.
_V7_BITS = (0x7 << 76) | (0x2 << 62)


def new_id() -> uuid.UUID:
    """Return a new time-ordered UUID (version 7) as a standard uuid.UUID."""
    return uuid.UUID(int=uuid6.uuid7().int)


def first_id_at(moment: dt.datetime) -> uuid.UUID:
    """Return the smallest UUIDv7 of ``moment``'s millisecond: every id made at that
    millisecond or later is greater or equal (ids compare as their 128-bit numbers, on both
    stores). A moment before 1970 gives the first millisecond of 1970.

    Raises ValueError for a naive datetime (its instant is unknown).
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("first_id_at needs an aware datetime")
    milliseconds = max(0, (moment - _EPOCH) // _MILLISECOND)
    return uuid.UUID(int=(milliseconds << 80) | _V7_BITS)
