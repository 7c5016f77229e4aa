"""Local-time buckets (month, ISO week, day, hour, day-and-hour) and elapsed seconds, computed in
SQL.

Django's ``Trunc``/``Extract`` with a time zone, and the difference of two datetimes, compile on
SQLite to Python functions that the database calls once per row (``django_datetime_trunc``,
``django_timestamp_diff``…). Over a million visits that was most of a report's data step: visit
trends took 4.3× the time of hand-written SQL computing the same figures (``bench.reports_1m``,
docs/benchmarks.md). On SQLite these expressions instead work on the stored UTC text
(``YYYY-MM-DD HH:MM:SS[.ffffff]``): the local time is that text shifted by the zone's UTC offset,
and the offsets of the period are known before the query runs — one per span between two
daylight-saving changes, chosen with a ``CASE`` on the column (no ``CASE`` at all for UTC). So the
period's bounds are part of a bucket: rows outside ``[start, end)`` get the offset of the nearest
span, which only matters for a query that does not filter on the period, and none does.

PostgreSQL keeps Django's own expressions (``AT TIME ZONE`` is native there).
"""

from __future__ import annotations

import datetime as dt
import json
from itertools import pairwise
from typing import Any

from django.core.exceptions import EmptyResultSet, FullResultSet
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import (
    CharField,
    Count,
    DateField,
    DateTimeField,
    Expression,
    F,
    Field,
    FloatField,
    Func,
    IntegerField,
    QuerySet,
    Value,
)
from django.db.models.functions import ExtractHour, TruncDate, TruncHour, TruncMonth, TruncWeek
from django.db.models.sql.compiler import SQLCompiler
from django.utils import timezone

from hospitium.core.localdate import utc_offsets

SqlParams = tuple[str, tuple[Any, ...]]

KINDS = ("month", "week", "day", "hour", "dayhour")
_SQLITE_TEXT = "%Y-%m-%d %H:%M:%S"


def _shifted(column: str, offset: int) -> SqlParams:
    if offset == 0:
        return column, ()
    # The whole seconds only: datetime() rounds a fraction to the millisecond, which moved
    # "…:59.999999" into the next second — and at a local midnight into the next day or month.
    return f"datetime(substr({column}, 1, 19), %s)", (f"{offset:+d} seconds",)


def sqlite_local_text(column: str, spans: tuple[tuple[dt.datetime, int], ...]) -> SqlParams:
    """SQL for the local wall-clock time (``YYYY-MM-DD HH:MM:SS``) of a UTC datetime column."""
    if len({offset for _, offset in spans}) == 1:
        return _shifted(column, spans[0][1])
    parts: list[str] = ["CASE"]
    params: list[Any] = []
    for (_, offset), (following, _next) in pairwise(spans):
        sql, shift = _shifted(column, offset)
        parts.append(f"WHEN {column} < %s THEN {sql}")
        params += [following.strftime(_SQLITE_TEXT), *shift]
    sql, shift = _shifted(column, spans[-1][1])
    parts.append(f"ELSE {sql} END")
    params += shift
    return " ".join(parts), tuple(params)


class LocalBucket(Func):
    """The local month, ISO week (its Monday), day or hour of a datetime column, or the month or
    week of a date column: a ``date``, or an ``int`` for the hour. ``dayhour`` is the local day
    and hour together as text, ``YYYY-MM-DD HH``: one grouping that months, days and hours can
    all be summed from (what visit trends does, in one scan instead of three).

    ``start`` and ``end`` are the period the query is filtered on (aware datetimes). Raises
    ValueError for an unknown kind, and (when compiled) for an hour of a date column.
    """

    def __init__(
        self,
        kind: str,
        field: str | Expression,
        *,
        start: dt.datetime,
        end: dt.datetime,
        zone: dt.tzinfo | None = None,
    ) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown bucket {kind!r}: one of {', '.join(KINDS)}")
        self.kind = kind
        self.zone = zone or timezone.get_default_timezone()
        self.start, self.end = start, end
        output: Field[Any, Any] = DateField()
        if kind == "hour":
            output = IntegerField()
        elif kind == "dayhour":
            output = CharField()
        source = F(field) if isinstance(field, str) else field
        super().__init__(source, output_field=output)

    def _is_datetime(self) -> bool:
        return isinstance(self.get_source_expressions()[0].output_field, DateTimeField)

    def portable(self) -> Expression:
        """The same bucket as Django's own expression (used on PostgreSQL)."""
        source = self.get_source_expressions()[0]
        zone = self.zone if self._is_datetime() else None
        if zone is None and self.kind in ("hour", "dayhour"):
            raise ValueError("a date column has no hour")
        if self.kind == "month":
            return TruncMonth(source, tzinfo=zone, output_field=DateField())
        if self.kind == "week":
            return TruncWeek(source, tzinfo=zone, output_field=DateField())
        if self.kind == "day":
            return TruncDate(source, tzinfo=zone) if zone else source
        if self.kind == "dayhour":
            return Func(
                TruncHour(source, tzinfo=zone),
                Value("YYYY-MM-DD HH24"),
                function="to_char",
                output_field=CharField(),
            )
        return ExtractHour(source, tzinfo=zone)

    def convert_value(self, value: Any, expression: Any, connection: BaseDatabaseWrapper) -> Any:
        # Django's expressions on PostgreSQL give a (local, naive) timestamp for a truncated
        # month or week and a numeric for an hour; every store gives a date or an int here.
        if isinstance(value, dt.datetime):
            return value.date()
        if self.kind == "hour" and value is not None:
            return int(value)
        return value

    def as_sql(  # type: ignore[override]
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra: Any
    ) -> SqlParams:
        sql, params = compiler.compile(self.portable().resolve_expression(compiler.query))
        return sql, tuple(params)

    def as_sqlite(
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra: Any
    ) -> SqlParams:
        column, own = compiler.compile(self.get_source_expressions()[0])
        if own:  # not a plain column: Django's own (per-row) expression is still correct
            return self.as_sql(compiler, connection, **extra)
        if self._is_datetime():
            local, params = sqlite_local_text(column, utc_offsets(self.zone, self.start, self.end))
        elif self.kind in ("hour", "dayhour"):
            raise ValueError("a date column has no hour")
        else:
            local, params = column, ()
        if self.kind == "month":
            return f"(substr({local}, 1, 7) || '-01')", params
        if self.kind == "week":
            return f"date(substr({local}, 1, 10), '-6 days', 'weekday 1')", params
        if self.kind == "day":
            return f"substr({local}, 1, 10)", params
        if self.kind == "dayhour":
            return f"substr({local}, 1, 13)", params
        return f"CAST(substr({local}, 12, 2) AS INTEGER)", params


