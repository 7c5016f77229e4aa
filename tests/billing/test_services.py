"""Billing rules through the services: each refused with a clear error and nothing written;
totals and balances derived from lines and payments."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from hospitium.audit.models import AuditEvent
from hospitium.billing.models import Invoice, InvoiceLine, Payment
from hospitium.billing.selectors import invoice_amounts, invoice_get
from hospitium.billing.services import (
    invoice_add_line,
    invoice_cancel,
    invoice_create,
    invoice_issue,
    invoice_remove_line,
    invoice_update,
    invoice_update_line,
    invoice_void,
    payment_record,
    payment_void,
)
from hospitium.core.errors import BusinessRuleViolation, NotFound, ValidationFailed
from hospitium.tenancy.context import hospital_context
from tests import factories
from tests.billing import factories as bf

pytestmark = pytest.mark.django_db


def test_invoices_are_numbered_per_hospital_and_totals_are_derived(hospital_a, hospital_b):
    with hospital_context(hospital_a):
        first = bf.invoice(lines=[("2", "12.50"), ("1", "0.10"), ("1", "0.20")])
        second = bf.invoice()
        year = timezone.localdate().year
        assert (first.number, second.number) == (f"INV-{year}-000001", f"INV-{year}-000002")
        fetched = invoice_get(first.pk)
        assert (fetched.total, fetched.paid, fetched.balance) == (
            Decimal("25.30"),
            Decimal("0.00"),
            Decimal("25.30"),
        )
        assert first.status == Invoice.Status.DRAFT and first.issued_at is None
        assert AuditEvent.objects.filter(
            action="create", object_type="invoices", object_id=str(first.pk)
        ).exists()
    with hospital_context(hospital_b):
        assert bf.invoice().number == f"INV-{year}-000001"


def test_numbering_continues_after_voided_invoices(hospital_a):
    with hospital_context(hospital_a):
        first = bf.invoice()
        invoice_void(invoice=first, reason="entered twice")
        assert bf.invoice().number == f"INV-{timezone.localdate().year}-000002"


@pytest.mark.parametrize(
    ("line", "field", "message"),
    [
        ({"quantity": "0", "unit_price": "1.00"}, "lines.0.quantity", "more than 0"),
        ({"quantity": "-1", "unit_price": "1.00"}, "lines.0.quantity", "more than 0"),
        ({"quantity": "1", "unit_price": "-0.01"}, "lines.0.unit_price", "cannot be negative"),
        ({"quantity": "1", "unit_price": "1.001"}, "lines.0.unit_price", "2 decimal places"),
        ({"description": " ", "quantity": "1", "unit_price": "1"}, "lines.0.description", "Req"),
    ],
)
def test_a_bad_line_refuses_the_whole_invoice(hospital_a, line, field, message):
    with hospital_context(hospital_a):
        patient = factories.patient()
        data = {"description": "Consultation", **line}
        with pytest.raises(ValidationFailed) as caught:
            invoice_create(patient=patient, lines=[{"description": "ok", "unit_price": "5"}, data])
        field = field.replace("lines.0", "lines.1")
        assert message in caught.value.fields[field][0]
        assert Invoice.all_objects.count() == 0 and InvoiceLine.objects.count() == 0


def test_a_line_that_does_not_come_to_whole_cents_is_refused(hospital_a):
    with hospital_context(hospital_a):
        with pytest.raises(ValidationFailed, match="whole cents"):
            bf.invoice(lines=[("1.5", "0.33")])
        assert Invoice.all_objects.count() == 0


def test_a_visit_or_admission_of_another_patient_is_refused(hospital_a):
    with hospital_context(hospital_a):
        patient, other = factories.patient(), factories.patient()
        theirs = bf.visit(other)
        with pytest.raises(ValidationFailed, match="patient's own") as caught:
            bf.invoice(patient, visit=theirs)
        assert caught.value.fields == {"visit": ["This visit is of another patient."]}
        mine = bf.visit(patient)
        invoice = bf.invoice(patient, visit=mine)
        assert invoice.visit == mine
        with pytest.raises(ValidationFailed, match="patient's own"):
            invoice_update(invoice=invoice, visit=theirs)
        assert Invoice.objects.get().visit_id == mine.pk
        assert Invoice.objects.count() == 1


def test_lines_change_only_while_draft(hospital_a):
    with hospital_context(hospital_a):
        invoice = bf.invoice(lines=[("1", "10.00")])
        line = invoice_add_line(
            invoice=invoice, description="X-ray", quantity=Decimal("2"), unit_price=Decimal("40")
        )
        invoice_update_line(line=line, quantity=Decimal("3"))
        assert invoice_amounts(invoice.pk)[0] == Decimal("130.00")
        with pytest.raises(ValidationFailed, match="not valid") as caught:
            invoice_update_line(line=line, quantity=Decimal("0"))
        assert caught.value.fields == {"quantity": ["The quantity must be more than 0."]}
        with pytest.raises(ValidationFailed):
            invoice_add_line(invoice=invoice, description="Bad", unit_price=Decimal("-1"))
        invoice_remove_line(line=line)
        assert invoice_amounts(invoice.pk)[0] == Decimal("10.00")
        issued = invoice_issue(invoice=invoice)
        only = InvoiceLine.objects.get()
        for attempt in (
            lambda: invoice_add_line(invoice=issued, description="Late", unit_price=Decimal("1")),
            lambda: invoice_update_line(line=only, unit_price=Decimal("1")),
            lambda: invoice_remove_line(line=only),
            lambda: invoice_update(invoice=issued, currency="USD"),
        ):
            with pytest.raises(BusinessRuleViolation, match="is issued; only a draft"):
                attempt()
        assert InvoiceLine.objects.count() == 1
        assert InvoiceLine.objects.get().unit_price == Decimal("10.00")
        assert Invoice.objects.get().currency == "EUR"


def test_issuing_needs_a_line_and_sets_the_date(hospital_a):
    with hospital_context(hospital_a):
        empty = bf.invoice(lines=[])
        with pytest.raises(BusinessRuleViolation, match="has no lines"):
            invoice_issue(invoice=empty)
        assert Invoice.objects.get(pk=empty.pk).status == "draft"
        invoice_add_line(invoice=empty, description="Visit", unit_price=Decimal("50"))
        issued = invoice_issue(invoice=empty)
        assert issued.status == "issued" and issued.issued_at is not None
        with pytest.raises(BusinessRuleViolation, match="only a draft can be issued"):
            invoice_issue(invoice=issued)


def test_payments_never_exceed_the_balance_and_the_error_names_it(hospital_a):
    with hospital_context(hospital_a):
        invoice = bf.issued_invoice(lines=[("1", "100.00")])
        payment_record(invoice=invoice, amount=Decimal("60.00"))
        with pytest.raises(BusinessRuleViolation) as caught:
            payment_record(invoice=invoice, amount=Decimal("40.01"))
        assert "more than the balance of 40.00 EUR" in caught.value.message
        assert caught.value.fields == {"amount": ["At most the balance, 40.00."]}
        assert Payment.objects.count() == 1
        payment_record(invoice=invoice, amount=Decimal("40.00"), method="cash")
        fetched = invoice_get(invoice.pk)
        assert (fetched.paid, fetched.balance) == (Decimal("100.00"), Decimal("0.00"))
        with pytest.raises(BusinessRuleViolation, match=r"balance of 0\.00"):
            payment_record(invoice=invoice, amount=Decimal("0.01"))


@pytest.mark.parametrize("amount", ["0", "-5", "0.001"])
def test_a_payment_must_be_positive_whole_cents(hospital_a, amount):
    with hospital_context(hospital_a):
        invoice = bf.issued_invoice()
        with pytest.raises(ValidationFailed) as caught:
            payment_record(invoice=invoice, amount=Decimal(amount))
        assert "amount" in caught.value.fields
        assert Payment.all_objects.count() == 0


def test_only_issued_invoices_take_payments(hospital_a):
    with hospital_context(hospital_a):
        draft = bf.invoice()
        with pytest.raises(BusinessRuleViolation, match="is draft; only an issued invoice"):
            payment_record(invoice=draft, amount=Decimal("1"))
        cancelled = invoice_cancel(invoice=bf.issued_invoice())
        with pytest.raises(BusinessRuleViolation, match="is cancelled"):
            payment_record(invoice=cancelled, amount=Decimal("1"))
        assert Payment.all_objects.count() == 0


def test_a_voided_payment_gives_the_balance_back(hospital_a):
    with hospital_context(hospital_a):
        invoice = bf.issued_invoice(lines=[("1", "80.00")])
        payment = payment_record(invoice=invoice, amount=Decimal("80.00"))
        voided = payment_void(payment=payment, reason="card declined later")
        assert voided.voided_at is not None
        assert invoice_get(invoice.pk).balance == Decimal("80.00")
        payment_record(invoice=invoice, amount=Decimal("80.00"))
        with pytest.raises(BusinessRuleViolation, match="already voided"):
            payment_void(payment=payment, reason="again")
        with pytest.raises(ValidationFailed, match="why"):
            payment_void(payment=Payment.objects.get(), reason="  ")
        assert AuditEvent.objects.filter(action="void", object_type="payments").count() == 1


def test_cancelling_needs_an_issued_invoice_without_payments(hospital_a):
    with hospital_context(hospital_a):
        with pytest.raises(BusinessRuleViolation, match="A draft is voided instead"):
            invoice_cancel(invoice=bf.invoice())
        invoice = bf.issued_invoice()
        payment = payment_record(invoice=invoice, amount=Decimal("10"))
        with pytest.raises(BusinessRuleViolation, match="has 1 payment"):
            invoice_cancel(invoice=invoice)
        assert Invoice.objects.get(pk=invoice.pk).status == "issued"
        payment_void(payment=payment, reason="refunded")
        assert invoice_cancel(invoice=invoice, reason="duplicate").status == "cancelled"
        assert AuditEvent.objects.filter(
            action="update", object_id=str(invoice.pk), detail__status="cancelled"
        ).exists()


def test_voiding_an_invoice_with_payments_is_refused(hospital_a):
    with hospital_context(hospital_a):
        invoice = bf.issued_invoice()
        payment_record(invoice=invoice, amount=Decimal("1"))
        with pytest.raises(BusinessRuleViolation, match="void them before voiding"):
            invoice_void(invoice=invoice, reason="wrong patient")
        assert Invoice.objects.filter(pk=invoice.pk).exists()
        draft = bf.invoice()
        invoice_void(invoice=draft, reason="wrong patient")
        assert not Invoice.objects.filter(pk=draft.pk).exists()
        assert Invoice.all_objects.get(pk=draft.pk).void_reason == "wrong patient"
        with pytest.raises(NotFound):
            invoice_get(draft.pk)
