"""The audit log loses its index on ``at``: ids are UUIDv7 (time first), so the primary key is
already an index in time order, and the log is listed by it, newest first. One index fewer is
one B-tree fewer to write for every event.

A plain DROP INDEX on both stores: on SQLite neither operation rebuilds the table, so the
append-only triggers of 0002 stay (tests/audit/test_migrations.py checks both)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0003_audit_object_id_index"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="auditevent",
            options={"ordering": ["-id"]},
        ),
        migrations.RemoveIndex(
            model_name="auditevent",
            name="audit_at",
        ),
    ]
