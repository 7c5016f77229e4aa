"""A listing's finished CSV lines, built by SQLite (the CSV fast path).

The general path reads a listing's values into Python objects (``streaming.listing_values``) and
the csv module writes them: over a 1,000,000-visit listing that chain ran at ~62,000 rows/s
(``bench.reports_1m``, docs/benchmarks.md). Here SQLite builds every whole line as one text
column, and Python only joins a chunk of lines and writes it. The line is what the csv module
writes for the general path's row (default dialect, ``QUOTE_MINIMAL``, CRLF): a field holding
the delimiter, the quote, CR or LF is quoted and its quotes doubled, nothing else is; datetimes
are ``str()`` of the aware datetime in the reporting zone, UUIDs 8-4-4-4-12 text, booleans
``True``/``False``, dates, integers and text as stored, NULL empty — and a one-column row that
is empty is written ``""``, as the csv module writes it.

The SELECT is flat: the listing's own FROM, WHERE and ORDER BY, from Django's compiler, with the
line as the only column. ORDER BY stays on the stored columns: Django orders a ``values_list``
by position, which here would mean by the local text, out of order in a fall-back hour.

A listing ordered first by a non-null date or datetime column is cut into ``RANGES`` consecutive
slices of that column, read by ``READERS`` threads on connections of their own (``sqlite3``
releases the GIL while SQLite works) and written in order. Each reader holds one read
transaction, and all of them start on one snapshot of the store (checked, else one reader reads
everything), so the file is one consistent state, as a single SELECT's would be.
"""

from __future__ import annotations

import datetime as dt
import queue
import re
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from django.core.exceptions import EmptyResultSet, FieldDoesNotExist, FullResultSet
from django.db import connections
from django.db.models import (
    BooleanField,
    CharField,
    DateField,
    DateTimeField,
    IntegerField,
    QuerySet,
    TextField,
    UUIDField,
)
from django.db.models.expressions import Ref
from django.db.models.lookups import GreaterThanOrEqual, LessThan
from django.db.models.sql.compiler import SQLCompiler
from django.utils.dateparse import parse_datetime

from hospitium.reports.timebuckets import utc_offsets

#: What ends every line (the CSV format's ``lineterminator``).
LINE_END = "\r\n"
#: Lines per ``fetchmany``: one string written per chunk.
CHUNK_ROWS = 5_000
#: Slices of the leading order column (when it can be sliced), read in turn by the readers.
RANGES = 32
#: Reader threads, each on a connection of its own. One: on a quiet 2-CPU machine one reader
#: beat two (1,000,000 visits: whole CSV report 11.4 s vs 14.1 s, the lines' read 7.1–7.2 s vs
#: 10.4–10.7 s; docs/benchmarks.md, 2026-11-22 05:01 UTC) — the two readers slow each other
#: down more than the second CPU gives. Kept as a knob (the tests run 1–3 readers) until a
#: profile shows why.
READERS = 1
#: Chunks a reader may hold ahead of the writer (bounds memory: ~0.8 MB per chunk of visits).
AHEAD_CHUNKS = 16
#: Reader connections only read. Neither a larger page cache nor a memory-mapped file is set:
#: on the 1M-visit hospital a 64 MiB cache did not measurably help, and mapping the file cut
#: 0.5–1 s per million rows in a busy-machine probe but showed the mapped pages in the process's
#: resident memory (535 MiB peak instead of 115 MiB), which reads as a report that does not
#: stream (docs/benchmarks.md).
READER_PRAGMAS = ("PRAGMA query_only = ON",)
#: Attempts at starting every reader on one snapshot before falling back to a single reader.
SNAPSHOT_ATTEMPTS = 5
#: The UTC instants between which a datetime's local text is computed in SQL (a binary tree of
#: ``CASE`` over the zone's offset changes); values outside go through ``_local_text`` in Python
#: (exact, per value, and rare: visits before 1990 or after 2060).
SQL_ZONE_WINDOW = (
    dt.datetime(1990, 1, 1, tzinfo=dt.UTC),
    dt.datetime(2060, 1, 1, tzinfo=dt.UTC),
)
#: The margin around a slice's leading values within which its datetimes are first tried
#: against the zone's offset changes of that span only (most slices have none: no ``CASE``).
NEAR_MARGIN = dt.timedelta(days=2)

