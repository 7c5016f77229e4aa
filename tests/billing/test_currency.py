"""One currency per hospital: kept in its own store, set by provisioning, the only one its
invoices are accepted in; ISO 4217 codes only; the migration's rule for existing invoices."""

from __future__ import annotations

import importlib
from types import SimpleNamespace
from typing import Any

import pytest
from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command

from hospitium.audit.models import AuditEvent
from hospitium.billing.errors import CurrencyNotAccepted
from hospitium.billing.models import BillingSettings, Invoice
from hospitium.billing.selectors import hospital_currency
from hospitium.billing.services import billing_currency_set, invoice_create, invoice_update
from hospitium.core.currencies import (
    InvalidCurrency,
    currency_names,
    default_currency,
    validate_currency,
)
from hospitium.tenancy.context import hospital_context
from hospitium.tenancy.models import Hospital
from hospitium.tenancy.provisioning import hospital_create
from hospitium.tenancy.router import current_alias
from tests import factories
from tests.billing import factories as bf
from tests.billing.apihelp import ALPHA, as_user, error_of
from tests.conftest import make_user

pytestmark = pytest.mark.django_db

MIGRATION = importlib.import_module("hospitium.billing.migrations.0006_hospital_currency")


def test_only_current_iso_4217_codes_are_currencies() -> None:
    names = currency_names()
    assert {"EUR", "GBP", "USD", "CHF", "JPY", "XCG", "ZWG"} <= set(names)
    assert names["EUR"] == "Euro"
    # Not ISO 4217 (Faker lists some), withdrawn, or not money one invoices in.
    for code in ("XYZ", "GGP", "IMP", "JEP", "TVD", "HRK", "XTS", "XXX", "XAU"):
        with pytest.raises(InvalidCurrency) as caught:
            validate_currency(code)
        assert caught.value.code == "invalid_currency"
        assert caught.value.fields == {"currency": ["Not an ISO 4217 currency code."]}
    assert validate_currency(" gbp ") == "GBP"
    assert all(len(code) == 3 and code.isupper() for code in names)


def test_the_default_currency_setting_must_be_iso_4217(settings: Any) -> None:
    settings.HOSPITIUM_DEFAULT_CURRENCY = "XYZ"
    with pytest.raises(ImproperlyConfigured, match="HOSPITIUM_DEFAULT_CURRENCY"):
        default_currency()
    settings.HOSPITIUM_DEFAULT_CURRENCY = "CHF"
    assert default_currency() == "CHF"


def test_provisioning_sets_the_currency_in_the_hospitals_own_store(settings: Any) -> None:
    settings.HOSPITIUM_DEFAULT_CURRENCY = "CHF"
    pounds = hospital_create(code="POUNDS", name="P", domains=["p.example.test"], currency="gbp")
    plain = hospital_create(code="PLAIN", name="Q", domains=["q.example.test"]).hospital
    with hospital_context(pounds.hospital):
        assert hospital_currency() == "GBP"
        assert BillingSettings.objects.count() == 1
    with hospital_context(plain):
        assert hospital_currency() == "CHF"


def test_provisioning_refuses_a_code_that_is_not_iso_4217_before_creating_anything() -> None:
    with pytest.raises(InvalidCurrency):
        hospital_create(code="BAD", name="B", domains=["b.example.test"], currency="XYZ")
    assert not Hospital.objects.filter(code="BAD").exists()


def test_hospitals_create_takes_a_currency() -> None:
    call_command(
        "hospitals",
        "create",
        "YEN",
        "--name",
        "Y",
        "--domain",
        "y.example.test",
        "--currency",
        "JPY",
    )
    with hospital_context(Hospital.objects.get(code="YEN")):
        assert hospital_currency() == "JPY"


