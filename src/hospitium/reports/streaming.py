"""Listing rows streamed from the database with little work per row.

A ``values_list(...).iterator()`` applies Django's converters one value at a time through a
generic loop (``SQLCompiler.apply_converters``: a list per row, a Python call per converted
value, ``parse_datetime`` + ``make_aware`` for every datetime), and the templates then turned
each datetime into the local zone and each UUID into text with another call per value. On a
1,000,000-visit listing that was most of the time of a CSV export (``bench.reports_1m``).

``listing_values`` runs the same SQL through Django's own chunked cursor (``fetchmany``; a
server-side cursor on PostgreSQL, so memory stays bounded), and turns each fetched row into its
final form with one generated function: datetimes become aware datetimes in the reporting zone,
UUIDs their usual text, other columns keep Django's converters (booleans and decimals on SQLite).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from django.db import connections
from django.db.models import (
    BooleanField,
    CharField,
    DateField,
    DateTimeField,
    FloatField,
    IntegerField,
    QuerySet,
    TextField,
    UUIDField,
)
from django.db.models.sql.constants import MULTI
from django.utils.dateparse import parse_datetime

from hospitium.reports.timebuckets import utc_offsets

#: Rows fetched per round trip.
CHUNK_SIZE = 2000

Convert = Callable[[Any], Any]


def _uuid_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str) and len(value) == 32:  # SQLite stores the 32 hex digits
        return f"{value[:8]}-{value[8:12]}-{value[12:16]}-{value[16:20]}-{value[20:]}"
    return str(value if isinstance(value, uuid.UUID) else uuid.UUID(str(value)))


def _local(zone: dt.tzinfo) -> Convert:
    utc = dt.UTC

    def convert(value: Any) -> dt.datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # a datetime the driver did not parse (an expression)
            value = dt.datetime.fromisoformat(value)
        if value.tzinfo is None:  # SQLite: naive UTC, as Django stores it
            value = value.replace(tzinfo=utc)
        return value.astimezone(zone)

    return convert


def _django(converters: Sequence[Any], expression: Any, connection: Any) -> Convert:
    def convert(value: Any) -> Any:
        for converter in converters:
            value = converter(value, expression, connection)
        return value

    return convert


def _adapter(converts: list[Convert | None]) -> Callable[[Sequence[Any]], tuple[Any, ...]]:
    # One generated function per listing builds the whole row in one tuple display, so a
    # column that needs no conversion costs an index, not a call.
    namespace: dict[str, Any] = {
        f"c{i}": convert for i, convert in enumerate(converts) if convert is not None
    }
    cells = ", ".join(
        f"c{i}(r[{i}])" if convert is not None else f"r[{i}]" for i, convert in enumerate(converts)
    )
    exec(f"def adapt(r):\n    return ({cells},)\n", namespace)  # noqa: S102 - built from indexes
    adapt: Callable[[Sequence[Any]], tuple[Any, ...]] = namespace["adapt"]
    return adapt


def listing_values(queryset: QuerySet[Any, Any], zone: dt.tzinfo) -> Iterator[tuple[Any, ...]]:
    """The rows of a ``values_list`` queryset of plain fields (call in the hospital's context),
    fetched ``CHUNK_SIZE`` at a time: datetimes aware in ``zone``, UUIDs as text.

    Raises ValueError for a queryset that is not a ``values_list`` of fields only.
    """
    query = queryset.query
    if not query.values_select or query.extra_select or query.annotation_select:
        raise ValueError("listing_values takes a values_list of fields only")
    compiler = query.get_compiler(using=queryset.db)
    chunks = compiler.execute_sql(MULTI, chunked_fetch=True, chunk_size=CHUNK_SIZE)
    if chunks is None:
        return
    connection = compiler.connection
    local = _local(zone)
    converts: list[Convert | None] = []
    for expression, _sql, _alias in compiler.select[: compiler.col_count]:
        field = expression.output_field
        if isinstance(field, DateTimeField):
            converts.append(local)
        elif isinstance(field, UUIDField):
            converts.append(_uuid_text)
        else:
            found = compiler.get_converters([expression]).get(0)
            converts.append(_django(found[0], expression, connection) if found else None)
    adapt = _adapter(converts)
    for rows in chunks:
        yield from map(adapt, rows)


# -- display-ready text straight from SQL (the CSV fast path) --------------------------------

#: Rows per ``fetchmany`` of a text listing: one ``csv.writer.writerows`` call each.
TEXT_CHUNK_SIZE = 10_000
#: The UTC instants between which a datetime's local text is computed in SQL on SQLite (a
#: binary tree of ``CASE`` over the zone's offset changes); values outside go through
#: ``_local_text`` in Python (exact, per value, and rare: visits before 1990 or after 2060).
SQL_ZONE_WINDOW = (
    dt.datetime(1990, 1, 1, tzinfo=dt.UTC),
    dt.datetime(2060, 1, 1, tzinfo=dt.UTC),
)
_SQLITE_FUNCTION = "hospitium_listing_local_text"
_SQLITE_TEXT = "%Y-%m-%d %H:%M:%S"


def _local_text(value: str | None, zone_key: str) -> str | None:
    """``str()`` of a stored SQLite datetime (naive UTC text) in the zone ``zone_key``, as the
    general path writes it (the fallback outside ``SQL_ZONE_WINDOW``). Raises ValueError for
    text that is not a datetime."""
    if value is None:
        return None
    parsed = parse_datetime(value)
    if parsed is None:
        raise ValueError(f"not a datetime: {value!r}")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return str(parsed.astimezone(ZoneInfo(zone_key)))


def _offset_suffix(offset: int) -> str:
    """The UTC offset as ``str(datetime)`` ends with it: ``+01:00``, ``-03:30``, ``+00:09:21``."""
    at = dt.datetime(2000, 1, 1, tzinfo=dt.timezone(dt.timedelta(seconds=offset)))
    return str(at)[19:]


def _sqlite_shift(column: str, offset: int) -> str:
    # The whole seconds shifted by datetime(), the stored fraction (".ffffff" or "") kept as is.
    suffix = _offset_suffix(offset)
    if offset == 0:
        return f"({column} || '{suffix}')"
    return (
        f"(datetime(substr({column}, 1, 19), '{offset:+d} seconds') || substr({column}, 20)"
        f" || '{suffix}')"
    )


def _sqlite_tree(column: str, spans: Sequence[tuple[dt.datetime, int]]) -> str:
    # spans[0] starts at the window's start; each later span starts at its own instant.
    if len(spans) == 1:
        return _sqlite_shift(column, spans[0][1])
    middle = len(spans) // 2
    at = spans[middle][0].strftime(_SQLITE_TEXT)
    return (
        f"CASE WHEN {column} < '{at}' THEN {_sqlite_tree(column, spans[:middle])}"
        f" ELSE {_sqlite_tree(column, spans[middle:])} END"
    )


def sqlite_local_datetime_text(column: str, zone: ZoneInfo) -> tuple[str, tuple[str]]:
    """SQL and its parameter (the zone's key) for ``str()`` of a stored UTC datetime column in
    ``zone`` (what the csv module writes for the aware datetime the general path yields),
    ``NULL`` for ``NULL``."""
    low, high = SQL_ZONE_WINDOW
    spans = utc_offsets(zone, low, high)
    outside = f"{_SQLITE_FUNCTION}({column}, %s)"
    return (
        f"CASE WHEN {column} IS NULL THEN NULL"
        f" WHEN {column} < '{low.strftime(_SQLITE_TEXT)}'"
        f" OR {column} >= '{high.strftime(_SQLITE_TEXT)}' THEN {outside}"
        f" ELSE {_sqlite_tree(column, spans)} END"
    ), (zone.key,)


def _sqlite_display(field: Any, column: str, zone: ZoneInfo) -> tuple[str, tuple[Any, ...]] | None:
    # The SQL whose value the csv module writes exactly as it writes the general path's value,
    # or None for a field this path does not handle. ``+x`` drops the declared type, so the
    # driver applies no converter.
    if isinstance(field, DateTimeField):
        return sqlite_local_datetime_text(column, zone)
    if isinstance(field, UUIDField):  # 32 hex digits → the usual 8-4-4-4-12 text
        parts = ((1, 8), (9, 4), (13, 4), (17, 4), (21, 12))
        return " || '-' || ".join(f"substr({column}, {a}, {n})" for a, n in parts), ()
    if isinstance(field, BooleanField):
        sql = f"CASE WHEN {column} IS NULL THEN NULL WHEN {column} THEN 'True' ELSE 'False' END"
        return sql, ()
    if isinstance(field, DateField | CharField | TextField | IntegerField | FloatField):
        return f"+{column}", ()
    return None


class TextListing:
    """A listing's rows as display-ready values computed by the database: the SQL of a
    ``values_list`` queryset wrapped in an outer ``SELECT`` that formats each column, read with
    a raw cursor ``TEXT_CHUNK_SIZE`` rows at a time. Build with ``text_listing``."""

    def __init__(self, using: str, sql: str, params: Sequence[Any]) -> None:
        self.using = using
        self.sql = sql
        self.params = tuple(params)

    def chunks(self) -> Iterator[list[tuple[Any, ...]]]:
        """The rows, a list of up to ``TEXT_CHUNK_SIZE`` tuples at a time, in the queryset's
        order (call in the hospital's context). Raises the driver's errors."""
        connection = connections[self.using]
        connection.ensure_connection()
        raw = connection.connection
        raw.create_function(_SQLITE_FUNCTION, 2, _local_text, deterministic=True)
        with connection.cursor() as cursor:
            cursor.execute(self.sql, self.params)
            fetch = cursor.cursor.fetchmany
            while rows := fetch(TEXT_CHUNK_SIZE):
                yield rows


def text_listing(queryset: QuerySet[Any, Any], zone: dt.tzinfo) -> TextListing | None:
    """The fast path for a ``values_list`` queryset of plain fields (call in the hospital's
    context): rows whose values, written by ``csv.writer``, give exactly the text the general
    path (``listing_values``) gives — datetimes as ``str()`` of the aware datetime in ``zone``,
    UUIDs as text, booleans ``True``/``False``, ``None`` as ``NULL``.

    None when the path does not apply: a store other than SQLite, a zone other than a
    ``ZoneInfo``, a queryset that is not a ``values_list`` of fields only, or a column of a type
    it does not format (decimals, times, durations, JSON, custom fields).
    """
    query = queryset.query
    if not query.values_select or query.extra_select or query.annotation_select:
        return None
    if not isinstance(zone, ZoneInfo):
        return None
    compiler = query.get_compiler(using=queryset.db)
    if compiler.connection.vendor != "sqlite":
        return None
    sql, params = compiler.as_sql(with_col_aliases=True)
    selected = compiler.select[: compiler.col_count]
    columns: list[str] = []
    outer_params: list[Any] = []
    for expression, _sql, alias in selected:
        field = expression.output_field
        if alias is None or hasattr(field, "from_db_value"):
            return None
        display = _sqlite_display(field, f'"q"."{alias}"', zone)
        if display is None:
            return None
        columns.append(display[0])
        outer_params += display[1]
    # Only generated SQL is interpolated (column aliases, offsets, instants); values are params.
    outer = f'SELECT {", ".join(columns)} FROM ({sql}) AS "q"'  # noqa: S608
    return TextListing(queryset.db, outer, (*outer_params, *params))
