"""Each hospital bills in one currency, kept in its own store (``BillingSettings``).

The currency of a hospital that already has invoices is the one all its invoices that are not
voided share, when they share one and it is a current ISO 4217 code. Otherwise (no invoices,
invoices in several currencies, or a code that is not ISO 4217) it is HOSPITIUM_DEFAULT_CURRENCY;
invoices in another currency keep it, and reports show them apart, never added to the others.
"""

from typing import Any

import django.db.models.functions.text
import django.db.models.lookups
from django.db import migrations, models

import hospitium.core.ids
from hospitium.core.currencies import default_currency, is_currency


def _hospital_currency(apps: Any, schema_editor: Any) -> None:
    alias = schema_editor.connection.alias
    invoice = apps.get_model("billing", "Invoice")
    settings = apps.get_model("billing", "BillingSettings")
    codes = list(
        invoice.objects.using(alias)
        .filter(voided_at__isnull=True)
        .order_by()
        .values_list("currency", flat=True)
        .distinct()[:2]
    )
    currency = codes[0] if len(codes) == 1 and is_currency(codes[0]) else default_currency()
    settings.objects.using(alias).create(singleton=1, currency=currency)


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0005_invoice_number_counter"),
    ]

    operations = [
        migrations.CreateModel(
            name="BillingSettings",
            fields=[
                (
                    "id",
                    models.UUIDField(
                        default=hospitium.core.ids.new_id,
                        editable=False,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                ("singleton", models.PositiveSmallIntegerField(default=1, unique=True)),
                ("currency", models.CharField(max_length=3)),
            ],
            options={
                "verbose_name_plural": "billing settings",
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("singleton", 1)), name="billing_settings_singleton"
                    ),
                    models.CheckConstraint(
                        condition=models.Q(
                            django.db.models.lookups.Exact(
                                django.db.models.functions.text.Length("currency"), 3
                            ),
                            ("currency", django.db.models.functions.text.Upper("currency")),
                        ),
                        name="billing_settings_currency_shape",
                    ),
                ],
            },
        ),
        migrations.RunPython(_hospital_currency, migrations.RunPython.noop),
    ]
