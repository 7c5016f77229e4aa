"""Audit events can be added, never changed or removed: the database refuses both."""

from django.db import migrations

from hospitium.core.sql import vendor_sql

MESSAGE = "audit events are append-only"

SQLITE = [
    f"CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_auditevent "
    f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END",
    f"CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_auditevent "
    f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END",
]

POSTGRESQL = [
    f"""CREATE FUNCTION audit_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'integrity_constraint_violation';
    END $$""",
    "CREATE TRIGGER audit_event_no_change BEFORE UPDATE OR DELETE ON audit_auditevent "
    "FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()",
    "CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_auditevent "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_event_append_only()",
]


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]

    operations = [
        vendor_sql(
            sqlite=SQLITE,
            postgresql=POSTGRESQL,
            reverse_sqlite=[
                "DROP TRIGGER audit_event_no_update",
                "DROP TRIGGER audit_event_no_delete",
            ],
            reverse_postgresql=[
                "DROP TRIGGER audit_event_no_change ON audit_auditevent",
                "DROP TRIGGER audit_event_no_truncate ON audit_auditevent",
                "DROP FUNCTION audit_event_append_only()",
            ],
        )
    ]
