"""Money in reports is never added across currencies: the headline figures are in the
hospital's currency and say so; other currencies are shown apart; the fleet keeps each
hospital's currency beside its figures."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from hospitium.billing.models import Invoice
from hospitium.billing.services import billing_currency_set, invoice_issue, payment_record
from hospitium.reports.base import Figure, ReportData, ReportMeta
from hospitium.reports.fleet import merge
from hospitium.reports.templates.comprehensive_analytics import TEMPLATE
from hospitium.tenancy.context import hospital_context
from hospitium.tenancy.models import Hospital
from tests.billing import factories as bf
from tests.reports import tplhelp1 as h

pytestmark = pytest.mark.django_db

IN_PERIOD = dt.datetime(2024, 10, 15, 12, tzinfo=dt.UTC)


def _issued(price: str, currency: str, paid: str) -> None:
    """An invoice issued in the period, in ``currency`` written as older data holds it."""
    draft = bf.invoice(lines=[("1", price)])
    Invoice.objects.filter(pk=draft.pk).update(currency=currency)
    invoice = invoice_issue(invoice=draft)
    Invoice.objects.filter(pk=invoice.pk).update(issued_at=IN_PERIOD)
    payment_record(invoice=invoice, amount=Decimal(paid), paid_at=IN_PERIOD)


def _figure(data: ReportData, key: str) -> Figure:
    return next(f for f in data.figures if f.key == key)


def test_revenue_is_in_the_hospitals_currency_and_other_currencies_are_shown_apart(
    hospital_a: Hospital,
) -> None:
    with hospital_context(hospital_a):
        _issued("100.00", "EUR", "40.00")
        _issued("30.00", "GBP", "30.00")
    data = h.build(TEMPLATE, hospital_a)
    revenue, collections = _figure(data, "revenue"), _figure(data, "collections")
    assert (revenue.value, revenue.unit) == (100.0, "EUR")
    assert (collections.value, collections.unit) == (40.0, "EUR")
    assert _figure(data, "collection_rate").value == 40.0
    assert _figure(data, "payments").value == 2
    assert h.table(data, "money_by_currency") == [
        ["EUR", 100.0, 40.0, 1],
        ["GBP", 30.0, 30.0, 1],
    ]


def test_the_figures_follow_the_hospitals_currency(hospital_a: Hospital) -> None:
    with hospital_context(hospital_a):
        billing_currency_set(currency="GBP")
        _issued("12.00", "GBP", "12.00")
    data = h.build(TEMPLATE, hospital_a)
    assert (_figure(data, "revenue").value, _figure(data, "revenue").unit) == (12.0, "GBP")
    assert h.table(data, "money_by_currency") == [["GBP", 12.0, 12.0, 1]]


def _part(code: str, revenue: float, currency: str) -> tuple[str, ReportData]:
    meta = ReportMeta(
        hospital_code=code,
        hospital_name=code,
        template_key="t",
        title="t",
        period_start=dt.date(2025, 1, 1),
        period_end=dt.date(2025, 1, 31),
        filters={},
        generated_by="tests",
        generated_at=timezone.now(),
    )
    data = ReportData(meta=meta)
    data.figures = [Figure("revenue", "Revenue", revenue, currency), Figure("n", "N", 2, "x")]
    return code, data


def test_the_fleet_keeps_each_hospitals_currency_beside_its_money(hospital_a: Any) -> None:
    meta = _part("FLEET", 0, "")[1].meta
    mixed = merge(meta, [_part("A", 100.0, "EUR"), _part("B", 30.0, "GBP")])
    revenue = _figure(mixed, "revenue")
    assert (revenue.value, revenue.unit) == (None, "")
    assert _figure(mixed, "n").value == 4
    by_hospital = next(t for t in mixed.tables if t.key == "by_hospital")
    assert [list(r) for r in by_hospital.rows] == [["A", "100.0 EUR", 2], ["B", "30.0 GBP", 2]]
    same = merge(meta, [_part("A", 100.0, "EUR"), _part("B", 30.0, "EUR")])
    assert _figure(same, "revenue").unit == "EUR"
    assert [list(r) for r in same.tables[0].rows] == [["A", 100.0, 2], ["B", 30.0, 2]]
