"""The audit log's record index leads with the object id: "who looked at this record?" names the
record by its id alone (UUIDs, unique across types), which an index led by the type could not
serve (a full scan of a log that grows with every read). Newest first, as the log is listed."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0002_append_only"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="auditevent",
            name="audit_object",
        ),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(fields=["object_id", "at"], name="audit_object_at"),
        ),
    ]
