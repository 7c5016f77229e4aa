"""The audit log loses its index on ``at``: ids are UUIDv7 (time first), so the primary key is
already an index in time order, and the log is listed by it, newest first. One index fewer is
one B-tree fewer to write for every event.

The record and person indexes follow the same order: ``(object_id, id)`` and ``(actor_id, id)``
replace ``(object_id, at)`` and ``(actor_id, at)``, so that a record's or a person's newest
events are read from the index in order, with no sort of their whole history.

DROP INDEX and CREATE INDEX only, on both stores: on SQLite none of them rebuilds the table, so
the append-only triggers of 0002 stay (tests/audit/test_migrations.py checks both)."""

from django.db import migrations, models


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
        migrations.RemoveIndex(
            model_name="auditevent",
            name="audit_object_at",
        ),
        migrations.RemoveIndex(
            model_name="auditevent",
            name="audit_actor_at",
        ),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(fields=["object_id", "id"], name="audit_object_id"),
        ),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(fields=["actor_id", "id"], name="audit_actor_id"),
        ),
    ]