class SecondsBetween(Func):
    """``later - earlier`` in seconds (a float; None when either is None)."""

    output_field = FloatField()

    def __init__(self, later: str | Expression, earlier: str | Expression) -> None:
        super().__init__(
            F(later) if isinstance(later, str) else later,
            F(earlier) if isinstance(earlier, str) else earlier,
        )

    def as_sql(  # type: ignore[override]
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra: Any
    ) -> SqlParams:
        later, earlier = (compiler.compile(e) for e in self.get_source_expressions())
        return (
            f"EXTRACT(EPOCH FROM ({later[0]} - {earlier[0]}))::double precision",
            (*later[1], *earlier[1]),
        )

    def as_sqlite(
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra: Any
    ) -> SqlParams:
        (later, p1), (earlier, p2) = (compiler.compile(e) for e in self.get_source_expressions())
        # The whole seconds between the texts without their fractions (SQLite rounds a parsed
        # time to the millisecond, so "…:59.999999" would count as the next second), plus the
        # difference of the stored fractions (".ffffff", or "" which casts to 0): exact, where
        # julianday() of the full texts would be off by up to ~50 µs. The whole seconds are
        # julianday()'s difference rounded: two whole-second instants are a whole number of
        # seconds apart, and the doubles' error (~1e-4 s at most, for any year to 9999) is far
        # from half a second. strftime('%s') gave the same numbers in 1.6 times the time over
        # the 1M-visit hospital's 209,000 feedbacks (0.92 against 0.59 s).
        whole = "round((julianday(substr({0}, 1, 19)) - julianday(substr({1}, 1, 19))) * 86400.0)"
        fraction = "CAST(substr({0}, 20) AS REAL)"
        sql = (
            f"({whole.format(later, earlier)} + "
            f"({fraction.format(later)} - {fraction.format(earlier)}))"
        )
        return sql, (*p1, *p2, *p1, *p2)


#: ``date.toordinal()`` of 1970-01-01: a day count since the epoch to a date.
_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()
_HOUR = 3600

LocalHourCounts = dict[tuple[dt.date, int], tuple[int, ...]]


def counts_by_local_hour(
    queryset: QuerySet[Any, Any],
    field: str,
    counts: dict[str, Count],
    *,
    start: dt.datetime,
    end: dt.datetime,
    zone: dt.tzinfo,
) -> LocalHourCounts:
    """How many of the queryset's rows fall in each local hour of ``[start, end)`` by the
    datetime column ``field``, counted by each of ``counts`` (in order): ``{(local date,
    hour): (count, …)}``, hours without a row left out. An hour that happens twice (the
    fall-back hour) counts both; rows outside ``[start, end)`` are not counted.

    On SQLite, the period is cut in Python into its local hours (and at each offset change),
    and SQL counts each hour's rows from the column's index, one range per hour: grouping
    every row by its local hour instead sorted all of them, which over the 1M-visit hospital
    took nearly twice as long (docs/benchmarks.md). Elsewhere, one ``GROUP BY`` of
    ``LocalBucket("dayhour")`` (also on SQLite for a queryset with annotations or
    ``distinct``). Raises ValueError for naive bounds, a count with ``distinct``, or a sliced
    or combined queryset."""
    if any(getattr(count, "distinct", False) for count in counts.values()):
        raise ValueError("distinct counts of two hours do not add up")
    if timezone.is_naive(start) or timezone.is_naive(end):
        raise ValueError("the bounds of a period are aware datetimes")
    if queryset.query.is_sliced or queryset.query.combinator:
        raise ValueError("count by hour a filtered queryset, not a slice or a combination")
    queryset = queryset.order_by()
    query = queryset.query
    plain = not (query.distinct or query.annotations) and query.group_by is None
    if plain and _vendor(queryset) == "sqlite":  # else Django's GROUP BY says what it means
        return _sqlite_hour_counts(queryset, field, counts, start, end, zone)
    found: LocalHourCounts = {}
    names = list(counts)
    period = {f"{field}__gte": start, f"{field}__lt": end}
    grouped = (
        queryset.filter(**period)
        .annotate(hospitium_slot=LocalBucket("dayhour", field, start=start, end=end, zone=zone))
        .values("hospitium_slot")
        .annotate(**counts)
        .values_list("hospitium_slot", *names)
    )
    for slot, *values in grouped:
        found[(dt.date.fromisoformat(slot[:10]), int(slot[11:13]))] = tuple(values)
    return found


