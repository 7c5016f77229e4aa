"""``/billing/``: invoices, lines, issuing, payments and the PDFs (test client, both stores)."""

from __future__ import annotations

import io
from decimal import Decimal

import pypdf
import pytest

from hospitium.accounts.models import Role
from hospitium.billing.models import Invoice, Payment
from hospitium.billing.services import payment_record
from hospitium.tenancy.context import hospital_context
from hospitium.tenancy.models import Hospital
from tests import factories
from tests.billing import factories as billing
from tests.web.helpers import client_for, max_queries, member

pytestmark = pytest.mark.django_db


def test_the_list_filters_by_status_and_names_the_currency(hospital_a: Hospital) -> None:
    with hospital_context(hospital_a):
        draft = billing.invoice()
        issued = billing.issued_invoice()
        currency = draft.currency
    client = client_for(hospital_a, member(hospital_a, Role.BILLING))
    everything = client.get("/billing/").content.decode()
    assert draft.number in everything and issued.number in everything
    assert f"This hospital invoices in {currency}." in everything
    only_issued = client.get("/billing/", {"status": "issued"}).content.decode()
    assert issued.number in only_issued and draft.number not in only_issued


def test_the_list_and_an_invoice_cost_the_same_queries_for_few_or_many(
    hospital_a: Hospital, django_assert_max_num_queries
) -> None:
    client = client_for(hospital_a, member(hospital_a, Role.BILLING))
    with hospital_context(hospital_a):
        bill = billing.issued_invoice(lines=[("1", "10.00")])
    client.get("/billing/")
    for address in ("/billing/", f"/billing/{bill.pk}/"):
        with max_queries(django_assert_max_num_queries, hospital_a, 8):
            assert client.get(address).status_code == 200
    with hospital_context(hospital_a):
        for _ in range(20):
            billing.issued_invoice(lines=[("1", "10.00"), ("2", "5.00")])
        bill = billing.issued_invoice(lines=[("1", "1.00")] * 20)
        for _ in range(5):
            payment_record(invoice=bill, amount=Decimal("1.00"))
    for address in ("/billing/", f"/billing/{bill.pk}/"):
        with max_queries(django_assert_max_num_queries, hospital_a, 8):
            assert client.get(address).status_code == 200


@pytest.mark.parametrize(
    ("role", "read", "create"),
    [
        (Role.ADMIN, 200, 200),
        (Role.BILLING, 200, 200),
        (Role.RECEPTIONIST, 200, 403),
        (Role.DOCTOR, 403, 403),
        (Role.NURSE, 403, 403),
        (Role.ANALYST, 403, 403),
    ],
)
def test_roles_open_the_pages_the_permission_table_gives_them(
    hospital_a: Hospital, role: str, read: int, create: int
) -> None:
    with hospital_context(hospital_a):
        bill = billing.issued_invoice()
    client = client_for(hospital_a, member(hospital_a, role))
    assert client.get("/billing/").status_code == read
    assert client.get(f"/billing/{bill.pk}/").status_code == read
    assert client.get(f"/billing/{bill.pk}/invoice.pdf").status_code == read
    assert client.get("/billing/new/").status_code == create
    nav = client.get("/").content.decode()
    assert ('href="/billing/"' in nav) == (read == 200)


def test_a_receptionist_may_take_a_payment_but_not_add_a_line(hospital_a: Hospital) -> None:
    with hospital_context(hospital_a):
        draft = billing.invoice()
        issued = billing.issued_invoice(lines=[("1", "50.00")])
    client = client_for(hospital_a, member(hospital_a, Role.RECEPTIONIST))
    refused = client.post(
        f"/billing/{draft.pk}/lines/",
        {"description": "X", "quantity": "1", "unit_price": "1.00"},
    )
    assert refused.status_code == 403
    paid = client.post(f"/billing/{issued.pk}/payments/", {"amount": "20.00", "method": "cash"})
    assert paid.status_code == 302


