"""PostgreSQL for hospital stores: one connection (from Django's psycopg pool) per server, whose
``search_path`` follows the current hospital.

The schema is set lazily, only when the session a cursor wants differs from the one its
connection last set, and in the same round trip as the cursor's first statement: the settings
go in front of that statement in one simple-protocol query (see ``SessionCursor``). What the
connection "last set" is remembered per psycopg connection (so it survives the pool) and
forgotten whenever PostgreSQL may have undone it: when that query fails, on rollback (a ``SET``
inside a rolled-back transaction is rolled back too), on savepoint rollback, on the commit of a
failed transaction, and when a connection goes back to the pool with a transaction open. A new
connection knows nothing. With no hospital bound the search path is empty, so an unqualified
table name fails instead of falling back anywhere. An archived (read-only) hospital's connection
also gets ``default_transaction_read_only``, so even raw SQL cannot write to it.

The session also gets ``hospitium.time_zone`` (``settings.TIME_ZONE``), which the
``hospitium_local_date`` function of the rule triggers reads to compare a timestamp with a
calendar date in the hospital's reporting time zone, as the services do (a session without it,
such as psql, is checked in UTC). It is set only when the connection does not have it yet (once
per connection, in practice), in a round trip of its own, and forgotten whenever PostgreSQL may
have undone it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from django.conf import settings
from django.db.backends.postgresql import base
from django.db.backends.postgresql.operations import DatabaseOperations as PostgresOperations
from django.db.utils import DatabaseErrorWrapper
from django.utils.functional import cached_property
from psycopg.pq import TransactionStatus

from hospitium.tenancy.backends.postgresql.compiler import qualified_schema
from hospitium.tenancy.errors import HospitalStoreUnavailable
from hospitium.tenancy.stores.schemas import Session, session_for, wanted_session

#: The attribute of a psycopg connection that holds the key of the session it was last given.
#: Kept on the connection, not on Django's wrapper, so that a connection handed out again by the
#: pool (most requests) is not switched again when it is already right. An attribute rather than
#: a WeakKeyDictionary keyed by the connection (as before 2026-12-07): read on every statement,
#: and ``getattr`` costs a fraction of the dictionary's weak reference and Python-level ``get``.
_SESSION = "hospitium_session"

_IDLE = TransactionStatus.IDLE
_INERROR = TransactionStatus.INERROR

#: Statements the session settings may ride in front of: what the ORM sends (and SAVEPOINT, the
#: first statement of a nested ``atomic``). Anything else — DDL, VACUUM or CREATE INDEX
#: CONCURRENTLY (which refuse to run in the implicit transaction that a multi-statement query
#: is), SET TRANSACTION (which must come before any query), CALL, COPY — gets the settings in a
#: round trip of its own first, as before.
_INLINE = re.compile(r"\s*(?:SELECT|INSERT|UPDATE|DELETE|WITH|SAVEPOINT)\b", re.IGNORECASE)
#: Statements that need no schema and must not be preceded by anything (ROLLBACK is what a
#: failed transaction accepts): they run as they are, and the switch waits for the next one.
_AS_IS = re.compile(r"\s*(?:ROLLBACK|RELEASE)\b", re.IGNORECASE)
#: In front of the settings when no transaction has run a statement yet (autocommit, or the
#: first statement after psycopg's BEGIN): a transaction takes its read-only mode from
#: default_transaction_read_only as it was when it began, which is *before* the settings in the
#: same query change it. A utility SET takes no snapshot, so it is still allowed here.
_TRANSACTION_MODE = {
    True: "SET transaction_read_only TO on; ",
    False: "SET transaction_read_only TO off; ",
}


def _unavailable(schema: str) -> HospitalStoreUnavailable:
    code = schema.removeprefix("hospital_").upper()
    return HospitalStoreUnavailable(f"The data store of hospital {code} cannot be found.")


def _execute_outside_transaction(connection: Any, statement: str, params: Any) -> Any:
    """Run a session statement — outside any transaction when none has begun yet.

    Inside ``atomic`` psycopg would open the transaction with this very statement, and a
    transaction takes its read-only mode from the session *as it was* when it began: leaving
    an archived (read-only) hospital for a writable one would then start a read-only
    transaction. Switching first, in autocommit, avoids that (and a rollback cannot undo it).
    """
    if not connection.autocommit and connection.info.transaction_status == _IDLE:
        connection.autocommit = True
        try:
            return connection.execute(statement, params).fetchone()
        finally:
            connection.autocommit = False
    return connection.execute(statement, params).fetchone()


def _switch_apart(connection: Any, wanted: Session) -> None:
    """Give ``connection`` the ``wanted`` session in a round trip of its own.

    Raises HospitalStoreUnavailable (leaving the connection on no schema at all) if the
    hospital's schema is not there.
    """
    row = _execute_outside_transaction(connection, wanted.statement, wanted.params)
    if wanted.required and not (row and row[-1]):
        # Never leave a connection pointing at a schema that is not there.
        empty = session_for(None, False)
        _execute_outside_transaction(connection, empty.statement, empty.params)
        setattr(connection, _SESSION, empty.key)
        raise _unavailable(wanted.required)
    setattr(connection, _SESSION, wanted.key)


class SessionCursor(base.Cursor, psycopg.ClientCursor[Any]):
    """Django's client-side binding cursor, which brings the session its connection needs
    (``hospitium_session``, set by ``DatabaseWrapper.create_cursor``) along with its first
    statement instead of in a round trip of its own.

    Client-side binding sends a query without parameters over the simple protocol, which runs
    several statements in one round trip: ``[SET transaction_read_only …;] SELECT set_config(…),
    …, 'schema'::regnamespace; <statement>``. Outside a transaction they form one implicit
    transaction, so a failing statement undoes the settings too; inside one, a failure aborts
    the transaction, whose rollback forgets the session. The cursor is then moved to the
    statement's own result. psycopg's pipeline mode would also save the round trip, but it sends
    every query over the extended protocol, one statement each, which raw multi-statement SQL
    (the schema clone script, for one) relies on not happening.
    """

    hospitium_session: Session | None = None

    def execute(
        self,
        query: Any,
        params: Any = None,
        *,
        prepare: bool | None = None,
        binary: bool | None = None,
    ) -> Any:
        """Run ``query``, preceded in the same round trip by the session settings if the
        connection is not on the wanted session yet.

        Raises HospitalStoreUnavailable if the hospital's schema is not there, and whatever
        the query itself raises.
        """
        wanted = self.hospitium_session
        connection = self.connection
        current = getattr(connection, _SESSION, None)
        if wanted is None or current == wanted.key:
            return super().execute(query, params, prepare=prepare, binary=binary)
        text = query if isinstance(query, str) else ""
        if (
            wanted.required is not None
            and current is not None
            and current.endswith(wanted.mode)
            and qualified_schema(text) == wanted.required
        ):
            # A read whose every table names the hospital's schema (compiler.py), on a
            # connection already in the hospital's read-only mode: no switch needed.
            # A dropped schema surfaces as a missing table: _StoreErrors reports it.
            return super().execute(query, params, prepare=prepare, binary=binary)
        status = connection.info.transaction_status
        if status == _INERROR or _AS_IS.match(text):
            return super().execute(query, params, prepare=prepare, binary=binary)
        if not _INLINE.match(text):
            _switch_apart(connection, wanted)
            return super().execute(query, params, prepare=prepare, binary=binary)
        lead, results = wanted.inline, 1
        if status == _IDLE:
            lead, results = _TRANSACTION_MODE[wanted.read_only] + lead, 2
        sent = lead if params is None else lead.replace("%", "%%")
        try:
            super().execute(sent + query, params, prepare=prepare, binary=binary)
        except psycopg.Error as exc:
            setattr(connection, _SESSION, None)
            position = exc.diag.statement_position
            if (
                wanted.required
                and exc.sqlstate == "3F000"
                and position is not None
                and int(position) <= len(lead)
            ):
                raise _unavailable(wanted.required) from exc
            raise
        self.set_result(results)
        if self.nextset():
            # Several statements of the caller's: one of them may have rolled back or reset
            # what the settings did. Forgetting costs nothing (the next query brings them again).
            self.set_result(results)
            setattr(connection, _SESSION, None)
        else:
            setattr(connection, _SESSION, wanted.key)
        return self

    def executemany(
        self, query: Any, params_seq: Iterable[Any], *, returning: bool = False
    ) -> None:
        """psycopg's executemany (a pipeline of its own), after the session settings in a round
        trip of their own if needed. Raises HospitalStoreUnavailable if the schema is gone."""
        self._switch_apart_if_needed()
        super().executemany(query, params_seq, returning=returning)

    @contextmanager
    def copy(self, statement: Any, params: Any = None, *, writer: Any = None) -> Iterator[Any]:
        """psycopg's COPY, after the session settings in a round trip of their own if needed.
        Raises HospitalStoreUnavailable if the schema is gone."""
        self._switch_apart_if_needed()
        with super().copy(statement, params, writer=writer) as copy:
            yield copy

    def stream(
        self,
        query: Any,
        params: Any = None,
        *,
        binary: bool | None = None,
        size: int = 1,
    ) -> Iterator[Any]:
        """psycopg's row-by-row stream, after the session settings in a round trip of their own
        if needed. Raises HospitalStoreUnavailable if the schema is gone."""
        self._switch_apart_if_needed()
        yield from super().stream(query, params, binary=binary, size=size)

    def _switch_apart_if_needed(self) -> None:
        wanted = self.hospitium_session
        connection = self.connection
        if (
            wanted is not None
            and getattr(connection, _SESSION, None) != wanted.key
            and connection.info.transaction_status != _INERROR
        ):
            _switch_apart(connection, wanted)


class _StoreErrors(DatabaseErrorWrapper):
    """Django's error wrapper, plus: a query that finds no table because the hospital's schema
    itself has gone (dropped while this pooled connection still pointed at it) is reported as
    HospitalStoreUnavailable, as the first switch to a missing schema is. Checked only when such
    an error happens, so the common path costs nothing."""

    def __exit__(self, exc_type: Any, exc_value: Any, traceback: Any) -> None:
        if exc_type is None:
            return  # every statement that succeeds passes here: nothing more to do
        wrapper: DatabaseWrapper = self.wrapper  # type: ignore[attr-defined]
        cause = getattr(exc_value, "__cause__", None) or exc_value
        if (
            getattr(cause, "sqlstate", None) == "42P01"
            and wrapper.connection is not None
            and not wrapper.in_atomic_block
        ):
            # The schema this query wanted: the connection may still be on another one when the
            # query named its tables with their schema (compiler.py).
            current = wrapper.hospitium_session
            schema = wanted_session(wrapper.alias).required or (
                current.split("|", 1)[0] if current else None
            )
            wrapper.hospitium_session = None
            if schema and not wrapper.connection.execute(_EXISTS, (schema,)).fetchone()[0]:
                raise _unavailable(schema) from exc_value
        super().__exit__(exc_type, exc_value, traceback)


#: The attribute of a psycopg connection that holds the reporting time zone it was last given
#: (see the module's docstring).
_ZONE = "hospitium_time_zone"
_SET_ZONE = "SELECT pg_catalog.set_config('hospitium.time_zone', %s, false)"

_EXISTS = "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = %s)"


class DatabaseOperations(PostgresOperations):
    # SELECTs name their tables with the hospital's schema (compiler.py).
    compiler_module = "hospitium.tenancy.backends.postgresql.compiler"


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations

    @cached_property
    def wrap_database_errors(self) -> DatabaseErrorWrapper:
        return _StoreErrors(self)

    @property
    def hospitium_session(self) -> str | None:
        return getattr(self.connection, _SESSION, None) if self.connection is not None else None

    @hospitium_session.setter
    def hospitium_session(self, key: str | None) -> None:
        if self.connection is None:
            return
        setattr(self.connection, _SESSION, key)

    def get_connection_params(self) -> dict[str, Any]:
        params: dict[str, Any] = super().get_connection_params()
        # Django's client-side binding cursor (its default) becomes one that brings the session
        # along; with OPTIONS server_side_binding the session is set apart, in create_cursor.
        if params.get("cursor_factory") is base.Cursor:
            params["cursor_factory"] = SessionCursor
        return params

    def create_cursor(self, name: str | None = None) -> Any:
        zone = settings.TIME_ZONE
        if getattr(self.connection, _ZONE, None) != zone:
            _execute_outside_transaction(self.connection, _SET_ZONE, (zone,))
            setattr(self.connection, _ZONE, zone)
        wanted = wanted_session(self.alias)
        if name is None:
            cursor = super().create_cursor()
            if isinstance(cursor, SessionCursor):
                cursor.hospitium_session = wanted
                return cursor
        # A named (server-side) cursor is declared over the extended protocol, which runs one
        # statement per query: the session goes first, apart.
        if (
            wanted.key != self.hospitium_session
            and self.connection.info.transaction_status != _INERROR
        ):
            _switch_apart(self.connection, wanted)
        return cursor if name is None else super().create_cursor(name)

    # Forget the session only after the rollback: rolling back a savepoint itself makes a cursor,
    # and nothing may be sent before it while the transaction is in its failed state.
    def _rollback(self) -> None:
        try:
            super()._rollback()  # type: ignore[misc]
        finally:
            self.hospitium_session = None
            self._forget_zone()

    def _savepoint_rollback(self, sid: str) -> None:
        try:
            super()._savepoint_rollback(sid)  # type: ignore[misc]
        finally:
            self.hospitium_session = None
            self._forget_zone()

    def _commit(self) -> None:
        # PostgreSQL answers COMMIT of a failed transaction by rolling it back, without an error:
        # a session set inside it is undone.
        failed = self.connection is not None and self.connection.info.transaction_status == _INERROR
        try:
            super()._commit()  # type: ignore[misc]
        finally:
            if failed:
                self.hospitium_session = None
                self._forget_zone()

    def _close(self) -> None:
        # Back to the pool: the session survives unless a transaction is still open, which the
        # pool rolls back (and a SET inside it with it).
        # pgconn's own status (an int): ``info`` builds an object and an enum on every read.
        if self.connection is not None and self.connection.pgconn.transaction_status != _IDLE:
            self.hospitium_session = None
            self._forget_zone()
        super()._close()  # type: ignore[misc]

    def _forget_zone(self) -> None:
        if self.connection is not None:
            setattr(self.connection, _ZONE, None)
