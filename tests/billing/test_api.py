"""Invoices and payments over HTTP: the error envelope, exact decimals, isolation between
hospitals, the role matrix and audit events."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from hospitium.accounts.roles import MATRIX
from hospitium.audit.models import AuditEvent
from hospitium.billing.models import Invoice, Payment
from hospitium.billing.services import payment_record
from hospitium.tenancy.context import hospital_context
from tests import factories
from tests.billing import factories as bf
from tests.billing.apihelp import ALPHA, BRAVO, ROLES, as_user, error_of, results
from tests.conftest import make_user
from tests.racehelp import run_together

pytestmark = pytest.mark.django_db


@pytest.fixture
def billing_a(hospital_a):
    return make_user("billing@alpha.example.test", hospital=hospital_a, role="billing")


@pytest.fixture
def patient_a(hospital_a):
    with hospital_context(hospital_a):
        return factories.patient()


def new_invoice(api, patient, lines=None) -> dict[str, Any]:
    body = {
        "patient": str(patient.pk),
        "lines": lines
        if lines is not None
        else [{"description": "Consultation", "quantity": "2", "unit_price": "12.50"}],
    }
    response = api.post("/api/invoices/", body, format="json", HTTP_HOST=ALPHA)
    assert response.status_code == 201, response.content
    return response.json()


def test_an_invoice_round_trips_decimals_exactly(api, billing_a, patient_a):
    as_user(api, billing_a)
    created = new_invoice(
        api,
        patient_a,
        [
            {"description": "A", "quantity": "2", "unit_price": "12.50"},
            {"description": "B", "quantity": "1", "unit_price": "0.10"},
            {"description": "C", "quantity": "1", "unit_price": "0.20"},
        ],
    )
    assert created["number"] == f"INV-{timezone.localdate().year}-000001"
    assert (created["total"], created["paid"], created["balance"]) == ("25.30", "0.00", "25.30")
    assert [line["unit_price"] for line in created["lines"]] == ["12.50", "0.10", "0.20"]
    assert created["lines"][0]["amount"] == "25.00"
    url = f"/api/invoices/{created['id']}/"
    issued = api.post(f"{url}issue/", HTTP_HOST=ALPHA).json()
    assert issued["status"] == "issued" and issued["issued_at"]
    paid = api.post(
        "/api/payments/",
        {"invoice": created["id"], "amount": "12.65", "method": "cash"},
        format="json",
        HTTP_HOST=ALPHA,
    )
    assert paid.status_code == 201, paid.content
    assert paid.json()["amount"] == "12.65"
    again = api.get(url, HTTP_HOST=ALPHA).json()
    assert (again["total"], again["paid"], again["balance"]) == ("25.30", "12.65", "12.65")


@pytest.mark.django_db(transaction=True)  # the clients' threads see the committed platform rows
def test_eight_clients_paying_one_invoice_at_once_never_overpay_it(api, billing_a, patient_a):
    as_user(api, billing_a)
    created = new_invoice(
        api, patient_a, [{"description": "Stay", "quantity": "1", "unit_price": "100.00"}]
    )
    assert api.post(f"/api/invoices/{created['id']}/issue/", HTTP_HOST=ALPHA).status_code == 200
    clients = [as_user(type(api)(), billing_a) for _ in range(8)]

    def pay(index: int) -> tuple[int, str]:
        answer = clients[index].post(
            "/api/payments/",
            {"invoice": created["id"], "amount": "30.00", "method": "card"},
            format="json",
            HTTP_HOST=ALPHA,
        )
        return answer.status_code, answer.json().get("error", {}).get("code", "")

    outcomes = run_together(None, 8, pay)
    # 3 × 30 fit in 100; each later one is more than the 10.00 left.
    assert sorted(outcomes) == [(201, "")] * 3 + [(422, "business_rule")] * 5
    after = api.get(f"/api/invoices/{created['id']}/", HTTP_HOST=ALPHA).json()
    assert (after["paid"], after["balance"]) == ("90.00", "10.00")


def test_an_overpayment_answers_with_the_envelope_naming_the_balance(api, billing_a, patient_a):
    as_user(api, billing_a)
    created = new_invoice(api, patient_a)
    api.post(f"/api/invoices/{created['id']}/issue/", HTTP_HOST=ALPHA)
    response = api.post(
        "/api/payments/",
        {"invoice": created["id"], "amount": "25.01"},
        format="json",
        HTTP_HOST=ALPHA,
    )
    error = error_of(response, 422)
    assert error["code"] == "business_rule" and error["category"] == "business_rule"
    assert "balance of 25.00 EUR" in error["message"]
    assert error["fields"] == {"amount": ["At most the balance, 25.00."]}
    zero = error_of(
        api.post(
            "/api/payments/",
            {"invoice": created["id"], "amount": "0.00"},
            format="json",
            HTTP_HOST=ALPHA,
        ),
        400,
    )
    assert zero["code"] == "validation_error" and "amount" in zero["fields"]
    with hospital_context("ALPHA"):
        assert Payment.all_objects.count() == 0


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ({"quantity": "0", "unit_price": "1.00"}, "lines.0.quantity"),
        ({"quantity": "1", "unit_price": "-1.00"}, "lines.0.unit_price"),
    ],
)
def test_bad_lines_answer_400_and_write_nothing(api, billing_a, patient_a, line, field):
    as_user(api, billing_a)
    body = {"patient": str(patient_a.pk), "lines": [{"description": "X", **line}]}
    error = error_of(api.post("/api/invoices/", body, format="json", HTTP_HOST=ALPHA), 400)
    assert error["category"] == "validation" and field in error["fields"]
    with hospital_context("ALPHA"):
        assert Invoice.all_objects.count() == 0


def test_lines_are_added_changed_and_removed_only_while_draft(api, billing_a, patient_a):
    as_user(api, billing_a)
    created = new_invoice(api, patient_a)
    url = f"/api/invoices/{created['id']}/"
    added = api.post(
        f"{url}lines/",
        {"description": "X-ray", "quantity": "1", "unit_price": "40.00"},
        format="json",
        HTTP_HOST=ALPHA,
    )
    assert added.status_code == 201 and added.json()["total"] == "65.00"
    line_id = added.json()["lines"][1]["id"]
    changed = api.patch(
        f"{url}lines/{line_id}/", {"unit_price": "30.00"}, format="json", HTTP_HOST=ALPHA
    )
    assert changed.status_code == 200 and changed.json()["total"] == "55.00"
    bad = api.patch(f"{url}lines/{line_id}/", {"quantity": "0"}, format="json", HTTP_HOST=ALPHA)
    assert error_of(bad, 400)["fields"] == {"quantity": ["The quantity must be more than 0."]}
    removed = api.delete(f"{url}lines/{line_id}/", HTTP_HOST=ALPHA)
    assert removed.status_code == 200 and removed.json()["total"] == "25.00"
    api.post(f"{url}issue/", HTTP_HOST=ALPHA)
    late = api.post(
        f"{url}lines/",
        {"description": "Late", "unit_price": "1.00"},
        format="json",
        HTTP_HOST=ALPHA,
    )
    assert "only a draft" in error_of(late, 422)["message"]


def test_issue_cancel_and_void_actions(api, billing_a, patient_a):
    as_user(api, billing_a)
    empty = new_invoice(api, patient_a, lines=[])
    error = error_of(api.post(f"/api/invoices/{empty['id']}/issue/", HTTP_HOST=ALPHA), 422)
    assert "no lines" in error["message"]
    created = new_invoice(api, patient_a)
    url = f"/api/invoices/{created['id']}/"
    api.post(f"{url}issue/", HTTP_HOST=ALPHA)
    payment = api.post(
        "/api/payments/", {"invoice": created["id"], "amount": "5"}, format="json", HTTP_HOST=ALPHA
    ).json()
    blocked = error_of(api.post(f"{url}cancel/", HTTP_HOST=ALPHA), 422)
    assert "void them before cancelling" in blocked["message"]
    no_reason = api.post(f"/api/payments/{payment['id']}/void/", {}, format="json", HTTP_HOST=ALPHA)
    assert error_of(no_reason, 400)["fields"] == {"reason": ["A reason is required."]}
    voided = api.post(
        f"/api/payments/{payment['id']}/void/", {"reason": "refund"}, format="json", HTTP_HOST=ALPHA
    )
    assert voided.status_code == 200 and voided.json()["voided_at"]
    cancelled = api.post(f"{url}cancel/", {"reason": "duplicate"}, format="json", HTTP_HOST=ALPHA)
    assert cancelled.json()["status"] == "cancelled"
    draft_void = api.post(
        f"/api/invoices/{empty['id']}/void/", {"reason": "typo"}, format="json", HTTP_HOST=ALPHA
    )
    assert draft_void.status_code == 200
    assert error_of(api.get(f"/api/invoices/{empty['id']}/", HTTP_HOST=ALPHA), 404)
    assert error_of(api.delete(url, HTTP_HOST=ALPHA), 422)["code"] == "business_rule"


def test_invoices_filter_by_patient_status_and_issue_date(api, billing_a, hospital_a):
    import datetime as dt

    from hospitium.billing.services import invoice_issue

    with hospital_context(hospital_a):
        alice, bob = factories.patient(), factories.patient()
        old = invoice_issue(
            invoice=bf.invoice(alice), issued_at=dt.datetime(2026, 1, 10, 12, tzinfo=dt.UTC)
        )
        new = invoice_issue(
            invoice=bf.invoice(alice), issued_at=dt.datetime(2026, 3, 10, 12, tzinfo=dt.UTC)
        )
        draft = bf.invoice(bob)
    as_user(api, billing_a)

    def numbers(query: str) -> set[str]:
        return {
            row["number"] for row in results(api.get(f"/api/invoices/?{query}", HTTP_HOST=ALPHA))
        }

    assert numbers(f"patient={alice.pk}") == {old.number, new.number}
    assert numbers("status=draft") == {draft.number}
    assert numbers("issued_from=2026-02-01") == {new.number}
    assert numbers("issued_from=2026-01-01&issued_to=2026-01-31") == {old.number}


def test_reads_and_writes_leave_audit_events(api, billing_a, patient_a):
    as_user(api, billing_a)
    created = new_invoice(api, patient_a)
    api.get("/api/invoices/", HTTP_HOST=ALPHA)
    api.get(f"/api/invoices/{created['id']}/", HTTP_HOST=ALPHA)
    with hospital_context("ALPHA"):
        events = AuditEvent.objects.filter(object_type="invoices")
        assert set(events.values_list("action", flat=True)) == {"create", "list", "read"}
        read = events.get(action="read")
        assert read.object_id == created["id"] and read.actor_id == billing_a.pk


# --- isolation between hospitals -------------------------------------------------------------


@pytest.fixture
def alpha_billing_rows(hospital_a):
    with hospital_context(hospital_a):
        invoice = bf.issued_invoice()
        payment = payment_record(invoice=invoice, amount=Decimal("10"))
    return invoice, payment


def test_a_user_of_bravo_cannot_reach_alphas_billing(api, alpha_billing_rows, hospital_b):
    invoice, payment = alpha_billing_rows
    bravo_admin = make_user("admin@bravo.example.test", hospital=hospital_b, role="admin")
    as_user(api, bravo_admin)
    # Through BRAVO's own host: ALPHA's rows do not exist there.
    assert results(api.get("/api/invoices/", HTTP_HOST=BRAVO)) == []
    assert results(api.get("/api/payments/", HTTP_HOST=BRAVO)) == []
    for method, path, body in [
        ("get", f"/api/invoices/{invoice.pk}/", None),
        ("patch", f"/api/invoices/{invoice.pk}/", {"currency": "USD"}),
        ("post", f"/api/invoices/{invoice.pk}/lines/", {"description": "x", "unit_price": "1"}),
        ("post", f"/api/invoices/{invoice.pk}/issue/", {}),
        ("post", f"/api/invoices/{invoice.pk}/cancel/", {}),
        ("post", f"/api/invoices/{invoice.pk}/void/", {"reason": "x"}),
        ("get", f"/api/payments/{payment.pk}/", None),
        ("post", f"/api/payments/{payment.pk}/void/", {"reason": "x"}),
    ]:
        for host in (BRAVO, ALPHA):  # own hospital: no such row; ALPHA: not a member
            response = getattr(api, method)(path, body, format="json", HTTP_HOST=host)
            assert error_of(response, 404)["code"] == "not_found", (method, path, host)
    paying = api.post(
        "/api/payments/",
        {"invoice": str(invoice.pk), "amount": "1"},
        format="json",
        HTTP_HOST=BRAVO,
    )
    assert error_of(paying, 400)["fields"]["invoice"]
    with hospital_context("ALPHA"):
        assert Payment.objects.count() == 1
        assert Invoice.objects.get().status == "issued"


# --- the role matrix --------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_invoices_follow_the_role_matrix(api, hospital_a, patient_a, role):
    user = make_user(f"{role}@alpha.example.test", hospital=hospital_a, role=role)
    as_user(api, user)
    can_read = role in MATRIX["invoices"]["read"]
    can_write = role in MATRIX["invoices"]["write"]
    listing = api.get("/api/invoices/", HTTP_HOST=ALPHA)
    if can_read:
        assert listing.status_code == 200
    else:
        assert error_of(listing, 403)["code"] == "role_forbidden"
    body = {"patient": str(patient_a.pk), "lines": [{"description": "X", "unit_price": "1.00"}]}
    created = api.post("/api/invoices/", body, format="json", HTTP_HOST=ALPHA)
    if can_write:
        assert created.status_code == 201
    else:
        assert error_of(created, 403)["code"] == "role_forbidden"
        with hospital_context("ALPHA"):
            assert Invoice.all_objects.count() == 0


@pytest.mark.parametrize("role", ROLES)
def test_payments_follow_the_role_matrix(api, hospital_a, role):
    with hospital_context(hospital_a):
        invoice = bf.issued_invoice()
    user = make_user(f"{role}@alpha.example.test", hospital=hospital_a, role=role)
    as_user(api, user)
    listing = api.get("/api/payments/", HTTP_HOST=ALPHA)
    if role in MATRIX["payments"]["read"]:
        assert listing.status_code == 200
    else:
        assert error_of(listing, 403)["code"] == "role_forbidden"
    paid = api.post(
        "/api/payments/",
        {"invoice": str(invoice.pk), "amount": "1.50"},
        format="json",
        HTTP_HOST=ALPHA,
    )
    if role in MATRIX["payments"]["write"]:
        assert paid.status_code == 201 and paid.json()["amount"] == "1.50"
    else:
        assert error_of(paid, 403)["code"] == "role_forbidden"
        with hospital_context("ALPHA"):
            assert Payment.all_objects.count() == 0


def test_a_visit_of_another_patient_or_a_line_of_fractional_cents_answers_400(
    api, billing_a, patient_a
):
    as_user(api, billing_a)
    with hospital_context("ALPHA"):
        their_visit = bf.visit(factories.patient())
    body = {"patient": str(patient_a.pk), "visit": str(their_visit.pk), "lines": []}
    error = error_of(api.post("/api/invoices/", body, format="json", HTTP_HOST=ALPHA), 400)
    assert error["fields"] == {"visit": ["This visit is of another patient."]}
    half_cent = {"description": "Half", "quantity": "0.5", "unit_price": "0.01"}
    body = {"patient": str(patient_a.pk), "lines": [half_cent]}
    error = error_of(api.post("/api/invoices/", body, format="json", HTTP_HOST=ALPHA), 400)
    assert error["message"] == "0.50 × 0.01 does not come to whole cents."
    with hospital_context("ALPHA"):
        assert Invoice.all_objects.count() == 0
