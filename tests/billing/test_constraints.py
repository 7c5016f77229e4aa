"""Billing rules held by the database itself, on both stores: writes straight through the ORM
that bypass the services are refused (IntegrityError)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from hospitium.billing.models import Invoice, InvoiceLine, Payment
from hospitium.billing.selectors import invoice_amounts
from hospitium.tenancy.context import hospital_context
from hospitium.tenancy.router import current_alias
from tests.billing import factories as bf

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 24, 10, tzinfo=dt.UTC)


def refused() -> transaction.Atomic:
    """The writing block; on PostgreSQL deferred triggers fire when it commits."""
    return transaction.atomic(using=current_alias(write=True))


def pay(invoice: Invoice, amount: str) -> Payment:
    return Payment.objects.create(invoice=invoice, amount=Decimal(amount), paid_at=NOW)


def test_an_overpayment_through_the_orm_is_refused(hospital_a):
    with hospital_context(hospital_a):
        invoice = bf.issued_invoice(lines=[("1", "100.00")])
        pay(invoice, "99.99")
        with pytest.raises(IntegrityError, match="payment_within_invoice_total"), refused():
            pay(invoice, "0.02")
        pay(invoice, "0.01")  # exactly the total is fine
        assert invoice_amounts(invoice.pk) == (Decimal("100.00"), Decimal("100.00"))


def test_raising_a_payment_above_the_total_through_the_orm_is_refused(hospital_a):
    with hospital_context(hospital_a):
        invoice = bf.issued_invoice(lines=[("2", "10.00")])
        payment = pay(invoice, "20.00")
        with pytest.raises(IntegrityError), refused():
            Payment.objects.filter(pk=payment.pk).update(amount=Decimal("20.01"))
        assert Payment.objects.get().amount == Decimal("20.00")


def test_unvoiding_a_payment_that_no_longer_fits_is_refused(hospital_a):
    with hospital_context(hospital_a):
        invoice = bf.issued_invoice(lines=[("1", "50.00")])
        first = pay(invoice, "50.00")
        Payment.objects.filter(pk=first.pk).update(voided_at=NOW, void_reason="refund")
        pay(invoice, "50.00")
        with pytest.raises(IntegrityError), refused():
            Payment.all_objects.filter(pk=first.pk).update(voided_at=None, void_reason="")


def test_removing_or_cheapening_paid_lines_through_the_orm_is_refused(hospital_a):
    with hospital_context(hospital_a):
        invoice = bf.issued_invoice(lines=[("1", "30.00"), ("1", "20.00")])
        pay(invoice, "40.00")
        cheap, dear = InvoiceLine.objects.order_by("unit_price")
        with pytest.raises(IntegrityError), refused():
            InvoiceLine.objects.filter(pk=dear.pk).delete()
        with pytest.raises(IntegrityError), refused():
            InvoiceLine.objects.filter(pk=cheap.pk).update(unit_price=Decimal("5.00"))
        assert invoice_amounts(invoice.pk) == (Decimal("50.00"), Decimal("40.00"))
        # An issued invoice's lines do not change at all, even where the payments would fit.
        with pytest.raises(IntegrityError, match="invoice_line_only_in_draft"), refused():
            InvoiceLine.objects.filter(pk=cheap.pk).update(unit_price=Decimal("10.00"))


@pytest.mark.parametrize(
    ("quantity", "unit_price"), [("0", "1.00"), ("-1", "1.00"), ("1", "-0.01")]
)
def test_a_line_with_no_quantity_or_a_negative_price_is_refused(hospital_a, quantity, unit_price):
    with hospital_context(hospital_a):
        invoice = bf.invoice(lines=[])
        with pytest.raises(IntegrityError), refused():
            bf.raw_line(invoice, quantity, unit_price)
        assert InvoiceLine.objects.count() == 0


@pytest.mark.parametrize("amount", ["0", "-1.00"])
def test_a_payment_that_is_not_positive_is_refused(hospital_a, amount):
    with hospital_context(hospital_a):
        invoice = bf.issued_invoice()
        with pytest.raises(IntegrityError), refused():
            pay(invoice, amount)
        assert Payment.all_objects.count() == 0


def test_invoice_numbers_are_unique_and_required(hospital_a):
    with hospital_context(hospital_a):
        first = bf.invoice()
        with pytest.raises(IntegrityError), refused():
            Invoice.objects.create(number=first.number, patient=first.patient)
        with pytest.raises(IntegrityError), refused():
            Invoice.objects.create(number="", patient=first.patient)
        assert Invoice.objects.count() == 1


def test_an_issued_invoice_must_have_an_issue_date_and_a_known_status(hospital_a):
    with hospital_context(hospital_a):
        draft = bf.invoice()
        with pytest.raises(IntegrityError), refused():
            Invoice.objects.filter(pk=draft.pk).update(status="issued")
        with pytest.raises(IntegrityError), refused():
            Invoice.objects.filter(pk=draft.pk).update(status="paid", issued_at=NOW)
        assert Invoice.objects.get().status == "draft"


def test_a_voided_payment_needs_a_reason(hospital_a):
    with hospital_context(hospital_a):
        payment = pay(bf.issued_invoice(), "1.00")
        with pytest.raises(IntegrityError), refused():
            Payment.objects.filter(pk=payment.pk).update(voided_at=NOW)