def test_create_add_a_line_issue_then_overpaying_is_refused_and_paying_the_balance_works(
    hospital_a: Hospital,
) -> None:
    with hospital_context(hospital_a):
        patient = factories.patient(given_name="Alan", family_name="Turing")
    client = client_for(hospital_a, member(hospital_a, Role.BILLING))
    found = client.get("/billing/new/", {"q": "Turing"}).content.decode()
    assert f"?patient={patient.pk}" in found
    created = client.post(
        "/billing/new/",
        {
            "patient": str(patient.pk),
            "description": "Consultation",
            "quantity": "1",
            "unit_price": "80.00",
        },
    )
    assert created.status_code == 302
    address = created["Location"]
    line = client.post(
        f"{address}lines/", {"description": "X-ray", "quantity": "2", "unit_price": "10.00"}
    )
    assert line.status_code == 302
    assert client.post(f"{address}issue/").status_code == 302
    over = client.post(f"{address}payments/", {"amount": "150.00", "method": "card"})
    assert over.status_code == 200
    text = over.content.decode()
    assert "is more than the balance of 100.00" in text
    assert 'class="error-summary"' in text
    assert (
        client.post(f"{address}payments/", {"amount": "100.00", "method": "card"}).status_code
        == 302
    )
    with hospital_context(hospital_a):
        invoice = Invoice.objects.get()
        assert invoice.status == Invoice.Status.ISSUED
        assert [p.amount for p in Payment.objects.all()] == [Decimal("100.00")]
    page = client.get(address).content.decode()
    assert "0.00 " + invoice.currency in page
    assert "Record payment" not in page


def test_a_line_the_service_refuses_is_shown_beside_the_field(hospital_a: Hospital) -> None:
    with hospital_context(hospital_a):
        draft = billing.invoice()
    client = client_for(hospital_a, member(hospital_a, Role.BILLING))
    response = client.post(
        f"/billing/{draft.pk}/lines/", {"description": "X", "quantity": "0", "unit_price": "1"}
    )
    assert response.status_code == 200
    assert 'class="error-message"' in response.content.decode()


def test_the_invoice_and_receipt_pdfs_name_the_hospital_and_currency(
    hospital_a: Hospital,
) -> None:
    with hospital_context(hospital_a):
        bill = billing.issued_invoice(lines=[("1", "30.00")])
        payment = payment_record(invoice=bill, amount=Decimal("10.00"))
    client = client_for(hospital_a, member(hospital_a, Role.BILLING))
    for address in (
        f"/billing/{bill.pk}/invoice.pdf",
        f"/billing/payments/{payment.pk}/receipt.pdf",
    ):
        response = client.get(address)
        assert response.status_code == 200
        assert response["Content-Type"] == "application/pdf"
        assert response.content.startswith(b"%PDF")
        text = _pdf_text(response.content)
        assert "Alpha General" in text
        assert bill.number in text
        assert f"20.00 {bill.currency}" in text


def _pdf_text(content: bytes) -> str:
    return " ".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(content)).pages)


def test_another_hospitals_invoice_and_payment_answer_404(
    hospital_a: Hospital, hospital_b: Hospital
) -> None:
    with hospital_context(hospital_b):
        bill = billing.issued_invoice(lines=[("1", "30.00")])
        payment = payment_record(invoice=bill, amount=Decimal("10.00"))
    client = client_for(hospital_a, member(hospital_a, Role.ADMIN))
    for address in (
        f"/billing/{bill.pk}/",
        f"/billing/{bill.pk}/invoice.pdf",
        f"/billing/payments/{payment.pk}/receipt.pdf",
        "/billing/nope/",
    ):
        response = client.get(address)
        assert response.status_code == 404, address
        assert "Page not found" in response.content.decode()
    assert (
        client.post(f"/billing/{bill.pk}/payments/", {"amount": "1", "method": "cash"}).status_code
        == 404
    )
