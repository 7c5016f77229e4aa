"""Invoice numbers: one gap-free series per hospital and calendar year, taken from a counter row
in the creating transaction, so that concurrent creations never fail and never share a number."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.apps import apps
from django.db import connections
from django.utils import timezone

from hospitium.billing.models import Invoice, InvoiceNumberCounter
from hospitium.core.errors import ValidationFailed
from hospitium.tenancy.context import hospital_context
from hospitium.tenancy.router import current_alias
from tests import factories
from tests.billing import factories as bf
from tests.racehelp import run_together

pytestmark = pytest.mark.django_db

CLIENTS = 8
EACH = 10


def _year() -> int:
    return timezone.localdate().year


def test_concurrent_creations_all_succeed_with_consecutive_numbers(hospital_a):
    with hospital_context(hospital_a):
        patients = [factories.patient() for _ in range(CLIENTS)]

    def create(index: int) -> list[str]:
        return [bf.invoice(patients[index]).number for _ in range(EACH)]

    outcomes = run_together(hospital_a, CLIENTS, create)
    failures = [o for o in outcomes if isinstance(o, BaseException)]
    assert failures == []
    numbers = sorted(n for batch in outcomes for n in batch)
    assert numbers == [f"INV-{_year()}-{seq:06d}" for seq in range(1, CLIENTS * EACH + 1)]
    with hospital_context(hospital_a):
        assert InvoiceNumberCounter.objects.get(year=_year()).last_number == CLIENTS * EACH


def test_a_refused_creation_gives_its_number_back(hospital_a):
    with hospital_context(hospital_a):
        first = bf.invoice()
        someone_else = bf.visit()
        with pytest.raises(ValidationFailed):
            bf.invoice(visit=someone_else)  # another patient's visit: refused
        assert bf.invoice().number == f"INV-{_year()}-000002" != first.number


def test_numbering_starts_again_each_year(hospital_a, monkeypatch):
    def at(moment: dt.datetime) -> Invoice:
        monkeypatch.setattr(timezone, "now", lambda: moment)
        return bf.invoice()

    with hospital_context(hospital_a):
        numbers = [
            at(dt.datetime(2031, 12, 31, 9, tzinfo=dt.UTC)).number,
            at(dt.datetime(2031, 12, 31, 10, tzinfo=dt.UTC)).number,
            at(dt.datetime(2032, 1, 1, 9, tzinfo=dt.UTC)).number,
        ]
    assert numbers == ["INV-2031-000001", "INV-2031-000002", "INV-2032-000001"]


def _start_counters() -> None:
    from importlib import import_module

    migration: Any = import_module("hospitium.billing.migrations.0005_invoice_number_counter")

    class Editor:
        connection = connections[current_alias(write=True)]

    migration.start_counters(apps, Editor())


def test_the_migration_starts_each_year_after_the_invoices_already_numbered(
    hospital_a, monkeypatch
):
    with hospital_context(hospital_a):
        patient = factories.patient()
        for number in ("INV-2024-000007", "INV-2024-000003", "INV-2030-000012", "INV-000042"):
            Invoice.objects.create(number=number, patient=patient)
        voided = Invoice.objects.create(number="INV-2030-000013", patient=patient)
        Invoice.objects.filter(pk=voided.pk).update(
            voided_at=timezone.now(), void_reason="entered twice"
        )
        InvoiceNumberCounter.objects.all().delete()
        _start_counters()
        assert dict(InvoiceNumberCounter.objects.values_list("year", "last_number")) == {
            2024: 7,
            2030: 13,
        }
        monkeypatch.setattr(timezone, "now", lambda: dt.datetime(2030, 6, 1, tzinfo=dt.UTC))
        assert bf.invoice(patient).number == "INV-2030-000014"
