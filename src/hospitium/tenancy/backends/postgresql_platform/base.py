"""PostgreSQL for the platform store: Django's backend, which creates the platform schema
before migrating (``prepare_database`` is what ``migrate`` calls first)."""

from __future__ import annotations

from django.conf import settings
from django.db.backends.postgresql import base
from psycopg import sql


class DatabaseWrapper(base.DatabaseWrapper):
    def prepare_database(self) -> None:
        super().prepare_database()
        with self.cursor() as cursor:
            cursor.execute(
                sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(
                    sql.Identifier(settings.HOSPITIUM_PLATFORM_SCHEMA)
                )
            )
