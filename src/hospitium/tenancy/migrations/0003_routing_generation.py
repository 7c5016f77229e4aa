"""The routing generation: one row whose number the platform store raises, by triggers, on every
write to a hospital's routing facts (code, name, status, placement, lock) or to a domain."""

from django.db import migrations, models

from hospitium.core.sql import vendor_sql

#: The hospital columns a cached HospitalRef is built from (Hospital.as_ref).
ROUTING_COLUMNS = "code, name, status, server, store_name, locked_reason"
BUMP = "UPDATE tenancy_routinggeneration SET value = value + 1 WHERE id = 1"

SQLITE = [
    f"CREATE TRIGGER routing_generation_hospital_insert AFTER INSERT ON tenancy_hospital "
    f"BEGIN {BUMP}; END",
    f"CREATE TRIGGER routing_generation_hospital_update AFTER UPDATE OF {ROUTING_COLUMNS} "
    f"ON tenancy_hospital BEGIN {BUMP}; END",
    f"CREATE TRIGGER routing_generation_hospital_delete AFTER DELETE ON tenancy_hospital "
    f"BEGIN {BUMP}; END",
    f"CREATE TRIGGER routing_generation_domain_insert AFTER INSERT ON tenancy_domain "
    f"BEGIN {BUMP}; END",
    f"CREATE TRIGGER routing_generation_domain_update AFTER UPDATE ON tenancy_domain "
    f"BEGIN {BUMP}; END",
    f"CREATE TRIGGER routing_generation_domain_delete AFTER DELETE ON tenancy_domain "
    f"BEGIN {BUMP}; END",
]

# One bump per statement (not per row) on PostgreSQL; the function keeps the search path it was
# created with (the platform's schema), so a session with another path (psql) still finds the row.
POSTGRESQL = [
    f"""CREATE FUNCTION routing_generation_bump() RETURNS trigger LANGUAGE plpgsql
    SET search_path FROM CURRENT AS $$
    BEGIN
        {BUMP};
        RETURN NULL;
    END $$""",
    "CREATE TRIGGER routing_generation_hospital_write AFTER INSERT OR DELETE OR TRUNCATE "
    "ON tenancy_hospital FOR EACH STATEMENT EXECUTE FUNCTION routing_generation_bump()",
    f"CREATE TRIGGER routing_generation_hospital_update AFTER UPDATE OF {ROUTING_COLUMNS} "
    "ON tenancy_hospital FOR EACH STATEMENT EXECUTE FUNCTION routing_generation_bump()",
    "CREATE TRIGGER routing_generation_domain_write AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
    "ON tenancy_domain FOR EACH STATEMENT EXECUTE FUNCTION routing_generation_bump()",
]


class Migration(migrations.Migration):
    dependencies = [("tenancy", "0002_backups_and_locks")]

    operations = [
        migrations.CreateModel(
            name="RoutingGeneration",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("value", models.BigIntegerField(default=0)),
            ],
            options={
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("id", 1)), name="routing_generation_single_row"
                    )
                ],
            },
        ),
        migrations.RunSQL(
            "INSERT INTO tenancy_routinggeneration (id, value) VALUES (1, 0)",
            "DELETE FROM tenancy_routinggeneration",
        ),
        vendor_sql(
            sqlite=SQLITE,
            postgresql=POSTGRESQL,
            reverse_sqlite=[
                f"DROP TRIGGER IF EXISTS {name}"
                for name in (
                    "routing_generation_hospital_insert",
                    "routing_generation_hospital_update",
                    "routing_generation_hospital_delete",
                    "routing_generation_domain_insert",
                    "routing_generation_domain_update",
                    "routing_generation_domain_delete",
                )
            ],
            reverse_postgresql=["DROP FUNCTION routing_generation_bump() CASCADE"],
        ),
    ]
