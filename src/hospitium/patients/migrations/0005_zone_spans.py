"""SQLite: the reporting time zone's UTC offsets become a table of every hospital store, so the
rule triggers that compare a moment with a day compute the local day in SQL instead of calling
Python once per row (``core.localdate``). Filled here for ``settings.TIME_ZONE``; the hospital
backend rewrites it whenever the setting (or the tz database) differs from what it holds.
PostgreSQL computes the day natively and needs no table.
"""

from typing import Any

from django.conf import settings
from django.db import migrations

from hospitium.core import localdate
from hospitium.core.sql import vendor_sql


def fill(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "sqlite":
        return
    schema_editor.connection.ensure_connection()
    localdate.write_spans(schema_editor.connection.connection, settings.TIME_ZONE)


class Migration(migrations.Migration):
    dependencies = [("patients", "0004_patient_id_mrn")]

    operations = [
        vendor_sql(
            sqlite=localdate.CREATE_TABLES,
            postgresql=[],
            reverse_sqlite=localdate.DROP_TABLES,
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
    ]
