"""Voiding a patient, the hospital's own MRN sequence, and the index behind patient search.

Search (``patients.selectors.patient_search``) finds patients by any part of a name or MRN as
the user types, through an index on each store, never a scan of the table:

- SQLite: an FTS5 table with the trigram tokenizer over given name, family name and MRN, an
  external-content index of ``patients_patient`` (it stores no copy of the rows) kept in step by
  three triggers. A later migration that rebuilds ``patients_patient`` (SQLite drops a rebuilt
  table's triggers, and its row ids may change) must create the triggers again and run
  ``INSERT INTO patients_patient_fts(patients_patient_fts) VALUES ('rebuild')``.
- PostgreSQL: a GIN trigram index (pg_trgm) on the lower-cased names and MRN. pg_trgm lives in
  the ``extensions`` schema (one per database, on every hospital's search path), so the
  operator class is named with its schema here.

Adding the void columns rebuilds ``patients_patient`` on SQLite, which also drops the statistic
migration 0004 wrote for ``patient_id_mrn``; it is written again at the end.
"""

import django.db.models.manager
from django.db import migrations, models

from hospitium.core.sql import vendor_sql

STATISTIC = """INSERT INTO sqlite_stat1 (tbl, idx, stat)
SELECT 'patients_patient', 'patient_id_mrn', '1048576 1 1'
WHERE NOT EXISTS (SELECT 1 FROM sqlite_stat1 WHERE idx = 'patient_id_mrn')"""

FTS_COLUMNS = "given_name, family_name, mrn"
SQLITE_SEARCH = [
    "CREATE VIRTUAL TABLE patients_patient_fts USING fts5("
    f"{FTS_COLUMNS}, content='patients_patient', content_rowid='rowid', tokenize='trigram')",
    "CREATE TRIGGER patients_patient_fts_insert AFTER INSERT ON patients_patient BEGIN "
    f"INSERT INTO patients_patient_fts(rowid, {FTS_COLUMNS}) "
    "VALUES (new.rowid, new.given_name, new.family_name, new.mrn); END",
    "CREATE TRIGGER patients_patient_fts_delete AFTER DELETE ON patients_patient BEGIN "
    f"INSERT INTO patients_patient_fts(patients_patient_fts, rowid, {FTS_COLUMNS}) "
    "VALUES ('delete', old.rowid, old.given_name, old.family_name, old.mrn); END",
    "CREATE TRIGGER patients_patient_fts_update AFTER UPDATE OF given_name, family_name, mrn "
    "ON patients_patient BEGIN "
    f"INSERT INTO patients_patient_fts(patients_patient_fts, rowid, {FTS_COLUMNS}) "
    "VALUES ('delete', old.rowid, old.given_name, old.family_name, old.mrn); "
    f"INSERT INTO patients_patient_fts(rowid, {FTS_COLUMNS}) "
    "VALUES (new.rowid, new.given_name, new.family_name, new.mrn); END",
    "INSERT INTO patients_patient_fts(patients_patient_fts) VALUES ('rebuild')",
]
#: The expression the PostgreSQL index covers; patients.selectors searches the same one.
PG_EXPRESSION = "lower(given_name || ' ' || family_name || ' ' || mrn)"
POSTGRESQL_SEARCH = [
    'CREATE SCHEMA IF NOT EXISTS "extensions"',
    'CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA "extensions"',
    f"CREATE INDEX patient_search_trgm ON patients_patient USING gin (({PG_EXPRESSION}) "
    '"extensions".gin_trgm_ops)',
]


class Migration(migrations.Migration):
    dependencies = [
        ("patients", "0006_text_limits"),
    ]

    operations = [
        migrations.CreateModel(
            name="MrnSequence",
            fields=[
                (
                    "id",
                    models.PositiveSmallIntegerField(default=1, primary_key=True, serialize=False),
                ),
                ("prefix", models.CharField(default="P", max_length=16)),
                ("digits", models.PositiveSmallIntegerField(default=6)),
                ("last_number", models.PositiveIntegerField(default=0)),
            ],
        ),
        migrations.AlterModelOptions(
            name="patient",
            options={"base_manager_name": "all_objects", "ordering": ["family_name", "given_name"]},
        ),
        migrations.AlterModelManagers(
            name="patient",
            managers=[
                ("objects", django.db.models.manager.Manager()),
                ("all_objects", django.db.models.manager.Manager()),
            ],
        ),
        migrations.AddField(
            model_name="patient",
            name="void_reason",
            field=models.CharField(blank=True, default="", max_length=500),
        ),
        migrations.AddField(
            model_name="patient",
            name="voided_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="patient",
            name="voided_by_id",
            field=models.BigIntegerField(blank=True, null=True),
        ),
        migrations.AddIndex(
            model_name="patient",
            index=models.Index(fields=["birth_date"], name="patient_birth_date"),
        ),
        migrations.AddConstraint(
            model_name="patient",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("voided_at__isnull", True), ("void_reason", "")),
                    models.Q(
                        ("voided_at__isnull", False), models.Q(("void_reason", ""), _negated=True)
                    ),
                    _connector="OR",
                ),
                name="patients_patient_void_has_reason",
            ),
        ),
        migrations.AddConstraint(
            model_name="mrnsequence",
            constraint=models.CheckConstraint(
                condition=models.Q(("id", 1)), name="mrn_sequence_one_row"
            ),
        ),
        migrations.AddConstraint(
            model_name="mrnsequence",
            constraint=models.CheckConstraint(
                condition=models.Q(("digits__gte", 1), ("digits__lte", 12)),
                name="mrn_sequence_digits",
            ),
        ),
        vendor_sql(
            sqlite=[STATISTIC, *SQLITE_SEARCH],
            postgresql=POSTGRESQL_SEARCH,
            reverse_sqlite=[
                "DROP TRIGGER patients_patient_fts_insert",
                "DROP TRIGGER patients_patient_fts_delete",
                "DROP TRIGGER patients_patient_fts_update",
                "DROP TABLE patients_patient_fts",
            ],
            reverse_postgresql=["DROP INDEX patient_search_trgm"],
        ),
    ]
