"""A maximum length for a feedback's comment and the hospital's response (4,000 characters).

A TextField's max_length never reaches the database (the column stays ``text``), and forms and
the API validate it with a 400. So this changes the migration state only: on SQLite a plain
AlterField would rebuild the table, and the rebuild drops the triggers the earlier migrations
created by hand.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("feedback", "0002_feedback_after_visit_start"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="feedback",
                    name="comment",
                    field=models.TextField(blank=True, default="", max_length=4000),
                ),
                migrations.AlterField(
                    model_name="feedback",
                    name="response",
                    field=models.TextField(blank=True, default="", max_length=4000),
                ),
            ],
        ),
    ]
