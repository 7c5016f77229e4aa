"""SQLite for hospital stores: Django's backend, except that a store that cannot be opened is a
clear HospitalStoreUnavailable instead of a silently created empty file or a bare driver error.

Store URIs use ``mode=rw``, so SQLite refuses to create a missing file; only template building
asks for ``mode=rwc``.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from django.db.backends.sqlite3 import base

from hospitium.tenancy.errors import HospitalStoreUnavailable


class DatabaseWrapper(base.DatabaseWrapper):
    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        try:
            return super().get_new_connection(conn_params)
        except sqlite3.OperationalError as exc:
            code = self.alias.split(":")[1] if ":" in self.alias else self.alias
            raise HospitalStoreUnavailable(
                f"The data store of hospital {code} cannot be opened."
            ) from exc
