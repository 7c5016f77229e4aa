from __future__ import annotations

from typing import TYPE_CHECKING

from django.apps import AppConfig

if TYPE_CHECKING:
    from hospitium.tenancy.provisioning import NewHospital


class BillingConfig(AppConfig):
    name = "hospitium.billing"
    label = "billing"
    verbose_name = "Billing"

    def setup_new_hospital(self, new: NewHospital) -> None:
        """Provisioning's step in the new hospital's store: the currency it invoices in."""
        from hospitium.billing.services import billing_currency_set

        billing_currency_set(currency=new.currency)
