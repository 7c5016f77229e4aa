"""SQLite: the no-overlap triggers test the active condition on the new row (``WHEN``) instead
of reading the row back by primary key for every row written (core.constraints.NoOverlap)."""

from django.db import migrations

from hospitium.core.constraints import rebuild_sqlite_triggers


class Migration(migrations.Migration):
    dependencies = [("scheduling", "0002_status_flow_and_overlap_seek")]

    operations = [rebuild_sqlite_triggers("scheduling", "appointment")]
