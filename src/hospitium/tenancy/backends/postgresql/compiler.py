"""SQL compilers of the hospital PostgreSQL backend: reads name their tables with the hospital's
schema, so that a pooled connection can serve them without a schema switch.

A connection to a hospital server follows the bound hospital through its ``search_path``
(``base.py``), which costs a second statement in the round trip of the first query after a
change of hospital (docs/benchmarks.md, "Routing on PostgreSQL"). A SELECT built here names every
table of its FROM clause as ``"hospital_x"."table"`` — the schema of the hospital bound to the
context — so it reads the right hospital whatever the connection's search path is, and the
cursor sends it without switching (``SessionCursor``), provided that:

* the whole statement was compiled here, subqueries included, for that same schema;
* nothing in it is SQL written by hand (``RawSQL``, ``extra()``), which could name a table
  without its schema;
* the finished text has no FROM or JOIN item without a schema (``unqualified``: a cheap second
  check, in case some construct escaped the first two);
* the connection's read-only mode already matches the hospital's.

Anything else — writes (whose triggers resolve names through the search path), raw SQL,
maintenance under ``schema_context`` — switches first, as before. Column references keep
naming their table without the schema (``"table"."column"`` is resolved against the FROM
clause, never through the search path).
"""

from __future__ import annotations

import re
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django.db.backends.postgresql.compiler import (
    SQLCompiler as _PostgresCompiler,
)
from django.db.backends.postgresql.compiler import (
    SQLDeleteCompiler,
    SQLInsertCompiler,
    SQLUpdateCompiler,
)
from django.db.models.expressions import RawSQL
from django.db.models.sql.compiler import SQLAggregateCompiler as _AggregateCompiler
from django.db.models.sql.compiler import SQLCompiler as _DjangoCompiler
from django.db.models.sql.where import ExtraWhere

from hospitium.tenancy.stores.schemas import wanted_session

__all__ = [
    "SQLAggregateCompiler",
    "SQLCompiler",
    "SQLDeleteCompiler",
    "SQLInsertCompiler",
    "SQLUpdateCompiler",
    "qualified_schema",
    "unqualified",
]

#: A FROM or JOIN item that is not ``"schema"."table"`` or a parenthesised subquery: a quoted
#: name not followed by a dot, or anything unquoted (``EXTRACT(… FROM T3."start")`` matches
#: too, which only costs that statement its shortcut). The keyword, in any case and on a word
#: boundary, is spelt out so that the pattern starts with a set of characters: the regex engine
#: then skips to the next F or J instead of trying the whole pattern at every position (a
#: fifth of the time of ``\b(?:FROM|JOIN)`` with IGNORECASE, which it matches exactly).
_UNQUALIFIED = re.compile(
    r"[FfJj](?<!\w[FfJj])(?:(?<=[Ff])[Rr][Oo][Mm]|(?<=[Jj])[Oo][Ii][Nn])"
    r'\s+(?:"[^"]*"(?!\.)|(?![("]))'
)


#: ``unqualified``'s answers by statement text. The same texts come back (one a query shape and
#: hospital), and looking a text up costs about a tenth of searching it (~2,500 instructions
#: against ~27,000 for a 500-character SELECT, which the engine still tests character by
#: character). Emptied when full, which bounds it.
_answers: dict[str, bool] = {}
MAX_ANSWERS = 4096


def unqualified(sql: str) -> bool:
    """Whether ``sql`` may name a table of its FROM clause without a schema."""
    answer = _answers.get(sql)
    if answer is None:
        answer = _UNQUALIFIED.search(sql) is not None
        if len(_answers) >= MAX_ANSWERS:
            _answers.clear()
        _answers[sql] = answer
    return answer


@dataclass
class _Reads:
    """What the compilers of one statement found: the schema they qualified with, and whether
    every part of the statement was theirs."""

    schema: str
    whole: bool = True


#: Set while a SELECT compiled here runs (``execute_sql``); read by the cursor.
_statement: ContextVar[_Reads | None] = ContextVar("hospitium_qualified", default=None)


def qualified_schema(sql: str) -> str | None:
    """The schema the statement being executed names all its tables with, or None if it is not
    such a statement (then the cursor must switch the search path first)."""
    reads = _statement.get()
    if reads is None or not reads.whole or unqualified(sql):
        return None
    return reads.schema


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


#: Whether a class of expression node holds SQL written by hand (``RawSQL``, ``ExtraWhere`` and
#: their subclasses), which may name a table without its schema; filled as classes are met.
_hand_written: dict[type, bool] = {}

#: What ``super().compile`` finds for both compilers below (neither Django's PostgreSQL SELECT
#: compiler nor its aggregate compiler has a ``compile`` of its own; a test checks it), called
#: directly: compile runs for every node of every statement, and ``super()`` is a third of
#: the hook's own cost.
_django_compile = _DjangoCompiler.compile


class _QualifiedReads:
    """Mixed into Django's SELECT compilers: the FROM clause names the bound hospital's schema."""

    connection: Any
    query: Any
    quote_cache: dict[str, str]

    def compile(self, node: Any) -> tuple[str, Any]:
        kind = node.__class__
        hand_written = _hand_written.get(kind)
        if hand_written is None:
            hand_written = _hand_written[kind] = issubclass(kind, RawSQL | ExtraWhere)
        if hand_written:
            reads = _statement.get()
            if reads is not None:
                reads.whole = False
        return _django_compile(self, node)  # type: ignore[arg-type]

    def get_from_clause(self) -> Any:
        schema = wanted_session(self.connection.alias).required
        reads = _statement.get()
        if schema is None or self.query.extra_tables or (reads and reads.schema != schema):
            if reads is not None:
                reads.whole = False
            return super().get_from_clause()  # type: ignore[misc]
        # Django's quoting cache (``quote_name_unless_alias`` looks there first) names the
        # tables of the FROM clause with the schema while it is compiled — the table items and
        # the column references of the joins' ON clauses, which may name the schema too — and
        # gets its bare names back afterwards, which the column references elsewhere use.
        # Cheaper than overriding the quoting, which runs for every column of the statement.
        cache: dict[str, str] = self.quote_cache
        tables = list(self.query.table_map)
        saved = {name: cache[name] for name in tables if name in cache}
        prefix = _quoted(schema) + "."
        quote = self.connection.ops.quote_name
        for name in tables:
            cache[name] = prefix + quote(name)
        try:
            return super().get_from_clause()  # type: ignore[misc]
        finally:
            for name in tables:
                if name in saved:
                    cache[name] = saved[name]
                else:
                    cache.pop(name, None)

    def as_sql(self, *args: Any, **kwargs: Any) -> tuple[str, Any]:
        reads = _statement.get()
        if reads is not None and (self.query.extra or self.query.extra_order_by):
            reads.whole = False
        return super().as_sql(*args, **kwargs)  # type: ignore[misc]

    def execute_sql(self, *args: Any, **kwargs: Any) -> Any:
        if _statement.get() is not None:
            return super().execute_sql(*args, **kwargs)  # type: ignore[misc]
        schema = wanted_session(self.connection.alias).required
        if schema is None:
            return super().execute_sql(*args, **kwargs)  # type: ignore[misc]
        token = _statement.set(_Reads(schema))
        try:
            return super().execute_sql(*args, **kwargs)  # type: ignore[misc]
        finally:
            _statement.reset(token)


class SQLCompiler(_QualifiedReads, _PostgresCompiler):
    pass


class SQLAggregateCompiler(_QualifiedReads, _AggregateCompiler):
    pass
