"""Reads of invoices and payments, always in the current hospital's store.

Totals are derived, never stored: ``total`` = Σ quantity × unit price of the lines, ``paid`` =
Σ the payments that are not voided, ``balance`` = total − paid. Correlated subqueries (rather
than joins) keep the two sums from multiplying each other.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db.models import (
    DecimalField,
    ExpressionWrapper,
    F,
    OuterRef,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce

from hospitium.billing.models import BillingSettings, Invoice, InvoiceLine, Payment
from hospitium.core.errors import NotFound

#: Wide enough for any sum of lines; two places, as money is shown.
MONEY = DecimalField(max_digits=24, decimal_places=2)
CENT = Decimal("0.01")


def _lines_total() -> Coalesce:
    per_invoice = (
        InvoiceLine.objects.filter(invoice=OuterRef("pk"))
        .order_by()
        .values("invoice")
        .annotate(s=Sum(ExpressionWrapper(F("quantity") * F("unit_price"), output_field=MONEY)))
        .values("s")
    )
    return Coalesce(
        Subquery(per_invoice, output_field=MONEY), Value(Decimal("0")), output_field=MONEY
    )


def _paid() -> Coalesce:
    per_invoice = (
        Payment.objects.filter(invoice=OuterRef("pk"))
        .order_by()
        .values("invoice")
        .annotate(s=Sum("amount"))
        .values("s")
    )
    return Coalesce(
        Subquery(per_invoice, output_field=MONEY), Value(Decimal("0")), output_field=MONEY
    )


def with_amounts(queryset: QuerySet[Invoice]) -> QuerySet[Invoice]:
    """``queryset`` annotated with ``total``, ``paid`` and ``balance``."""
    return queryset.annotate(total=_lines_total(), paid=_paid()).annotate(
        balance=ExpressionWrapper(F("total") - F("paid"), output_field=MONEY)
    )


def invoice_list() -> QuerySet[Invoice]:
    """Invoices of the current hospital (voided ones hidden) with their derived amounts."""
    return with_amounts(
        Invoice.objects.select_related("patient").prefetch_related("lines")
    ).order_by("-created_at")


def invoice_get(invoice_id: uuid.UUID | str) -> Invoice:
    """The invoice with this id, with its amounts; raises NotFound."""
    try:
        return invoice_list().get(pk=invoice_id)
    except (Invoice.DoesNotExist, ValidationError, ValueError, TypeError):
        raise NotFound("No such invoice.") from None


def invoice_amounts(invoice_id: uuid.UUID) -> tuple[Decimal, Decimal]:
    """(total, paid) of one invoice, exact to the cent."""
    total = InvoiceLine.objects.filter(invoice_id=invoice_id).aggregate(
        s=Sum(ExpressionWrapper(F("quantity") * F("unit_price"), output_field=MONEY))
    )["s"]
    paid = Payment.objects.filter(invoice_id=invoice_id).aggregate(s=Sum("amount"))["s"]
    return (Decimal(total or 0).quantize(CENT), Decimal(paid or 0).quantize(CENT))


def payment_list() -> QuerySet[Payment]:
    """Payments of the current hospital that are not voided."""
    return Payment.objects.select_related("invoice").order_by("-paid_at")


def payment_get(payment_id: uuid.UUID | str) -> Payment:
    """The payment with this id; raises NotFound."""
    try:
        return payment_list().get(pk=payment_id)
    except (Payment.DoesNotExist, ValidationError, ValueError, TypeError):
        raise NotFound("No such payment.") from None


def hospital_currency() -> str:
    """The ISO 4217 code the current hospital invoices in.

    Billing's migration 0006 writes the row into every store and provisioning sets it, so a
    store without it is broken: that raises BillingSettings.DoesNotExist rather than guess.
    """
    return BillingSettings.objects.values_list("currency", flat=True).get()