_SQLITE_FUNCTION = "hospitium_listing_local_text"
_SQLITE_TEXT = "%Y-%m-%d %H:%M:%S"
# The characters that make the csv module quote a field under QUOTE_MINIMAL with the default
# dialect and a CRLF terminator: the delimiter, the quote char and those of the terminator.
_NEEDS_QUOTES = "'*[,\"\r\n]*'"
_END = object()
_FORMAT_PLACEHOLDER = re.compile(r"(?<!%)%s")

SqlParams = tuple[str, tuple[Any, ...]]
#: Aware UTC bounds within which a listing's datetimes are expected (most of them).
Near = tuple[dt.datetime, dt.datetime]
#: A slice of a listing: a field of its model, and ``low <= field < high`` (None: no bound).
Cut = tuple[Any, Any, Any]


# -- the SQL of one line ---------------------------------------------------------------------


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


def sqlite_local_datetime_text(column: str, zone: ZoneInfo, near: Near | None = None) -> SqlParams:
    """SQL and its parameter (the zone's key) for ``str()`` of a stored UTC datetime column in
    ``zone`` (what the csv module writes for the aware datetime the general path yields),
    ``NULL`` for ``NULL``. With ``near`` (aware bounds inside ``SQL_ZONE_WINDOW``), values in
    that span are first tried against the zone's changes of that span only (fewer comparisons);
    the result is the same."""
    low, high = SQL_ZONE_WINDOW
    spans = utc_offsets(zone, low, high)
    tree = _sqlite_tree(column, spans)
    if near is not None and len(spans) > 1:
        near_low, near_high = max(near[0], low), min(near[1], high)
        if near_low < near_high:
            local = utc_offsets(zone, near_low, near_high)
            tree = (
                f"CASE WHEN {column} >= '{near_low.strftime(_SQLITE_TEXT)}'"
                f" AND {column} < '{near_high.strftime(_SQLITE_TEXT)}'"
                f" THEN {_sqlite_tree(column, local)} ELSE {tree} END"
            )
    return (
        f"CASE WHEN {column} IS NULL THEN NULL"
        f" WHEN {column} < '{low.strftime(_SQLITE_TEXT)}'"
        f" OR {column} >= '{high.strftime(_SQLITE_TEXT)}'"
        f" THEN {_SQLITE_FUNCTION}({column}, %s)"
        f" ELSE {tree} END"
    ), (zone.key,)


def _field_text(
    field: Any, column: str, zone: ZoneInfo, near: Near | None
) -> tuple[str, tuple[Any, ...], bool] | None:
    """The SQL of the text the csv module writes for the general path's value of ``column``
    (NULL for NULL), its parameters, and whether that text may need quoting; None for a field
    this path does not format (floats, decimals, times, durations, JSON, custom fields)."""
    if isinstance(field, DateTimeField):
        sql, params = sqlite_local_datetime_text(column, zone, near)
        return sql, params, False
    if isinstance(field, DateField):  # stored as ISO text, which str(date) gives back
        return column, (), False
    if isinstance(field, UUIDField):  # 32 hex digits → the usual 8-4-4-4-12 text
        parts = ((1, 8), (9, 4), (13, 4), (17, 4), (21, 12))
        return " || '-' || ".join(f"substr({column}, {a}, {n})" for a, n in parts), (), False
    if isinstance(field, BooleanField):
        sql = f"CASE WHEN {column} IS NULL THEN NULL WHEN {column} THEN 'True' ELSE 'False' END"
        return sql, (), False
    if isinstance(field, IntegerField):  # SQLite's text of an integer is str(int)'s
        return column, (), False
    if isinstance(field, CharField | TextField):
        return column, (), True
    return None


def _quoted(text: str) -> str:
    # QUOTE_MINIMAL, as the csv module decides it (see _NEEDS_QUOTES).
    return (
        f"CASE WHEN {text} GLOB {_NEEDS_QUOTES}"
        f" THEN '\"' || replace({text}, '\"', '\"\"') || '\"' ELSE {text} END"
    )


# -- the flat SELECT -------------------------------------------------------------------------


