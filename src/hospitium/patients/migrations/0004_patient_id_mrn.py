"""A covering index on the patients' key and MRN.

Every report listing of visits or treatments joins each row to its patient for the MRN, through
the patient's key (a UUID, stored as text on SQLite). With only the key's index, each row costs
two B-tree descents (the index, then the table by rowid); with ``(id, mrn)`` the database
answers from the index alone. Measured on a 1,000,000-visit hospital (docs/benchmarks.md, issue
5): the visits with their MRN read in 2.8 s instead of 5.5 s.

SQLite's planner, without statistics, prefers the key's unique index for ``id = ?`` (one row)
over a non-unique index whose prefix is the key (ten rows assumed). So the index gets the one
statistic that says what its prefix is worth — one row per key — in ``sqlite_stat1``, written by
hand as SQLite documents ("Manual Control Of Query Plans Using SQLITE_STAT Tables"). The row
count in it is SQLite's own default assumption for a table without statistics (1,048,576), so no
other estimate changes; a later ``ANALYZE`` replaces it with measured figures, which say the
same of this index. ``ANALYZE sqlite_schema`` only creates ``sqlite_stat1`` when it is missing.

Index only (``CREATE INDEX``): no table is rebuilt, so the raw triggers of other migrations are
kept. PostgreSQL keeps statistics itself.
"""

from django.db import migrations, models

from hospitium.core.sql import vendor_sql

STATISTIC = """INSERT INTO sqlite_stat1 (tbl, idx, stat)
SELECT 'patients_patient', 'patient_id_mrn', '1048576 1 1'
WHERE NOT EXISTS (SELECT 1 FROM sqlite_stat1 WHERE idx = 'patient_id_mrn')"""


class Migration(migrations.Migration):
    dependencies = [("patients", "0003_local_date_function")]

    operations = [
        migrations.AddIndex(
            model_name="patient",
            index=models.Index(fields=["id", "mrn"], name="patient_id_mrn"),
        ),
        vendor_sql(
            sqlite=["ANALYZE sqlite_schema", STATISTIC],
            postgresql=[],
            reverse_sqlite=["DELETE FROM sqlite_stat1 WHERE idx = 'patient_id_mrn'"],
        ),
    ]
