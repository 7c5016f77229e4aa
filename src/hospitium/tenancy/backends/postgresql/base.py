"""PostgreSQL for hospital stores: one connection (from Django's psycopg pool) per server, whose
``search_path`` follows the current hospital.

The schema is set lazily, right before a cursor is made, and only when it differs from the one
this connection last set. What the connection "last set" is remembered per psycopg connection
(so it survives the pool) and forgotten whenever PostgreSQL may have undone it: on rollback (a
``SET`` inside a rolled-back transaction is rolled back too), on savepoint rollback, and when a
connection goes back to the pool with a transaction open. A new connection knows nothing.
With no hospital bound the search path is empty, so an unqualified table name fails instead of
falling back anywhere. An archived (read-only) hospital's connection also gets
``default_transaction_read_only``, so even raw SQL cannot write to it.

The session also gets ``hospitium.time_zone`` (``settings.TIME_ZONE``), which the
``hospitium_local_date`` function of the rule triggers reads to compare a timestamp with a
calendar date in the hospital's reporting time zone, as the services do (a session without it,
such as psql, is checked in UTC). Like the schema, it is set only when the connection does not
have it yet (once per connection, in practice), and forgotten whenever PostgreSQL may have
undone it.
"""

from __future__ import annotations

from typing import Any
from weakref import WeakKeyDictionary

from django.conf import settings
from django.db.backends.postgresql import base
from django.db.utils import DatabaseErrorWrapper
from django.utils.functional import cached_property
from psycopg.pq import TransactionStatus

from hospitium.tenancy.errors import HospitalStoreUnavailable
from hospitium.tenancy.stores.schemas import session_for, wanted_session

#: The session each psycopg connection was last given. Kept on the connection, not on Django's
#: wrapper, so that a connection handed out again by the pool (most requests) is not switched
#: again when it is already right: that saves a round trip per request.
_sessions: WeakKeyDictionary[Any, str] = WeakKeyDictionary()


class _StoreErrors(DatabaseErrorWrapper):
    """Django's error wrapper, plus: a query that finds no table because the hospital's schema
    itself has gone (dropped while this pooled connection still pointed at it) is reported as
    HospitalStoreUnavailable, as the first switch to a missing schema is. Checked only when such
    an error happens, so the common path costs nothing."""

    def __exit__(self, exc_type: Any, exc_value: Any, traceback: Any) -> None:
        wrapper: DatabaseWrapper = self.wrapper  # type: ignore[attr-defined]
        cause = getattr(exc_value, "__cause__", None) or exc_value
        if (
            exc_type is not None
            and getattr(cause, "sqlstate", None) == "42P01"
            and wrapper.hospitium_session
            and wrapper.connection is not None
            and not wrapper.in_atomic_block
        ):
            schema = wrapper.hospitium_session.split("|", 1)[0]
            wrapper.hospitium_session = None
            if schema and not wrapper.connection.execute(_EXISTS, (schema,)).fetchone()[0]:
                code = schema.removeprefix("hospital_").upper()
                raise HospitalStoreUnavailable(
                    f"The data store of hospital {code} cannot be found."
                ) from exc_value
        super().__exit__(exc_type, exc_value, traceback)


#: The reporting time zone each psycopg connection was last given (see the module's docstring).
_zones: WeakKeyDictionary[Any, str] = WeakKeyDictionary()
_SET_ZONE = "SELECT pg_catalog.set_config('hospitium.time_zone', %s, false)"

_EXISTS = "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = %s)"


class DatabaseWrapper(base.DatabaseWrapper):
    @cached_property
    def wrap_database_errors(self) -> DatabaseErrorWrapper:
        return _StoreErrors(self)

    @property
    def hospitium_session(self) -> str | None:
        return _sessions.get(self.connection) if self.connection is not None else None

    @hospitium_session.setter
    def hospitium_session(self, key: str | None) -> None:
        if self.connection is None:
            return
        if key is None:
            _sessions.pop(self.connection, None)
        else:
            _sessions[self.connection] = key

    def create_cursor(self, name: str | None = None) -> Any:
        zone = settings.TIME_ZONE
        if _zones.get(self.connection) != zone:
            self._switch(_SET_ZONE, (zone,))
            _zones[self.connection] = zone
        wanted = wanted_session(self.alias)
        if wanted.key != self.hospitium_session:
            row = self._switch(wanted.statement, wanted.params)
            if wanted.required and not (row and row[-1]):
                # Never leave a connection pointing at a schema that is not there.
                empty = session_for(None, False)
                self._switch(empty.statement, empty.params)
                self.hospitium_session = empty.key
                code = wanted.required.removeprefix("hospital_").upper()
                raise HospitalStoreUnavailable(
                    f"The data store of hospital {code} cannot be found."
                )
            self.hospitium_session = wanted.key
        return super().create_cursor(name)

    def _switch(self, statement: str, params: Any) -> Any:
        """Run the session statement — outside any transaction when none has begun yet.

        Inside ``atomic`` psycopg would open the transaction with this very statement, and a
        transaction takes its read-only mode from the session *as it was* when it began: leaving
        an archived (read-only) hospital for a writable one would then start a read-only
        transaction. Switching first, in autocommit, avoids that (and a rollback cannot undo it).
        """
        connection = self.connection
        if (
            not connection.autocommit
            and connection.info.transaction_status == TransactionStatus.IDLE
        ):
            connection.autocommit = True
            try:
                return connection.execute(statement, params).fetchone()
            finally:
                connection.autocommit = False
        return connection.execute(statement, params).fetchone()

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

    def _close(self) -> None:
        # Back to the pool: the session survives unless a transaction is still open, which the
        # pool rolls back (and a SET inside it with it).
        if (
            self.connection is not None
            and self.connection.info.transaction_status != TransactionStatus.IDLE
        ):
            self.hospitium_session = None
            self._forget_zone()
        super()._close()  # type: ignore[misc]

    def _forget_zone(self) -> None:
        if self.connection is not None:
            _zones.pop(self.connection, None)