def _compiled(queryset: QuerySet[Any, Any]) -> SQLCompiler | None:
    query = queryset.query
    if (
        not query.values_select
        or query.extra_select
        or query.annotation_select
        or query.combinator
        or query.distinct
        or query.is_sliced
        or query.group_by is not None
        or query.select_for_update
    ):
        return None
    compiler = query.get_compiler(using=queryset.db)
    if compiler.connection.vendor != "sqlite":
        return None
    return compiler


def _flat_select(
    queryset: QuerySet[Any, Any], zone: ZoneInfo, near: Near | None, cut: Cut | None = None
) -> SqlParams | None:
    """``SELECT <the CSV line> FROM … WHERE … ORDER BY …`` for a ``values_list`` queryset of
    plain fields, with Django's placeholders (``%s``); with ``cut`` (a field of the model and
    the bounds of a slice of it: ``low <= field < high``, None for no bound), only that slice.
    None when this path does not apply."""
    # Any: django-stubs do not declare what pre_sql_setup sets (where, having, qualify…)
    compiler: Any = _compiled(queryset)
    if compiler is None:
        return None
    extra_select, order_by, group_by = compiler.pre_sql_setup()
    if extra_select or group_by or compiler.having is not None or compiler.qualify is not None:
        return None
    fields: list[str] = []
    params: list[Any] = []
    for expression, (column, column_params), _alias in compiler.select[: compiler.col_count]:
        field = expression.output_field
        if column_params or hasattr(field, "from_db_value"):
            return None
        text = _field_text(field, column, zone, near)
        if text is None:
            return None
        sql, sql_params, may_need_quotes = text
        sql = f"coalesce({sql}, '')"
        fields.append(_quoted(sql) if may_need_quotes else sql)
        params += sql_params
    if len(fields) == 1:  # the csv module writes a row of one empty field as ""
        line = f"CASE WHEN {fields[0]} = '' THEN '\"\"' ELSE {fields[0]} END"
    else:
        line = " || ',' || ".join(fields)
    from_, from_params = compiler.get_from_clause()
    # named, so that no driver reads a type from the expression's text (PARSE_COLNAMES)
    sql = f"SELECT {line} || '{LINE_END}' AS \"line\" FROM {' '.join(from_)}"  # noqa: S608
    params += from_params
    where: str
    where_params: Sequence[Any]
    try:
        where, where_params = compiler.compile(compiler.where)
    except EmptyResultSet:
        where, where_params = "0 = 1", []
    except FullResultSet:
        where, where_params = "", []
    conditions: list[str] = []
    if cut is not None:
        # The slice's bounds come first: of two ranges on one indexed column (the listing's
        # period, the slice), SQLite searches the index by the first it meets, and by the
        # period's that was ~40 % slower per slice (bench.reports_1m hospital).
        field, low, high = cut
        column = field.get_col(compiler.query.base_table)
        for lookup, bound in ((GreaterThanOrEqual, low), (LessThan, high)):
            if bound is not None:
                bound_sql, bound_params = compiler.compile(lookup(column, bound))
                conditions.append(bound_sql)
                params += bound_params
    if where:
        conditions.append(f"({where})")
        params += where_params
    if conditions:
        sql += f" WHERE {' AND '.join(conditions)}"
    ordering = []
    order: Any
    for order, _ in order_by:
        order = order.copy()
        if isinstance(order.expression, Ref):  # by position or alias: by the column itself
            order.expression = order.expression.get_source_expressions()[0]
        order_sql, order_params = compiler.compile(order)
        ordering.append(order_sql)
        params += order_params
    if ordering:
        sql += f" ORDER BY {', '.join(ordering)}"
    return sql, tuple(params)


def _qmark(sql: str) -> str:
    # What Django's SQLite cursor does to its SQL (``%s`` → ``?``, then ``%%`` → ``%``): the
    # lines are read on raw ``sqlite3`` connections, which take the qmark style only.
    return _FORMAT_PLACEHOLDER.sub("?", sql).replace("%%", "%")


# -- slicing on the leading order column ------------------------------------------------------


