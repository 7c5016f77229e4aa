"""The invoice rules that only the services checked become the database's too:

- an invoice's visit or admission is the invoiced patient's own (checked on the invoice, and on
  the visit or admission should its patient change);
- lines are added, changed or removed only while their invoice is a draft, and an invoice's
  status only moves forward (draft → issued → cancelled), so it cannot be made a draft again;
- an invoice is issued (or cancelled) only with at least one line;
- an invoice is cancelled or voided only when no payment on it stands, and a payment stands
  only on an issued invoice that is not voided;
- a line's amount (quantity × unit price) comes to whole cents: a CHECK on PostgreSQL, where
  decimals are exact; a trigger on SQLite, computed in integers there (its decimals are
  floating point): with q and p in cents, q·p is whole cents when (q mod 100)·(p mod 100) is a
  multiple of 100, which never overflows.

Immediate row triggers on both stores (not deferred), so a bulk writer adds an issued invoice's
lines before the invoice (foreign keys are deferred to the commit on both stores).
"""

from django.db import migrations

from hospitium.core.sql import Guard, guards, vendor_sql

NOT_DRAFT = "EXISTS (SELECT 1 FROM billing_invoice i WHERE i.id {match} AND i.status <> 'draft')"
NO_LINE = "NOT EXISTS (SELECT 1 FROM billing_invoiceline l WHERE l.invoice_id = NEW.id)"
LIVE_PAYMENT = (
    "EXISTS (SELECT 1 FROM billing_payment p WHERE p.invoice_id = NEW.id AND p.voided_at IS NULL)"
)
OTHER_PATIENT = (
    "(EXISTS (SELECT 1 FROM encounters_visit v WHERE v.id = NEW.visit_id "
    "AND v.patient_id <> NEW.patient_id) "
    "OR EXISTS (SELECT 1 FROM admissions_admission a WHERE a.id = NEW.admission_id "
    "AND a.patient_id <> NEW.patient_id))"
)
CLOSING = (
    "((NEW.status = 'cancelled' AND OLD.status <> 'cancelled') "
    "OR (NEW.voided_at IS NOT NULL AND OLD.voided_at IS NULL))"
)
NOT_PAYABLE = (
    "EXISTS (SELECT 1 FROM billing_invoice i WHERE i.id = NEW.invoice_id "
    "AND (i.status <> 'issued' OR i.voided_at IS NOT NULL))"
)
CENTS = "(CAST(round(NEW.{column} * 100) AS INTEGER) % 100)"
NOT_WHOLE_CENTS = (
    f"({CENTS.format(column='quantity')} * {CENTS.format(column='unit_price')}) % 100 <> 0"
)

GUARDS = [
    Guard(
        name="invoice_same_patient_insert",
        rule="invoice_same_patient",
        table="billing_invoice",
        event="INSERT",
        condition=OTHER_PATIENT,
    ),
    Guard(
        name="invoice_same_patient_update",
        rule="invoice_same_patient",
        table="billing_invoice",
        event="UPDATE OF patient_id, visit_id, admission_id",
        condition=OTHER_PATIENT,
    ),
    Guard(
        name="visit_patient_keeps_invoices",
        rule="invoice_same_patient",
        table="encounters_visit",
        event="UPDATE OF patient_id",
        condition="EXISTS (SELECT 1 FROM billing_invoice i WHERE i.visit_id = NEW.id "
        "AND i.patient_id <> NEW.patient_id)",
    ),
    Guard(
        name="admission_patient_keeps_invoices",
        rule="invoice_same_patient",
        table="admissions_admission",
        event="UPDATE OF patient_id",
        condition="EXISTS (SELECT 1 FROM billing_invoice i WHERE i.admission_id = NEW.id "
        "AND i.patient_id <> NEW.patient_id)",
    ),
    Guard(
        name="invoice_line_only_in_draft_insert",
        rule="invoice_line_only_in_draft",
        table="billing_invoiceline",
        event="INSERT",
        condition=NOT_DRAFT.format(match="= NEW.invoice_id"),
    ),
    Guard(
        name="invoice_line_only_in_draft_update",
        rule="invoice_line_only_in_draft",
        table="billing_invoiceline",
        event="UPDATE",
        condition=NOT_DRAFT.format(match="IN (NEW.invoice_id, OLD.invoice_id)"),
    ),
    Guard(
        name="invoice_line_only_in_draft_delete",
        rule="invoice_line_only_in_draft",
        table="billing_invoiceline",
        event="DELETE",
        condition=NOT_DRAFT.format(match="= OLD.invoice_id"),
    ),
    Guard(
        name="invoice_issued_has_line_insert",
        rule="invoice_issued_has_line",
        table="billing_invoice",
        event="INSERT",
        condition=f"NEW.status <> 'draft' AND {NO_LINE}",
    ),
    Guard(
        name="invoice_issued_has_line_update",
        rule="invoice_issued_has_line",
        table="billing_invoice",
        event="UPDATE OF status",
        condition=f"NEW.status <> 'draft' AND {NO_LINE}",
    ),
    Guard(
        name="invoice_status_flow",
        rule="invoice_status_flow",
        table="billing_invoice",
        event="UPDATE OF status",
        condition="NEW.status <> OLD.status AND NOT ("
        "(OLD.status = 'draft' AND NEW.status = 'issued') "
        "OR (OLD.status = 'issued' AND NEW.status = 'cancelled'))",
    ),
    Guard(
        name="invoice_not_closed_with_payments",
        rule="invoice_not_closed_with_payments",
        table="billing_invoice",
        event="UPDATE OF status, voided_at",
        condition=f"{CLOSING} AND {LIVE_PAYMENT}",
    ),
    Guard(
        name="payment_on_issued_invoice_insert",
        rule="payment_on_issued_invoice",
        table="billing_payment",
        event="INSERT",
        condition=f"NEW.voided_at IS NULL AND {NOT_PAYABLE}",
    ),
    Guard(
        name="payment_on_issued_invoice_update",
        rule="payment_on_issued_invoice",
        table="billing_payment",
        event="UPDATE OF invoice_id, voided_at",
        condition=f"NEW.voided_at IS NULL AND {NOT_PAYABLE}",
    ),
]

WHOLE_CENTS = [
    Guard(
        name=f"invoice_line_whole_cents_{suffix}",
        rule="invoice_line_whole_cents",
        table="billing_invoiceline",
        event=event,
        condition=NOT_WHOLE_CENTS,
    )
    for suffix, event in (("insert", "INSERT"), ("update", "UPDATE OF quantity, unit_price"))
]


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0003_payments_within_total"),
        ("encounters", "0002_icd10_codes"),
        ("admissions", "0002_bed_in_use_and_overlap_seek"),
    ]

    operations = [
        guards(*GUARDS),
        vendor_sql(
            sqlite=[guard.sqlite() for guard in WHOLE_CENTS],
            postgresql=[
                "ALTER TABLE billing_invoiceline ADD CONSTRAINT invoice_line_whole_cents "
                "CHECK (mod(quantity * unit_price, 0.01) = 0)"
            ],
            reverse_sqlite=[f"DROP TRIGGER {guard.name}" for guard in WHOLE_CENTS],
            reverse_postgresql=[
                "ALTER TABLE billing_invoiceline DROP CONSTRAINT invoice_line_whole_cents"
            ],
        ),
    ]