def test_an_invoice_is_in_its_hospitals_currency_and_another_is_refused(
    hospital_a: Hospital, hospital_b: Hospital
) -> None:
    with hospital_context(hospital_b):
        billing_currency_set(currency="GBP")
    with hospital_context(hospital_a):
        assert bf.invoice().currency == "EUR"
        assert bf.invoice(currency="eur").currency == "EUR"
        patient = factories.patient()
        with pytest.raises(CurrencyNotAccepted, match="invoices in EUR; an invoice in GBP") as e:
            invoice_create(patient=patient, currency="GBP")
        assert (e.value.code, e.value.http_status) == ("currency_not_accepted", 422)
        with pytest.raises(InvalidCurrency):
            invoice_create(patient=patient, currency="XYZ")
        assert Invoice.objects.filter(patient=patient).count() == 0
        draft = bf.invoice()
        with pytest.raises(CurrencyNotAccepted):
            invoice_update(invoice=draft, currency="GBP")
        assert Invoice.objects.get(pk=draft.pk).currency == "EUR"
    with hospital_context(hospital_b):
        assert bf.invoice().currency == "GBP"
        with pytest.raises(CurrencyNotAccepted, match="invoices in GBP"):
            bf.invoice(currency="EUR")


def test_the_api_refuses_other_and_unknown_currencies_with_stable_codes(
    api: Any, hospital_a: Hospital
) -> None:
    as_user(api, make_user("billing@alpha.example.test", hospital=hospital_a, role="billing"))
    with hospital_context(hospital_a):
        patient = factories.patient()
    line = {"description": "Consultation", "quantity": "1", "unit_price": "10.00"}

    def post(currency: str) -> Any:
        body = {"patient": str(patient.pk), "currency": currency, "lines": [line]}
        return api.post("/api/invoices/", body, format="json", HTTP_HOST=ALPHA)

    refused = error_of(post("GBP"), 422)
    assert refused["code"] == "currency_not_accepted"
    assert refused["fields"] == {"currency": ["Must be EUR."]}
    unknown = error_of(post("XYZ"), 400)
    assert unknown["code"] == "invalid_currency"
    created = api.post(
        "/api/invoices/",
        {"patient": str(patient.pk), "lines": [line]},
        format="json",
        HTTP_HOST=ALPHA,
    )
    assert created.status_code == 201, created.content
    assert created.json()["currency"] == "EUR"
    with hospital_context(hospital_a):
        assert Invoice.objects.count() == 1


def test_changing_the_currency_is_audited_and_keeps_older_invoices(hospital_a: Hospital) -> None:
    with hospital_context(hospital_a):
        old = bf.invoice()
        billing_currency_set(currency="USD")
        assert Invoice.objects.get(pk=old.pk).currency == "EUR"
        assert bf.invoice().currency == "USD"
        with pytest.raises(InvalidCurrency):
            billing_currency_set(currency="US")
        assert hospital_currency() == "USD"
        events = AuditEvent.objects.filter(object_type="billing-settings").order_by("id")
        assert events.last().detail == {"currency": "USD", "was": "EUR"}  # type: ignore[union-attr]


def _rerun_migration_rule() -> str:
    """Run migration 0006's data step again on the current store; the currency it chose."""
    BillingSettings.objects.all().delete()
    editor = SimpleNamespace(connection=SimpleNamespace(alias=current_alias(write=True)))
    MIGRATION._hospital_currency(apps, editor)
    return hospital_currency()


@pytest.mark.parametrize(
    ("codes", "voided", "expected"),
    [
        ([], None, "CHF"),  # no invoices: the default
        (["GBP", "GBP"], None, "GBP"),  # all agree
        (["GBP", "USD"], None, "CHF"),  # they disagree: the default
        (["GBP", "GBP"], "USD", "GBP"),  # a voided invoice does not count
        (["XYZ"], None, "CHF"),  # not ISO 4217: the default
    ],
)
def test_the_migration_takes_the_currency_all_existing_invoices_agree_on(
    hospital_a: Hospital,
    settings: Any,
    codes: list[str],
    voided: str | None,
    expected: str,
) -> None:
    settings.HOSPITIUM_DEFAULT_CURRENCY = "CHF"
    with hospital_context(hospital_a):
        for code in codes:
            Invoice.objects.filter(pk=bf.invoice().pk).update(currency=code)
        if voided is not None:
            gone = bf.invoice()
            Invoice.objects.filter(pk=gone.pk).update(
                currency=voided, voided_at=gone.created_at, void_reason="error"
            )
        assert _rerun_migration_rule() == expected
        # Invoices keep their own currency whatever the hospital's becomes.
        assert sorted(Invoice.objects.values_list("currency", flat=True)) == sorted(codes)
