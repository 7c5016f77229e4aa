"""A stay's patient and bed have no index of their own: (patient, discharged_at),
(bed, admitted_at) and (bed, discharged_at) lead with them and serve every look-up they did,
and each stay written paid for both. A plain DROP INDEX: on SQLite an AlterField would rebuild
the table and drop its triggers."""

import django.db.models.deletion
from django.db import migrations, models

from hospitium.core.sql import drop_single_column_index


class Migration(migrations.Migration):
    dependencies = [("admissions", "0003_overlap_when"), ("patients", "0005_zone_spans")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="admission",
                    name="patient",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="admissions",
                        to="patients.patient",
                    ),
                ),
                migrations.AlterField(
                    model_name="admission",
                    name="bed",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="admissions",
                        to="admissions.bed",
                    ),
                ),
            ],
            database_operations=[
                drop_single_column_index("admissions_admission", "patient_id"),
                drop_single_column_index("admissions_admission", "bed_id"),
            ],
        )
    ]
