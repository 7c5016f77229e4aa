"""The invoice rules that the services checked alone are the database's too, on both stores: a
write straight through the ORM is refused naming the rule, and when a service's own check is
bypassed, the database's refusal reaches the user as that service's error."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from hospitium.admissions.models import Admission
from hospitium.billing import services
from hospitium.billing.models import Invoice, InvoiceLine, Payment
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
)
from hospitium.encounters.models import Visit
from hospitium.tenancy.context import hospital_context
from tests import factories
from tests.admissions import helpers
from tests.billing import factories as bf
from tests.rulehelp import refused_by_database, same_error_from_the_database

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 24, 10, tzinfo=dt.UTC)


def pay(invoice: Invoice, amount: str = "1.00") -> Payment:
    return Payment.objects.create(invoice=invoice, amount=Decimal(amount), paid_at=NOW)


# --- the visit or admission is the invoiced patient's own ----------------------------------


def test_a_visit_or_admission_of_another_patient_is_refused_straight_through_the_orm(hospital_a):
    with hospital_context(hospital_a):
        mine, theirs = factories.patient(), factories.patient()
        their_visit = bf.visit(theirs)
        their_stay = Admission.objects.create(patient=theirs, bed=helpers.bed(), admitted_at=NOW)
        for link in ({"visit": their_visit}, {"admission": their_stay}):
            refused_by_database(
                "invoice_same_patient",
                lambda link=link: Invoice.objects.create(number="X-1", patient=mine, **link),
            )
        draft = bf.invoice(mine)
        refused_by_database(
            "invoice_same_patient",
            lambda: Invoice.objects.filter(pk=draft.pk).update(visit=their_visit),
        )
        # Seen from the other side: a visit or stay that is invoiced keeps its patient.
        invoiced_visit = bf.visit(mine)
        Invoice.objects.filter(pk=draft.pk).update(visit=invoiced_visit)
        refused_by_database(
            "invoice_same_patient",
            lambda: Visit.objects.filter(pk=invoiced_visit.pk).update(patient=theirs),
        )
        Invoice.objects.filter(pk=draft.pk).update(visit=None, patient=theirs, admission=their_stay)
        refused_by_database(
            "invoice_same_patient",
            lambda: Admission.objects.filter(pk=their_stay.pk).update(patient=mine),
        )


def test_links_refused_by_the_database_reach_the_user_as_the_service_error(hospital_a, monkeypatch):
    with hospital_context(hospital_a):
        mine, theirs = factories.patient(), factories.patient()
        their_visit = bf.visit(theirs)
        skip = [(services, "_check_links")]
        same_error_from_the_database(
            monkeypatch,
            lambda: invoice_create(patient=mine, visit=their_visit),
            skip=skip,
            rule="invoice_same_patient",
        )
        draft = bf.invoice(mine)
        same_error_from_the_database(
            monkeypatch,
            lambda: invoice_update(invoice=draft, visit=their_visit),
            skip=skip,
            rule="invoice_same_patient",
        )
        assert Invoice.objects.get().visit_id is None


# --- lines only on a draft; the status moves forward -----------------------------------------


@pytest.mark.parametrize("status", ["issued", "cancelled"])
def test_lines_of_an_issued_or_cancelled_invoice_cannot_change(hospital_a, status):
    with hospital_context(hospital_a):
        invoice = bf.issued_invoice(lines=[("1", "30.00")])
        if status == "cancelled":
            invoice = invoice_cancel(invoice=invoice)
        line = InvoiceLine.objects.get()
        rule = "invoice_line_only_in_draft"
        refused_by_database(rule, lambda: bf.raw_line(invoice))
        refused_by_database(
            rule,
            lambda: InvoiceLine.objects.filter(pk=line.pk).update(description="Changed"),
        )
        refused_by_database(rule, lambda: InvoiceLine.objects.filter(pk=line.pk).delete())
        draft = bf.invoice(lines=[])
        refused_by_database(
            rule, lambda: InvoiceLine.objects.filter(pk=line.pk).update(invoice=draft)
        )
        assert InvoiceLine.objects.get().description == line.description


def test_an_invoice_status_only_moves_forward(hospital_a):
    with hospital_context(hospital_a):
        issued = bf.issued_invoice()
        refused_by_database(
            "invoice_status_flow",
            lambda: Invoice.objects.filter(pk=issued.pk).update(status="draft", issued_at=None),
        )
        draft = bf.invoice()
        refused_by_database(
            "invoice_status_flow",
            lambda: Invoice.objects.filter(pk=draft.pk).update(status="cancelled", issued_at=NOW),
        )
        cancelled = invoice_cancel(invoice=issued)
        refused_by_database(
            "invoice_status_flow",
            lambda: Invoice.objects.filter(pk=cancelled.pk).update(status="issued"),
        )


def test_line_changes_refused_by_the_database_reach_the_user_as_the_service_error(
    hospital_a, monkeypatch
):
    with hospital_context(hospital_a):
        invoice = bf.issued_invoice(lines=[("1", "30.00")])
        line = InvoiceLine.objects.get()
        skip = [(services, "_require_draft")]
        rule = "invoice_line_only_in_draft"
        same_error_from_the_database(
            monkeypatch,
            lambda: invoice_add_line(invoice=invoice, description="More", unit_price=Decimal("1")),
            skip=skip,
            rule=rule,
        )
        same_error_from_the_database(
            monkeypatch,
            lambda: invoice_update_line(line=line, unit_price=Decimal("2")),
            skip=skip,
            rule=rule,
        )
        same_error_from_the_database(
            monkeypatch, lambda: invoice_remove_line(line=line), skip=skip, rule=rule
        )
        assert InvoiceLine.objects.get().unit_price == Decimal("30.00")


# --- issuing needs a line ------------------------------------------------------------------


def test_an_invoice_without_lines_cannot_be_issued_straight_through_the_orm(hospital_a):
    with hospital_context(hospital_a):
        patient = factories.patient()
        refused_by_database(
            "invoice_issued_has_line",
            lambda: Invoice.objects.create(
                number="X-1", patient=patient, status="issued", issued_at=NOW
            ),
        )
        draft = bf.invoice(patient, lines=[])
        refused_by_database(
            "invoice_issued_has_line",
            lambda: Invoice.objects.filter(pk=draft.pk).update(status="issued", issued_at=NOW),
        )
        assert Invoice.objects.get().status == "draft"


def test_issuing_without_lines_refused_by_the_database_reaches_the_user_as_the_service_error(
    hospital_a, monkeypatch
):
    with hospital_context(hospital_a):
        draft = bf.invoice(lines=[])
        same_error_from_the_database(
            monkeypatch,
            lambda: invoice_issue(invoice=draft),
            skip=[(services, "_refuse_no_lines")],
            rule="invoice_issued_has_line",
        )
        assert Invoice.objects.get().status == "draft"


# --- no cancelling or voiding while payments stand; payments only on issued invoices ---------


def test_cancelling_or_voiding_with_payments_is_refused_straight_through_the_orm(hospital_a):
    with hospital_context(hospital_a):
        invoice = bf.issued_invoice()
        payment = pay(invoice)
        rule = "invoice_not_closed_with_payments"
        refused_by_database(
            rule, lambda: Invoice.objects.filter(pk=invoice.pk).update(status="cancelled")
        )
        refused_by_database(
            rule,
            lambda: Invoice.objects.filter(pk=invoice.pk).update(voided_at=NOW, void_reason="x"),
        )
        # Once the payment is voided, both are allowed.
        Payment.objects.filter(pk=payment.pk).update(voided_at=NOW, void_reason="refund")
        Invoice.objects.filter(pk=invoice.pk).update(status="cancelled")
        assert Invoice.objects.get().status == "cancelled"


@pytest.mark.parametrize("state", ["draft", "cancelled", "voided"])
def test_a_payment_stands_only_on_an_issued_invoice(hospital_a, state):
    with hospital_context(hospital_a):
        invoice = bf.invoice() if state == "draft" else bf.issued_invoice()
        if state == "cancelled":
            invoice_cancel(invoice=invoice)
        if state == "voided":
            invoice_void(invoice=invoice, reason="made in error")
        refused_by_database("payment_on_issued_invoice", lambda: pay(invoice))
        assert Payment.all_objects.count() == 0


def test_unvoiding_a_payment_of_a_cancelled_invoice_is_refused(hospital_a):
    with hospital_context(hospital_a):
        invoice = bf.issued_invoice()
        payment = pay(invoice)
        Payment.objects.filter(pk=payment.pk).update(voided_at=NOW, void_reason="refund")
        invoice_cancel(invoice=invoice)
        refused_by_database(
            "payment_on_issued_invoice",
            lambda: Payment.all_objects.filter(pk=payment.pk).update(
                voided_at=None, void_reason=""
            ),
        )


def test_payment_rules_refused_by_the_database_reach_the_user_as_the_service_errors(
    hospital_a, monkeypatch
):
    with hospital_context(hospital_a):
        invoice = bf.issued_invoice()
        pay(invoice)
        skip = [(services, "_refuse_with_payments")]
        rule = "invoice_not_closed_with_payments"
        same_error_from_the_database(
            monkeypatch, lambda: invoice_cancel(invoice=invoice), skip=skip, rule=rule
        )
        same_error_from_the_database(
            monkeypatch,
            lambda: invoice_void(invoice=invoice, reason="made in error"),
            skip=skip,
            rule=rule,
        )
        draft = bf.invoice()
        same_error_from_the_database(
            monkeypatch,
            lambda: payment_record(invoice=draft, amount=Decimal("1.00")),
            skip=[(services, "_refuse_unpayable")],
            rule="payment_on_issued_invoice",
        )
        assert Invoice.objects.get(pk=invoice.pk).status == "issued"


# --- a line comes to whole cents ----------------------------------------------------------


@pytest.mark.parametrize(
    ("quantity", "unit_price", "whole"),
    [
        ("0.5", "0.01", False),
        ("0.33", "0.33", False),
        ("1.5", "0.99", False),
        ("2.5", "10.10", True),
        ("0.5", "0.02", True),
        ("99999999.99", "9999999999.99", False),
        ("99999999.99", "9999999999.00", True),
        ("3", "0.07", True),
    ],
)
def test_a_line_that_does_not_come_to_whole_cents_is_refused_straight_through_the_orm(
    hospital_a, quantity, unit_price, whole
):
    with hospital_context(hospital_a):
        draft = bf.invoice(lines=[])
        if whole:
            bf.raw_line(draft, quantity, unit_price)
            assert InvoiceLine.objects.count() == 1
            return
        refused_by_database(
            "invoice_line_whole_cents", lambda: bf.raw_line(draft, quantity, unit_price)
        )
        line = bf.raw_line(draft, "1", unit_price)
        refused_by_database(
            "invoice_line_whole_cents",
            lambda: InvoiceLine.objects.filter(pk=line.pk).update(quantity=Decimal(quantity)),
        )


def test_a_line_of_fractional_cents_refused_by_the_database_reaches_the_user_as_the_service_error(
    hospital_a, monkeypatch
):
    with hospital_context(hospital_a):
        draft = bf.invoice(lines=[("1", "0.33")])
        line = InvoiceLine.objects.get()
        skip = [(services, "_check_line_amount")]
        same_error_from_the_database(
            monkeypatch,
            lambda: invoice_add_line(
                invoice=draft,
                description="Half",
                unit_price=Decimal("0.01"),
                quantity=Decimal("0.5"),
            ),
            skip=skip,
            rule="invoice_line_whole_cents",
        )
        same_error_from_the_database(
            monkeypatch,
            lambda: invoice_update_line(line=line, quantity=Decimal("0.33")),
            skip=skip,
            rule="invoice_line_whole_cents",
        )
        assert InvoiceLine.objects.get().quantity == Decimal("1")
