"""The visit indexes the reports read carry the kind and the void mark (see Visit.Meta): the same
names, dropped and created again with more columns. DROP INDEX and CREATE INDEX only: on SQLite
no table rebuild (which would drop the table's triggers)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("encounters", "0004_visit_patient_no_own_index")]

    operations = [
        migrations.RemoveIndex(model_name="visit", name="visit_started"),
        migrations.RemoveIndex(model_name="visit", name="visit_patient_started"),
        migrations.AddIndex(
            model_name="visit",
            index=models.Index(fields=["started_at", "kind", "voided_at"], name="visit_started"),
        ),
        migrations.AddIndex(
            model_name="visit",
            index=models.Index(
                fields=["patient", "started_at", "voided_at"], name="visit_patient_started"
            ),
        ),
    ]
