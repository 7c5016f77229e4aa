"""Payments never exceed the invoice's total: the database refuses a payment (or a change to the
lines) that would leave more paid than owed. On PostgreSQL the check is a deferred constraint
trigger, so lines and payments may be written in any order inside one transaction; SQLite checks
each statement, inside the same serialised write transaction."""

from django.db import migrations

from hospitium.core.sql import vendor_sql

MESSAGE = "CHECK constraint failed: payment_within_invoice_total"

PAID = (
    "(SELECT COALESCE(SUM(amount), 0) FROM billing_payment "
    "WHERE invoice_id = {ref} AND voided_at IS NULL)"
)
OWED = (
    "(SELECT COALESCE(SUM(quantity * unit_price), 0) FROM billing_invoiceline "
    "WHERE invoice_id = {ref})"
)


def sqlite_trigger(name: str, event: str, table: str, ref: str) -> str:
    # SQLite keeps decimals as floating point here: allow half a cent of rounding.
    return (
        f"CREATE TRIGGER {name} AFTER {event} ON {table} BEGIN "
        f"SELECT RAISE(ABORT, '{MESSAGE}') "
        f"WHERE {PAID.format(ref=ref)} > {OWED.format(ref=ref)} + 0.005; END"
    )


SQLITE = [
    sqlite_trigger("payment_within_total_insert", "INSERT", "billing_payment", "NEW.invoice_id"),
    sqlite_trigger("payment_within_total_update", "UPDATE", "billing_payment", "NEW.invoice_id"),
    sqlite_trigger(
        "invoice_line_keeps_total_update", "UPDATE", "billing_invoiceline", "OLD.invoice_id"
    ),
    sqlite_trigger(
        "invoice_line_keeps_total_delete", "DELETE", "billing_invoiceline", "OLD.invoice_id"
    ),
]

POSTGRESQL = [
    f"""CREATE FUNCTION payment_within_invoice_total() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        target uuid;
    BEGIN
        IF TG_OP = 'DELETE' THEN target := OLD.invoice_id; ELSE target := NEW.invoice_id; END IF;
        IF {PAID.format(ref="target")} > {OWED.format(ref="target")} THEN
            RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'check_violation';
        END IF;
        RETURN NULL;
    END $$""",
    "CREATE CONSTRAINT TRIGGER payment_within_total AFTER INSERT OR UPDATE ON billing_payment "
    "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION payment_within_invoice_total()",
    "CREATE CONSTRAINT TRIGGER invoice_line_keeps_total AFTER UPDATE OR DELETE ON billing_invoiceline "
    "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION payment_within_invoice_total()",
]


class Migration(migrations.Migration):
    dependencies = [("billing", "0002_initial")]

    operations = [
        vendor_sql(
            sqlite=SQLITE,
            postgresql=POSTGRESQL,
            reverse_sqlite=[
                "DROP TRIGGER payment_within_total_insert",
                "DROP TRIGGER payment_within_total_update",
                "DROP TRIGGER invoice_line_keeps_total_update",
                "DROP TRIGGER invoice_line_keeps_total_delete",
            ],
            reverse_postgresql=[
                "DROP TRIGGER payment_within_total ON billing_payment",
                "DROP TRIGGER invoice_line_keeps_total ON billing_invoiceline",
                "DROP FUNCTION payment_within_invoice_total()",
            ],
        )
    ]
