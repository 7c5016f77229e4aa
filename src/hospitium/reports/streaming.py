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

from django.db.models import DateTimeField, QuerySet, UUIDField
from django.db.models.sql.constants import MULTI

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
