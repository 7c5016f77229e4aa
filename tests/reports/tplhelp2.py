"""Fixture data for the analytics templates (comprehensive, medical, dental, campaigns): the core
templates' fixture (tplhelp1: demo hospital, boundary and voided visits) plus hand-made beds,
admissions, invoices, payments, audit events and participations on the period's boundaries."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from hospitium.admissions.models import Admission, Bed, Room, Ward
from hospitium.audit.models import AuditEvent
from hospitium.billing.models import Invoice, InvoiceLine, Payment
from hospitium.campaigns.models import Campaign, Participation
from hospitium.encounters.models import Diagnosis, Visit
from hospitium.tenancy.context import hospital_context
from hospitium.tenancy.models import Hospital
from tests import factories
from tests.reports.tplhelp1 import BOUNDARIES, DATE_FROM, DATE_TO, fill, local, void

__all__ = ["DATE_FROM", "DATE_TO", "fill_more", "local"]


def fill_more(hospital: Hospital, *, seed: int = 7, patients: int = 40) -> dict[str, Any]:
    """tplhelp1.fill plus the rows the analytics templates read; returns named rows."""
    made = fill(hospital, seed=seed, patients=patients)
    with hospital_context(hospital):
        doctor = factories.practitioner(department=made["department"])
        ward = Ward.objects.create(name="Boundary ward")
        room = Room.objects.create(ward=ward, number="B1")
        beds = [Bed.objects.create(room=room, label=f"b{n}") for n in range(5)]
        Bed.objects.create(room=room, label="closed", is_active=False)
        people = [factories.patient() for _ in range(5)]
        # Started before the period and still open: occupies the whole period.
        made["open_before"] = Admission.objects.create(
            patient=people[0], bed=beds[0], admitted_at=local(2024, 8, 20, 14, 0)
        )
        # Overlaps the end of the period: clipped to it.
        Admission.objects.create(
            patient=people[1],
            bed=beds[1],
            admitted_at=local(2025, 2, 26, 8, 0),
            discharged_at=local(2025, 3, 4, 12, 0),
        )
        # Inside the period, then voided.
        voided = Admission.objects.create(
            patient=people[2],
            bed=beds[2],
            admitted_at=local(2024, 10, 1, 8, 0),
            discharged_at=local(2024, 10, 20, 8, 0),
        )
        void(Admission, voided.pk)
        # Entirely before the period.
        Admission.objects.create(
            patient=people[3],
            bed=beds[3],
            admitted_at=local(2024, 7, 1, 8, 0),
            discharged_at=local(2024, 8, 31, 23, 0),
        )

        # Invoices: issued on the boundaries, voided, draft, cancelled. Each is written as the
        # database allows: a draft, its line, then issued (and cancelled) — lines change only
        # on a draft, and an invoice is issued only with a line.
        def invoice(
            number: str, unit_price: str, quantity: str = "1", what: str = "x", **status: Any
        ) -> Invoice:
            made = Invoice.objects.create(number=number, patient=people[4])
            InvoiceLine.objects.create(
                invoice=made,
                description=what,
                quantity=Decimal(quantity),
                unit_price=Decimal(unit_price),
            )
            if status:
                cancel = status.pop("cancelled", False)
                Invoice.objects.filter(pk=made.pk).update(status="issued", **status)
                if cancel:
                    Invoice.objects.filter(pk=made.pk).update(status="cancelled")
            return made

        for n, (at, _inside) in enumerate(BOUNDARIES):
            issued = invoice(f"TPL2-{n}", "10.10", "2.5", "Care", issued_at=at)
            Payment.objects.create(invoice=issued, amount=Decimal("7.35"), paid_at=at)
        voided_invoice = invoice("TPL2-V", "999", issued_at=local(2024, 12, 1, 9))
        voided_payment = Payment.objects.create(
            invoice=voided_invoice, amount=Decimal("5"), paid_at=local(2024, 12, 2)
        )
        void(Payment, voided_payment.pk)  # a payment stands in the way of voiding an invoice
        void(Invoice, voided_invoice.pk)
        invoice("TPL2-D", "555")
        invoice("TPL2-C", "333", issued_at=local(2024, 12, 3), cancelled=True)
        kept = invoice("TPL2-K", "100", issued_at=local(2024, 12, 4))
        gone = Payment.objects.create(
            invoice=kept, amount=Decimal("40"), paid_at=local(2024, 12, 5)
        )
        void(Payment, gone.pk)

        # Audit events on the boundaries, by two actors.
        for n, (at, _inside) in enumerate(BOUNDARIES):
            AuditEvent.objects.create(
                at=at,
                actor_id=900 + n % 2,
                actor_label=f"actor{n % 2}@example.test",
                action="update" if n % 2 else "export",
                object_type="tpl2",
            )

        # A campaign with participations joined on the boundaries; one of another kind.
        campaign = Campaign.objects.create(
            name="Boundary screening",
            kind="screening",
            starts_on=dt.date(2024, 8, 1),
            ends_on=dt.date(2025, 5, 1),
            target=10,
        )
        outcomes = ["completed", "dropped", "completed", "no_response"]
        for n, (at, _inside) in enumerate(BOUNDARIES):
            Participation.objects.create(
                campaign=campaign, patient=people[n], joined_at=at, outcome=outcomes[n]
            )
        made["campaign"] = campaign

        # A dental code (a code outside the ICD-10 list is refused by the database).
        visit = Visit.objects.create(
            patient=people[4], practitioner=doctor, started_at=local(2024, 10, 10, 10)
        )
        Diagnosis.objects.create(visit=visit, code="K02.1", description="Caries")
    return made
