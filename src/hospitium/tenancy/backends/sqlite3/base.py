"""SQLite for hospital stores: Django's backend, except that a store that cannot be opened is a
clear HospitalStoreUnavailable instead of a silently created empty file or a bare driver error.

Store URIs use ``mode=rw``, so SQLite refuses to create a missing file; only template building
asks for ``mode=rwc``.

Every connection also gets ``hospitium_local_date(ts)``, which the rule triggers use to compare
a stored datetime with a calendar date in the hospital's reporting time zone
(``settings.TIME_ZONE``), as the services do. A connection without it (the ``sqlite3`` shell)
cannot write the rows those triggers guard: it fails closed.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from typing import Any

from django.db.backends.sqlite3 import base
from django.utils import timezone

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
    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        try:
            connection = super().get_new_connection(conn_params)
        except sqlite3.OperationalError as exc:
            code = self.alias.split(":")[1] if ":" in self.alias else self.alias
            raise HospitalStoreUnavailable(
                f"The data store of hospital {code} cannot be opened."
            ) from exc
        connection.create_function("hospitium_local_date", 1, local_date, deterministic=True)
        return connection
