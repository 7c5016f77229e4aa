"""An appointment's practitioner has no index of its own: the (practitioner, starts_at) and
(practitioner, ends_at) indexes lead with it and serve every look-up it did, and each row
written paid for it (the demo generator writes ~450,000 appointments per 20,000 patients).
A plain DROP INDEX: on SQLite an AlterField would rebuild the table and drop its triggers."""

import django.db.models.deletion
from django.db import migrations, models

from hospitium.core.sql import drop_single_column_index


class Migration(migrations.Migration):
    dependencies = [("scheduling", "0003_overlap_when"), ("staff", "0001_initial")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="appointment",
                    name="practitioner",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="appointments",
                        to="staff.practitioner",
                    ),
                )
            ],
            database_operations=[
                drop_single_column_index("scheduling_appointment", "practitioner_id")
            ],
        )
    ]
