"""The calendar day of a stored moment in the reporting time zone, in plain SQL on SQLite.

Rule triggers compare a moment with a day (a treatment's date with its visit's start, joining a
campaign within its dates) in ``settings.TIME_ZONE``, as the services do. On SQLite that used to
be a Python function the backend registers, called once per written row: besides the call
itself, a function called from inside a statement must take Python's GIL, so a writer thread
(the demo generator's) waited on the generating thread for every such row.

Now each SQLite hospital store holds the zone's UTC offsets in a small table: one row per span
of constant offset from 1900 to 2100 (``hospitium_zone_span``: the span's first UTC moment as
Django stores moments, ``YYYY-MM-DD HH:MM:SS``, and the shift that turns it into local time),
and the key of the zone they were computed from (``hospitium_time_zone``). The local day of a
stored moment is then ``date(moment, shift)`` of the last span starting at or before it — one
seek in the table's primary key. Values outside the window, or not in Django's text form, go
to the Python function, which stays exact for any value (a connection without it, such as the
``sqlite3`` shell, fails closed for those). PostgreSQL keeps its native ``AT TIME ZONE``.

The SQLite backend keeps the table in step with ``settings.TIME_ZONE``
(``tenancy.backends.sqlite3``): it reads the stored key at the start of every transaction and
whenever the setting changes, and rewrites the spans, inside that transaction, when the key
differs. The key names the zone and a digest of the tz database file it is read from, so an
update of the tz database refreshes the spans too.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.resources
import zoneinfo
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.utils import timezone

SPAN_TABLE = "hospitium_zone_span"
KEY_TABLE = "hospitium_time_zone"
#: The spans cover these UTC moments; others are left to the Python function.
WINDOW = (dt.datetime(1900, 1, 1, tzinfo=dt.UTC), dt.datetime(2100, 1, 1, tzinfo=dt.UTC))
#: Part of the key: a change in how spans are computed rewrites every store's table.
SPANS_VERSION = "1"
_TEXT = "%Y-%m-%d %H:%M:%S"
_STEP = dt.timedelta(days=1)

CREATE_TABLES = [
    "CREATE TABLE hospitium_zone_span (since TEXT NOT NULL PRIMARY KEY, shift TEXT) WITHOUT ROWID",
    "CREATE TABLE hospitium_time_zone (key TEXT NOT NULL)",
]
DROP_TABLES = ["DROP TABLE hospitium_zone_span", "DROP TABLE hospitium_time_zone"]


def sqlite_local_date(moment: str) -> str:
    """SQLite SQL for the ISO day, in the store's reporting zone, of ``moment`` (an SQL
    expression for a datetime as Django's SQLite backend stores it: naive UTC text).

    ``moment`` appears several times: pass a column, not a subquery.
    """
    # substr(…, 1, 19) drops the fraction, which date() would round (a moment a fraction of a
    # millisecond before midnight would land on the next day); the offset never has one. The
    # unary + strips the column's NUMERIC affinity (DateTimeField), which would otherwise make
    # SQLite compare numerically and scan the table instead of seeking its key (query plan).
    # ``moment`` is SQL written by a migration, never a value.
    spans = (
        f"(SELECT date(substr({moment}, 1, 19), z.shift) FROM hospitium_zone_span z "  # noqa: S608
        f"WHERE z.since <= +{moment} AND substr({moment}, 11, 1) = ' ' "
        "ORDER BY z.since DESC LIMIT 1)"
    )
    return f"COALESCE({spans}, hospitium_local_date({moment}))"


def _offset(zone: dt.tzinfo, at: dt.datetime) -> int:
    offset = at.astimezone(zone).utcoffset()
    return int(offset.total_seconds()) if offset is not None else 0


@lru_cache(maxsize=512)
def utc_offsets(
    zone: dt.tzinfo, start: dt.datetime, end: dt.datetime
) -> tuple[tuple[dt.datetime, int], ...]:
    """The spans of constant UTC offset of ``zone`` over ``[start, end)``: (first UTC instant,
    offset in seconds), the first span starting at ``start``.

    Looks at the offset once a day and finds each change to the second by bisection (zones
    change offset on whole seconds, never twice within a day: checked for every zone of the tz
    database from 1900 to 2100, see docs/integrity.md). Raises ValueError for naive bounds.
    """
    if timezone.is_naive(start) or timezone.is_naive(end):
        raise ValueError("the bounds of a period are aware datetimes")
    start, end = start.astimezone(dt.UTC), end.astimezone(dt.UTC)
    spans = [(start, _offset(zone, start))]
    day = start
    while day < end:
        following = min(day + _STEP, end)
        if _offset(zone, following) != spans[-1][1]:
            low, high = int(day.timestamp()), int(following.timestamp())
            while high - low > 1:
                middle = (low + high) // 2
                at = dt.datetime.fromtimestamp(middle, dt.UTC)
                if _offset(zone, at) == spans[-1][1]:
                    low = middle
                else:
                    high = middle
            changed = dt.datetime.fromtimestamp(high, dt.UTC)
            spans.append((changed, _offset(zone, changed)))
        day = following
    return tuple(spans)


@lru_cache(maxsize=32)
def zone_spans(name: str) -> tuple[tuple[str, str | None], ...]:
    """The rows of the span table for zone ``name``: (first UTC moment, shift), the last row
    (the window's end) with no shift, so that later moments go to the Python function.

    Raises ``zoneinfo.ZoneInfoNotFoundError`` for an unknown zone.
    """
    rows: list[tuple[str, str | None]] = [
        (at.strftime(_TEXT), f"{offset:+d} seconds")
        for at, offset in utc_offsets(zoneinfo.ZoneInfo(name), *WINDOW)
    ]
    rows.append((WINDOW[1].strftime(_TEXT), None))
    return tuple(rows)


def _tz_file(name: str) -> bytes:
    # Where zoneinfo itself reads the zone from: the TZPATH folders first, then the tzdata
    # package. Only the digest of these bytes is used, to notice a tz database update.
    for root in zoneinfo.TZPATH:
        path = Path(root) / name
        if path.is_file():
            return path.read_bytes()
    try:
        package, _, leaf = f"tzdata.zoneinfo.{name.replace('/', '.')}".rpartition(".")
        return importlib.resources.files(package).joinpath(leaf).read_bytes()
    except (ImportError, OSError, ValueError):
        return b""


@lru_cache(maxsize=32)
def zone_key(name: str) -> str:
    """What identifies the spans of zone ``name``: the name, a digest of its tz database file,
    and the version of the span computation."""
    digest = hashlib.sha256(_tz_file(name)).hexdigest()[:16]
    return f"{name}|{digest}|{SPANS_VERSION}"


def stored_key(raw: Any) -> str | None:
    """The zone key a SQLite store holds (``raw``: a sqlite3 connection); None when it holds
    none. Raises sqlite3.OperationalError when the store has no such table (not migrated)."""
    row = raw.execute("SELECT key FROM hospitium_time_zone").fetchone()
    return None if row is None else str(row[0])


def write_spans(raw: Any, name: str) -> None:
    """Replace a SQLite store's spans by those of zone ``name`` (``raw``: a sqlite3 connection,
    inside a write transaction the caller owns)."""
    raw.execute("DELETE FROM hospitium_zone_span")
    raw.executemany(
        "INSERT INTO hospitium_zone_span (since, shift) VALUES (?, ?)", zone_spans(name)
    )
    raw.execute("DELETE FROM hospitium_time_zone")
    raw.execute("INSERT INTO hospitium_time_zone (key) VALUES (?)", (zone_key(name),))
