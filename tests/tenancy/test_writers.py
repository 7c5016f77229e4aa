"""Twenty clients writing to one hospital at once, through the API: every write succeeds and no
"database is locked" (nor any 5xx) reaches one of them. On SQLite all of them queue on the
store's one write lock (BEGIN IMMEDIATE, busy timeout), which is the case this proves."""

from __future__ import annotations

import time
from typing import Any

import pytest
from rest_framework.test import APIClient

from hospitium.billing.models import Invoice
from hospitium.patients.models import Patient
from hospitium.tenancy.context import hospital_context
from tests.conftest import make_user
from tests.racehelp import run_together

WRITERS = 20
EACH = 2
ALPHA = "alpha.example.test"


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)  # the clients' threads see the committed platform rows
def test_twenty_writers_on_one_hospital_all_succeed(hospital_a):
    admin = make_user("admin@alpha.example.test", hospital=hospital_a, role="admin")
    clients = []
    for _ in range(WRITERS):
        client = APIClient()
        client.force_login(admin)
        clients.append(client)
    slowest: list[float] = []

    def write(index: int) -> list[tuple[int, str]]:
        api = clients[index]
        answers = []
        for n in range(EACH):
            began = time.monotonic()
            patient = api.post(
                "/api/patients/",
                {
                    "mrn": f"W{index:02d}-{n}",
                    "given_name": "Writer",
                    "family_name": f"W{index}",
                    "birth_date": "1990-01-01",
                },
                format="json",
                HTTP_HOST=ALPHA,
            )
            answers.append((patient.status_code, patient.content.decode()[:300]))
            if patient.status_code == 201:
                invoice = api.post(
                    "/api/invoices/",
                    {
                        "patient": patient.json()["id"],
                        "lines": [{"description": "Visit", "quantity": "1", "unit_price": "10"}],
                    },
                    format="json",
                    HTTP_HOST=ALPHA,
                )
                answers.append((invoice.status_code, invoice.content.decode()[:300]))
            slowest.append(time.monotonic() - began)
        return answers

    outcomes = run_together(None, WRITERS, write)
    failures = [o for o in outcomes if isinstance(o, BaseException)]
    assert failures == []
    answers: list[Any] = [a for batch in outcomes for a in batch]
    refused = [a for a in answers if a[0] != 201]
    assert refused == []
    assert not any("locked" in body for _status, body in answers)
    assert len(answers) == WRITERS * EACH * 2
    with hospital_context(hospital_a):
        assert Patient.objects.count() == Invoice.objects.count() == WRITERS * EACH
    pairs = sorted(slowest)
    print(
        f"{len(answers)} writes by {WRITERS} clients; a patient and its invoice took "
        f"{pairs[len(pairs) // 2]:.2f} s (median), {pairs[-1]:.2f} s (slowest)"
    )
