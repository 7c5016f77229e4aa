"""A maximum length for the address (1,000 characters).

A TextField's max_length never reaches the database (the column stays ``text``), and forms and
the API validate it with a 400. So this changes the migration state only: on SQLite a plain
AlterField would rebuild the table, and the rebuild drops the triggers the earlier migrations
created by hand.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("patients", "0005_zone_spans"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="patient",
                    name="address",
                    field=models.TextField(blank=True, default="", max_length=1000),
                ),
            ],
        ),
    ]