def _leading(queryset: QuerySet[Any, Any]) -> Any:
    """The leading order field when it is a non-null date or datetime column of the model."""
    order = queryset.query.order_by
    if not order or not isinstance(order[0], str):
        return None
    name = order[0]
    if name.startswith(("-", "?")) or "__" in name:
        return None
    try:
        field = queryset.model._meta.get_field(name)
    except FieldDoesNotExist:
        return None
    if getattr(field, "null", True) or not isinstance(field, DateField):
        return None
    return field


def _bounds(values: list[Any], ranges: int) -> list[Any]:
    """Up to ``ranges - 1`` increasing cut points strictly inside [first, last]."""
    first, last = values
    if isinstance(first, dt.datetime):
        step = (last - first) / ranges
        cuts = [first + step * i for i in range(1, ranges)] if step else []
    else:
        days = (last - first).days
        cuts = [first + dt.timedelta(days=days * i // ranges) for i in range(1, ranges)]
    return sorted({cut for cut in cuts if first < cut <= last})


def _as_instant(value: dt.date) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    return dt.datetime.combine(value, dt.time.min, tzinfo=dt.UTC)


def _slices(queryset: QuerySet[Any, Any], ranges: int) -> list[tuple[Cut | None, Near | None]]:
    """Consecutive slices of the queryset on its leading order column (the first and last
    open-ended, so a row added meanwhile is not lost), each with the span its datetimes are
    expected in (that of its leading values, with a margin); one slice of everything (None,
    None) when it cannot be cut."""
    field = _leading(queryset)
    if field is None:
        return [(None, None)]
    column = queryset.values_list(field.name, flat=True)
    first = column.order_by(field.name).first()
    last = column.order_by(f"-{field.name}").first()
    if first is None or last is None:
        return [(None, None)]
    cuts = _bounds([first, last], ranges) if ranges > 1 else []
    slices: list[tuple[Cut | None, Near | None]] = []
    for low, high in zip([None, *cuts], [*cuts, None], strict=True):
        near = (
            _as_instant(first if low is None else low) - NEAR_MARGIN,
            _as_instant(last if high is None else high) + NEAR_MARGIN,
        )
        slices.append(((field, low, high), near))
    return slices


# -- reading ---------------------------------------------------------------------------------


class CsvLines:
    """A listing's CSV lines as SQLite builds them: ``chunks()`` yields (text, rows) in the
    listing's order. Build with ``csv_lines``."""

    def __init__(self, using: str, selects: Sequence[SqlParams], *, readers: int) -> None:
        self.using = using
        self.selects = [(_qmark(sql), params) for sql, params in selects]
        self.readers = readers

    def chunks(self) -> Iterator[tuple[str, int]]:
        """The lines, ``CHUNK_ROWS`` at a time joined into one string, with how many (call in
        the hospital's context). Raises Django's database errors."""
        connection = connections[self.using]
        connection.ensure_connection()
        database = connection.settings_dict["NAME"]
        separate = (
            self.readers > 0
            and not connection.in_atomic_block  # its uncommitted rows: only it sees them
            and database != ":memory:"
            and "mode=memory" not in database
        )
        with connection.wrap_database_errors:
            if separate:
                yield from self._threaded(str(database), connection)
            else:
                raw = connection.connection
                raw.create_function(_SQLITE_FUNCTION, 2, _local_text, deterministic=True)
                for sql, params in self.selects:
                    cursor = raw.execute(sql, params)
                    try:
                        while rows := cursor.fetchmany(CHUNK_ROWS):
                            yield "".join([row[0] for row in rows]), len(rows)
                    finally:
                        cursor.close()

    def _open(self, database: str, timeout: float) -> sqlite3.Connection:
        raw = sqlite3.connect(
            database, uri=True, timeout=timeout, check_same_thread=False, isolation_level=None
        )
        for pragma in READER_PRAGMAS:
            raw.execute(pragma)
        raw.create_function(_SQLITE_FUNCTION, 2, _local_text, deterministic=True)
        return raw

    def _snapshot(self, readers: list[sqlite3.Connection], database: str, timeout: float) -> bool:
        """Start a read transaction on every reader; True when they all see one state (no
        commit between the first start and the last, by ``PRAGMA data_version`` on a monitor
        connection), else they are rolled back."""
        monitor = self._open(database, timeout)
        try:
            before = monitor.execute("PRAGMA data_version").fetchone()
            for reader in readers:
                reader.execute("BEGIN")
                reader.execute("SELECT count(*) FROM sqlite_schema").fetchone()  # takes it
            after = monitor.execute("PRAGMA data_version").fetchone()
        finally:
            monitor.close()
        if before == after:
            return True
        for reader in readers:
            reader.execute("ROLLBACK")
        return False

    def _threaded(self, database: str, connection: Any) -> Iterator[tuple[str, int]]:
        timeout = float(connection.settings_dict["OPTIONS"].get("timeout", 5))
        count = max(1, min(self.readers, len(self.selects)))
        readers: list[sqlite3.Connection] = []
        try:
            for _ in range(count):
                readers.append(self._open(database, timeout))
            for _attempt in range(SNAPSHOT_ATTEMPTS):
                if self._snapshot(readers, database, timeout):
                    break
            else:  # writes keep landing in between: one reader, one snapshot
                for extra in readers[1:]:
                    extra.close()
                readers = readers[:1]
                readers[0].execute("BEGIN")
            yield from _in_order(readers, self.selects)
        finally:
            for reader in readers:
                reader.close()


def _put(out: queue.Queue[Any], item: Any, stop: threading.Event) -> bool:
    while not stop.is_set():
        try:
            out.put(item, timeout=0.05)
        except queue.Full:
            continue
        return True
    return False


def _read(
    reader: sqlite3.Connection,
    selects: Sequence[SqlParams],
    out: queue.Queue[Any],
    stop: threading.Event,
) -> None:
    """A reader thread: each of its slices' chunks, then ``_END``; an error is passed on."""
    try:
        for sql, params in selects:
            cursor = reader.execute(sql, params)
            while rows := cursor.fetchmany(CHUNK_ROWS):
                if not _put(out, ("".join([row[0] for row in rows]), len(rows)), stop):
                    return
            cursor.close()
            if not _put(out, _END, stop):
                return
    except BaseException as exc:  # handed to the writer, which raises it
        _put(out, exc, stop)


def _in_order(
    readers: list[sqlite3.Connection], selects: Sequence[SqlParams]
) -> Iterator[tuple[str, int]]:
    """Slice ``i`` is read by reader ``i % len(readers)``; the chunks come out in slice order.
    Closing the iterator early stops and joins the readers."""
    stop = threading.Event()
    queues: list[queue.Queue[Any]] = [queue.Queue(maxsize=AHEAD_CHUNKS) for _ in readers]
    threads = [
        threading.Thread(
            target=_read,
            args=(reader, selects[n :: len(readers)], queues[n], stop),
            name=f"csv-lines-{n}",
            daemon=True,
        )
        for n, reader in enumerate(readers)
    ]
    for thread in threads:
        thread.start()
    try:
        for index in range(len(selects)):
            source = queues[index % len(readers)]
            while (item := source.get()) is not _END:
                if isinstance(item, BaseException):
                    raise item
                yield item
    finally:
        stop.set()
        for reader in readers:
            reader.interrupt()  # a statement still running ends with an error, not read
        for thread in threads:
            thread.join()


def csv_lines(
    queryset: QuerySet[Any, Any], zone: dt.tzinfo, *, ranges: int = RANGES, readers: int = READERS
) -> CsvLines | None:
    """The fast path for a ``values_list`` queryset of plain fields (call in the hospital's
    context): its rows as the CSV lines the csv module writes for the general path's rows
    (``streaming.listing_values``), read by ``readers`` threads on connections of their own
    (0: on the queryset's own connection), the listing cut into up to ``ranges`` slices.

    None when the path does not apply: a store other than SQLite, a zone other than a
    ``ZoneInfo``, a queryset that is not a plain ``values_list`` of fields, or a column of a
    type it does not format (floats, decimals, times, durations, JSON, custom fields).
    """
    if not isinstance(zone, ZoneInfo) or _compiled(queryset) is None:
        return None
    if _flat_select(queryset, zone, None) is None:
        return None
    selects = [_flat_select(queryset, zone, near, cut) for cut, near in _slices(queryset, ranges)]
    if any(select is None for select in selects):
        return None
    return CsvLines(queryset.db, [s for s in selects if s is not None], readers=readers)
