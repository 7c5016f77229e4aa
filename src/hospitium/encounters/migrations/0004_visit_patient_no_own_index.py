"""A visit's patient has no index of its own: the (patient, started_at) index leads with it and
serves every look-up it did, and each visit written paid for it. A plain DROP INDEX: on SQLite
an AlterField would rebuild the table and drop its triggers."""

import django.db.models.deletion
from django.db import migrations, models

from hospitium.core.sql import drop_single_column_index


class Migration(migrations.Migration):
    dependencies = [("encounters", "0003_local_day_in_sql"), ("patients", "0005_zone_spans")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="visit",
                    name="patient",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="visits",
                        to="patients.patient",
                    ),
                )
            ],
            database_operations=[drop_single_column_index("encounters_visit", "patient_id")],
        )
    ]
