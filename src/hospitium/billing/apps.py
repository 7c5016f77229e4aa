from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "hospitium.billing"
    label = "billing"
    verbose_name = "Billing"
