"""Invoices, their lines and payments (hospital store). Totals and balances are derived from the
lines and payments, never stored; the database refuses payments beyond the total."""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.db.models import Q
from django.db.models.functions import Length, Upper
from django.db.models.lookups import Exact

from hospitium.admissions.models import Admission
from hospitium.core.models import HospitalModel, Voidable
from hospitium.encounters.models import Visit
from hospitium.patients.models import Patient


class Invoice(Voidable, HospitalModel):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        ISSUED = "issued", "Issued"
        CANCELLED = "cancelled", "Cancelled"

    number = models.CharField(max_length=32, unique=True)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="invoices")
    visit = models.ForeignKey(
        Visit, null=True, blank=True, on_delete=models.PROTECT, related_name="invoices"
    )
    admission = models.ForeignKey(
        Admission, null=True, blank=True, on_delete=models.PROTECT, related_name="invoices"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    issued_at = models.DateTimeField(null=True, blank=True)
    currency = models.CharField(max_length=3, default="EUR")

    class Meta(Voidable.Meta):
        ordering = ["-created_at"]
        constraints = [
            *Voidable.Meta.constraints,
            models.CheckConstraint(
                condition=Q(status__in=["draft", "issued", "cancelled"]),
                name="invoice_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(status="draft") | Q(issued_at__isnull=False),
                name="invoice_issued_has_date",
            ),
            models.CheckConstraint(condition=~Q(number=""), name="invoice_number_given"),
        ]

    def __str__(self) -> str:
        return self.number


class InvoiceNumberCounter(models.Model):
    """The last invoice number given in one calendar year of the hospital's reporting time zone.

    An invoice takes ``last_number + 1`` of its year and writes it back in the transaction that
    inserts the invoice (one ``INSERT … ON CONFLICT DO UPDATE … RETURNING``): concurrent
    creations queue on this row, and a rolled-back creation rolls its number back too, so the
    numbers of a year have no gaps and no two creations ever pick the same one.
    """

    year = models.PositiveSmallIntegerField(primary_key=True)
    last_number = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(year__gte=1, year__lte=9999), name="invoice_counter_year_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.year}: {self.last_number}"


class InvoiceLine(HospitalModel):
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="lines")
    description = models.CharField(max_length=200)
    quantity = models.DecimalField(max_digits=10, decimal_places=2, default=Decimal("1"))
    unit_price = models.DecimalField(max_digits=12, decimal_places=2)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(quantity__gt=0), name="invoice_line_quantity_positive"
            ),
            models.CheckConstraint(
                condition=Q(unit_price__gte=0), name="invoice_line_price_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return self.description


class Payment(Voidable, HospitalModel):
    class Method(models.TextChoices):
        CASH = "cash", "Cash"
        CARD = "card", "Card"
        TRANSFER = "transfer", "Bank transfer"
        INSURANCE = "insurance", "Insurance"

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="payments")
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    paid_at = models.DateTimeField()
    method = models.CharField(max_length=10, choices=Method.choices, default=Method.CARD)

    class Meta(Voidable.Meta):
        ordering = ["-paid_at"]
        constraints = [
            *Voidable.Meta.constraints,
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive"),
            models.CheckConstraint(
                condition=Q(method__in=["cash", "card", "transfer", "insurance"]),
                name="payment_method_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.amount} on {self.invoice}"


class BillingSettings(HospitalModel):
    """The hospital's billing settings: one row (``singleton`` is always 1).

    ``currency`` is the one currency this hospital invoices in (ISO 4217). It lives in the
    hospital's own store, beside the invoices it governs, so the store needs nothing from the
    platform to migrate or to check an invoice; provisioning writes it.
    """

    singleton = models.PositiveSmallIntegerField(default=1, unique=True)
    currency = models.CharField(max_length=3)

    class Meta:
        verbose_name_plural = "billing settings"
        constraints = [
            models.CheckConstraint(condition=Q(singleton=1), name="billing_settings_singleton"),
            # The code list is the services' to check; the database holds the shape it can
            # express portably (as for hospital codes): three characters, upper case.
            models.CheckConstraint(
                condition=Q(Exact(Length("currency"), 3)) & Q(currency=Upper("currency")),
                name="billing_settings_currency_shape",
            ),
        ]

    def __str__(self) -> str:
        return f"billing in {self.currency}"
