"""SQLite for hospital stores: Django's backend, except that a store that cannot be opened is a
clear HospitalStoreUnavailable instead of a silently created empty file or a bare driver error.

Store URIs use ``mode=rw``, so SQLite refuses to create a missing file; only template building
asks for ``mode=rwc``.

The rule triggers that compare a stored datetime with a calendar date in the hospital's
reporting time zone (``settings.TIME_ZONE``), as the services do, read the zone's UTC offsets
from a table of the store (``core.localdate``). This backend keeps that table in step with the
setting: it reads the key the store holds at the start of every transaction and whenever the
setting changes, and rewrites the offsets when the key differs — inside the caller's transaction
when there is one (a rollback then undoes both, and the key is read again), else in a write
transaction of its own. Every connection also gets ``hospitium_local_date(ts)``, which the
triggers call for moments outside the table's window (before 1900, from 2100 on); a connection
without it (the ``sqlite3`` shell) cannot write such rows: it fails closed.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from typing import Any

from django.conf import settings
from django.db.backends.sqlite3 import base
from django.utils import timezone

from hospitium.core import localdate
from hospitium.tenancy.errors import HospitalStoreUnavailable


def local_date(value: str | None) -> str | None:
    """The ISO calendar day, in ``settings.TIME_ZONE``, of a datetime stored the way Django's
    SQLite backend stores it (naive UTC text); None for None or for text that is not one."""
    if value is None:
        return None
    zone = timezone.get_default_timezone()
    if getattr(zone, "key", None) == "UTC":
        return value[:10]
    try:
        moment = dt.datetime.fromisoformat(value).replace(tzinfo=dt.UTC)
    except ValueError:
        return None
    return moment.astimezone(zone).date().isoformat()


class DatabaseWrapper(base.DatabaseWrapper):
    #: The zone key this connection last found (or wrote) in its store; None: read it again.
    _zone_key: str | None = None

    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        try:
            connection = super().get_new_connection(conn_params)
        except sqlite3.OperationalError as exc:
            code = self.alias.split(":")[1] if ":" in self.alias else self.alias
            raise HospitalStoreUnavailable(
                f"The data store of hospital {code} cannot be opened."
            ) from exc
        connection.create_function("hospitium_local_date", 1, local_date, deterministic=True)
        self._zone_key = None
        return connection

    def create_cursor(self, name: str | None = None) -> Any:
        if self._zone_key != localdate.zone_key(settings.TIME_ZONE):
            self._sync_zone()
        return super().create_cursor(name)

    def _start_transaction_under_autocommit(self) -> None:
        super()._start_transaction_under_autocommit()  # type: ignore[misc]
        # Another process may have rewritten the offsets for another zone since: read the key
        # again, now that this transaction holds the write lock (BEGIN IMMEDIATE).
        self._zone_key = None

    def _rollback(self) -> None:
        try:
            super()._rollback()  # type: ignore[misc]
        finally:
            self._zone_key = None

    def _savepoint_rollback(self, sid: str) -> None:
        try:
            super()._savepoint_rollback(sid)  # type: ignore[misc]
        finally:
            self._zone_key = None

    def _sync_zone(self) -> None:
        """Make the store's zone offsets those of ``settings.TIME_ZONE`` (see the module's
        docstring). A store without the table (not migrated yet) and a read-only store are left
        as they are. Raises the driver's error when the store cannot be written."""
        name = settings.TIME_ZONE
        key = localdate.zone_key(name)
        raw = self.connection
        try:
            stored = localdate.stored_key(raw)
        except sqlite3.OperationalError:
            stored = key  # not migrated yet: the migration that adds the table fills it
        if stored != key and "mode=ro" not in str(self.settings_dict["NAME"]):
            if raw.in_transaction:
                localdate.write_spans(raw, name)
            else:
                raw.execute("BEGIN IMMEDIATE")
                try:
                    localdate.write_spans(raw, name)
                except BaseException:
                    raw.execute("ROLLBACK")
                    raise
                raw.execute("COMMIT")
        self._zone_key = key
