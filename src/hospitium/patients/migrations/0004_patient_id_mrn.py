"""A covering index on the patients' key and MRN.

Every report listing of visits or treatments joins each row to its patient for the MRN, through
the patient's key (a UUID, stored as text on SQLite). With only the key's index, each row costs
two B-tree descents (the index, then the table by rowid); with ``(id, mrn)`` SQLite answers
from the index alone. Measured on a 1,000,000-visit hospital: docs/benchmarks.md, issue 5.

Index only (``CREATE INDEX``): no table is rebuilt, so the raw triggers of other migrations are
kept.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("patients", "0003_local_date_function")]

    operations = [
        migrations.AddIndex(
            model_name="patient",
            index=models.Index(fields=["id", "mrn"], name="patient_id_mrn"),
        ),
    ]