def _vendor(queryset: QuerySet[Any, Any]) -> str:
    from django.db import connections

    return str(connections[queryset.db].vendor)


def local_hour_starts(
    zone: dt.tzinfo, start: dt.datetime, end: dt.datetime
) -> tuple[list[int], list[int]]:
    """The UTC instants (whole epoch seconds) at which each local hour of ``[start, end)``
    begins — the period's start, then each hour and each offset change — and the UTC offset
    from each on. Raises ValueError for naive bounds."""
    spans = utc_offsets(zone, start, end)
    stop = int(end.timestamp())
    starts: list[int] = []
    offsets: list[int] = []
    for n, (since, offset) in enumerate(spans):
        low = int(since.timestamp())
        high = int(spans[n + 1][0].timestamp()) if n + 1 < len(spans) else stop
        following = ((low + offset) // _HOUR + 1) * _HOUR - offset  # the next local hour
        part = [low, *range(following, high, _HOUR)]
        starts += part
        offsets += [offset] * len(part)
    return starts, offsets


def _sqlite_hour_counts(
    queryset: QuerySet[Any, Any],
    field: str,
    counts: dict[str, Count],
    start: dt.datetime,
    end: dt.datetime,
    zone: dt.tzinfo,
) -> LocalHourCounts:
    starts, offsets = local_hour_starts(zone, start, end)
    if not starts:
        return {}
    query = queryset.query
    resolved = [
        count.resolve_expression(query, allow_joins=True, reuse=None, summarize=False)
        for count in counts.values()
    ]
    compiler: Any = query.get_compiler(using=queryset.db)
    compiler.pre_sql_setup()
    target = queryset.model._meta.get_field(field)
    column, _none = compiler.compile(target.get_col(query.base_table))
    selected: list[str] = []
    params: list[Any] = []
    for count in resolved:
        sql, count_params = compiler.compile(count)
        selected.append(f"({sql})")
        params += count_params
    from_, from_params = compiler.get_from_clause()
    params += from_params
    # The hour's bounds first: of two ranges on one indexed column (the hour, the period the
    # queryset is filtered on), SQLite searches the index by the first it meets.
    conditions = [f'{column} >= "hospitium_slot"."lo"', f'{column} < "hospitium_slot"."hi"']
    try:
        where, where_params = compiler.compile(compiler.where)
    except EmptyResultSet:
        return {}
    except FullResultSet:
        where, where_params = "", ()
    if where:
        conditions.append(f"({where})")
        params += where_params
    # the counts as one text "a,b,…", split in Python: json_array() and json.loads() per hour
    # took 0.23 s of the parent's CPU over the 2 years of hours of the 1M-visit hospital
    joined = " || ',' || ".join(selected)
    inner = (
        f"SELECT {joined} FROM {' '.join(from_)}"  # noqa: S608
        f" WHERE {' AND '.join(conditions)}"
    )
    sql = (
        f'SELECT "hospitium_slot"."i", ({inner}) FROM ('  # noqa: S608 - Django's own SQL
        'SELECT CAST(key AS INTEGER) AS "i",'
        " CASE key WHEN 0 THEN %s ELSE datetime(value, 'unixepoch') END AS \"lo\","
        " coalesce(datetime(lead(value) OVER (ORDER BY key), 'unixepoch'), %s) AS \"hi\""
        ' FROM json_each(%s)) AS "hospitium_slot"'
    )
    # the first and last bounds as stored (naive UTC text, microseconds kept), the others
    # whole hours from datetime()
    first, last = (bound.astimezone(dt.UTC).replace(tzinfo=None) for bound in (start, end))
    params += [str(first), str(last), json.dumps(starts)]
    found: LocalHourCounts = {}
    with compiler.connection.cursor() as cursor:
        cursor.execute(sql, params)
        for index, values in cursor.fetchall():
            numbers = tuple(map(int, str(values).split(",")))
            if not any(numbers):
                continue
            local = starts[index] + offsets[index]
            key = (dt.date.fromordinal(_EPOCH_ORDINAL + local // 86400), local % 86400 // _HOUR)
            if key in found:  # the fall-back hour, a second time
                numbers = tuple(a + b for a, b in zip(found[key], numbers, strict=True))
            found[key] = numbers
    return found
