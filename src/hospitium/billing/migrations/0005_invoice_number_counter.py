"""Invoice numbers come from a counter row per calendar year (``INV-2026-000001``…), taken in the
transaction that inserts the invoice, instead of "the highest number so far, plus one", which two
concurrent creations could both pick (on PostgreSQL the loser retried a few times, then failed).

The counters start from the invoices already numbered the yearly way; numbers of the earlier
single series (``INV-000123``) are kept as they are and cannot collide with the yearly ones.
"""

import re
from typing import Any

from django.db import migrations, models

YEARLY = re.compile(r"^INV-(\d{4})-(\d+)$")


def start_counters(apps: Any, schema_editor: Any) -> None:
    alias = schema_editor.connection.alias
    invoice = apps.get_model("billing", "Invoice")
    counter = apps.get_model("billing", "InvoiceNumberCounter")
    last: dict[int, int] = {}
    # Every invoice, voided ones included: their numbers stay taken.
    for number in invoice._base_manager.using(alias).values_list("number", flat=True).iterator():
        found = YEARLY.match(number)
        if found:
            year, seq = int(found.group(1)), int(found.group(2))
            last[year] = max(last.get(year, 0), seq)
    counter.objects.using(alias).bulk_create(
        [counter(year=year, last_number=seq) for year, seq in sorted(last.items())]
    )


class Migration(migrations.Migration):
    dependencies = [("billing", "0004_invoice_rules")]

    operations = [
        migrations.CreateModel(
            name="InvoiceNumberCounter",
            fields=[
                ("year", models.PositiveSmallIntegerField(primary_key=True, serialize=False)),
                ("last_number", models.PositiveIntegerField()),
            ],
            options={
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("year__gte", 1), ("year__lte", 9999)),
                        name="invoice_counter_year_valid",
                    )
                ]
            },
        ),
        migrations.RunPython(start_counters, migrations.RunPython.noop),
    ]
