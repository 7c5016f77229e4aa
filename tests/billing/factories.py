"""Billing test data, created in the current hospital's store."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from hospitium.billing.models import Invoice, InvoiceLine
from hospitium.billing.services import invoice_create, invoice_issue
from hospitium.encounters.models import Visit
from hospitium.patients.models import Patient
from tests import factories

T0 = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)


def visit(patient: Patient | None = None, **overrides: Any) -> Visit:
    """A visit (straight through the ORM: the visits service belongs to another app)."""
    fields: dict[str, Any] = {
        "patient": patient or factories.patient(),
        "practitioner": factories.practitioner(),
        "kind": Visit.Kind.MEDICAL,
        "started_at": T0,
    }
    fields.update(overrides)
    return Visit.objects.create(**fields)


def invoice(
    patient: Patient | None = None, *, lines: list[tuple[str, str]] | None = None, **extra: Any
) -> Invoice:
    """A draft invoice through the service; ``lines`` are (quantity, unit price) strings."""
    wanted = lines if lines is not None else [("1", "100.00")]
    return invoice_create(
        patient=patient or factories.patient(),
        lines=[
            {"description": f"Item {i}", "quantity": Decimal(q), "unit_price": Decimal(p)}
            for i, (q, p) in enumerate(wanted, 1)
        ],
        **extra,
    )


def issued_invoice(patient: Patient | None = None, **kwargs: Any) -> Invoice:
    """An issued invoice through the services."""
    return invoice_issue(invoice=invoice(patient, **kwargs))


def raw_line(invoice: Invoice, quantity: str = "1", unit_price: str = "10.00") -> InvoiceLine:
    return InvoiceLine.objects.create(
        invoice=invoice,
        description="Raw",
        quantity=Decimal(quantity),
        unit_price=Decimal(unit_price),
    )
