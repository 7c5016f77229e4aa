"""The order of status changes is the database's too: booked → arrived → fulfilled; booked or
arrived → cancelled; booked → no-show; fulfilled, cancelled and no-show are final
(scheduling.services.TRANSITIONS). A new row may carry any status (history being imported).

And the no-overlap check becomes one index seek on SQLite: an index on (practitioner, ends_at)
and the triggers rewritten to use it (core.constraints.NoOverlap).
"""

from django.db import migrations, models

from hospitium.core.constraints import rebuild_sqlite_triggers
from hospitium.core.sql import Guard, guards

ALLOWED = (
    "(OLD.status = 'booked' AND NEW.status IN ('arrived', 'cancelled', 'noshow')) "
    "OR (OLD.status = 'arrived' AND NEW.status IN ('fulfilled', 'cancelled'))"
)


class Migration(migrations.Migration):
    dependencies = [
        ("scheduling", "0001_initial"),
        ("patients", "0003_local_date_function"),
    ]

    operations = [
        guards(
            Guard(
                name="appointment_status_flow",
                rule="appointment_status_flow",
                table="scheduling_appointment",
                event="UPDATE OF status",
                condition=f"NEW.status <> OLD.status AND NOT ({ALLOWED})",
            )
        ),
        migrations.AddIndex(
            model_name="appointment",
            index=models.Index(fields=["practitioner", "ends_at"], name="appt_practitioner_end"),
        ),
        rebuild_sqlite_triggers("scheduling", "appointment"),
    ]
