"""Reading back what the generator wrote, as plain values, for the rule checks."""

from __future__ import annotations

import itertools
from collections import defaultdict
from decimal import Decimal

from django.db.models import F, Sum

from hospitium.admissions.models import Admission
from hospitium.billing.models import Invoice, InvoiceLine, Payment
from hospitium.scheduling.models import ACTIVE_STATUSES, Appointment


def overlapping(periods: list[tuple]) -> list[tuple]:
    """Pairs of (key, start, end) periods with the same key that overlap; an end of None is open."""
    by_key: dict = defaultdict(list)
    for key, start, end in periods:
        by_key[key].append((start, end))
    clashes = []
    for key, spans in by_key.items():
        spans.sort(key=lambda span: span[0])
        for (start_a, end_a), (start_b, end_b) in itertools.pairwise(spans):
            if end_a is None or start_b < end_a:
                clashes.append((key, start_a, end_a, start_b, end_b))
    return clashes


def active_appointment_clashes() -> list[tuple]:
    rows = Appointment.objects.filter(status__in=ACTIVE_STATUSES).values_list(
        "practitioner_id", "starts_at", "ends_at"
    )
    return overlapping(list(rows))


def admission_clashes(partition: str) -> list[tuple]:
    rows = Admission.all_objects.filter(voided_at__isnull=True).values_list(
        f"{partition}_id", "admitted_at", "discharged_at"
    )
    return overlapping(list(rows))


def invoice_balances() -> dict:
    """invoice id → (total, paid)."""
    totals = dict(
        InvoiceLine.objects.values("invoice_id")
        .annotate(total=Sum(F("quantity") * F("unit_price")))
        .values_list("invoice_id", "total")
    )
    paid = dict(
        Payment.all_objects.filter(voided_at__isnull=True)
        .values("invoice_id")
        .annotate(paid=Sum("amount"))
        .values_list("invoice_id", "paid")
    )
    return {
        pk: (Decimal(totals.get(pk) or 0), Decimal(paid.get(pk) or 0))
        for pk in Invoice.all_objects.values_list("id", flat=True)
    }
