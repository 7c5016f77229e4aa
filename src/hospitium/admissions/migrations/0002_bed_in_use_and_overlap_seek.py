"""Admitting only to a bed in use is the database's rule too: a new stay, or a stay moved to
another bed, is refused when that bed is out of use (``is_active`` false).

And the no-overlap checks become index seeks on SQLite: indexes on (bed, discharged_at) and
(patient, discharged_at), and the triggers rewritten to use them (core.constraints.NoOverlap).
"""

from django.db import migrations, models

from hospitium.core.constraints import rebuild_sqlite_triggers
from hospitium.core.sql import Guard, guards

OUT_OF_USE = "EXISTS (SELECT 1 FROM admissions_bed b WHERE b.id = NEW.bed_id AND NOT b.is_active)"


class Migration(migrations.Migration):
    dependencies = [
        ("admissions", "0001_initial"),
        ("patients", "0003_local_date_function"),
    ]

    operations = [
        guards(
            Guard(
                name="admission_bed_in_use_insert",
                rule="admission_bed_in_use",
                table="admissions_admission",
                event="INSERT",
                condition=OUT_OF_USE,
            ),
            Guard(
                name="admission_bed_in_use_update",
                rule="admission_bed_in_use",
                table="admissions_admission",
                event="UPDATE OF bed_id",
                condition=f"NEW.bed_id <> OLD.bed_id AND {OUT_OF_USE}",
            ),
        ),
        migrations.AddIndex(
            model_name="admission",
            index=models.Index(fields=["bed", "discharged_at"], name="admission_bed_discharged"),
        ),
        migrations.AddIndex(
            model_name="admission",
            index=models.Index(
                fields=["patient", "discharged_at"], name="admission_patient_discharged"
            ),
        ),
        rebuild_sqlite_triggers("admissions", "admission"),
    ]
