"""PostgreSQL for hospital stores: one connection (from Django's psycopg pool) per server, whose
``search_path`` follows the current hospital.

The schema is set lazily, right before a cursor is made, and only when it differs from the one
this connection last set. What the connection "last set" is forgotten whenever PostgreSQL may
have undone it or the connection may be another one: on rollback (a ``SET`` inside a rolled-back
transaction is rolled back too), on savepoint rollback, and on every new or pooled connection.
With no hospital bound the search path is empty, so an unqualified table name fails instead of
falling back anywhere. An archived (read-only) hospital's connection also gets
``default_transaction_read_only``, so even raw SQL cannot write to it.
"""

from __future__ import annotations

from typing import Any

from django.db.backends.postgresql import base

from hospitium.tenancy.errors import HospitalStoreUnavailable
from hospitium.tenancy.stores.schemas import session_for, wanted_session


class DatabaseWrapper(base.DatabaseWrapper):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.hospitium_session: str | None = None

    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        connection = super().get_new_connection(conn_params)
        self.hospitium_session = None
        return connection

    def create_cursor(self, name: str | None = None) -> Any:
        wanted = wanted_session(self.alias)
        if wanted.key != self.hospitium_session:
            row = self.connection.execute(wanted.statement, wanted.params).fetchone()
            if wanted.required and not (row and row[-1]):
                # Never leave a connection pointing at a schema that is not there.
                empty = session_for(None, False)
                self.connection.execute(empty.statement, empty.params)
                self.hospitium_session = empty.key
                code = wanted.required.removeprefix("hospital_").upper()
                raise HospitalStoreUnavailable(
                    f"The data store of hospital {code} cannot be found."
                )
            self.hospitium_session = wanted.key
        return super().create_cursor(name)

    # Forget the session only after the rollback: rolling back a savepoint itself makes a cursor,
    # and nothing may be sent before it while the transaction is in its failed state.
    def _rollback(self) -> None:
        try:
            super()._rollback()  # type: ignore[misc]
        finally:
            self.hospitium_session = None

    def _savepoint_rollback(self, sid: str) -> None:
        try:
            super()._savepoint_rollback(sid)  # type: ignore[misc]
        finally:
            self.hospitium_session = None

    def _close(self) -> None:
        self.hospitium_session = None
        super()._close()  # type: ignore[misc]
