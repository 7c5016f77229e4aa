"""Feedback is never dated before its visit started: the database refuses it too (a trigger on
each store, since a CHECK cannot look at another table)."""

from django.db import migrations

from hospitium.core.sql import vendor_sql

MESSAGE = "CHECK constraint failed: feedback_after_visit_start"
EARLIER = (
    "(SELECT 1 FROM encounters_visit WHERE id = NEW.visit_id AND started_at > NEW.submitted_at)"
)

SQLITE = [
    f"CREATE TRIGGER feedback_after_visit_start_{event.lower()} BEFORE {event} ON feedback_feedback "
    f"WHEN EXISTS {EARLIER} BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
    for event in ("INSERT", "UPDATE")
]

POSTGRESQL = [
    f"""CREATE FUNCTION feedback_after_visit_start() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF EXISTS {EARLIER} THEN
            RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'check_violation';
        END IF;
        RETURN NEW;
    END $$""",
    "CREATE TRIGGER feedback_after_visit_start BEFORE INSERT OR UPDATE ON feedback_feedback "
    "FOR EACH ROW EXECUTE FUNCTION feedback_after_visit_start()",
]


class Migration(migrations.Migration):
    dependencies = [("feedback", "0001_initial"), ("encounters", "0001_initial")]

    operations = [
        vendor_sql(
            sqlite=SQLITE,
            postgresql=POSTGRESQL,
            reverse_sqlite=[
                "DROP TRIGGER feedback_after_visit_start_insert",
                "DROP TRIGGER feedback_after_visit_start_update",
            ],
            reverse_postgresql=[
                "DROP TRIGGER feedback_after_visit_start ON feedback_feedback",
                "DROP FUNCTION feedback_after_visit_start()",
            ],
        )
    ]
