"""SQLite: the triggers keeping a treatment on or after its visit's start day compute that day
in SQL, from the store's table of the reporting zone's offsets (``core.localdate``), instead of
calling the Python function ``hospitium_local_date`` for every row (it remains the fallback for
moments outside the table's window). Same rule, same names and messages; PostgreSQL unchanged.
"""

import importlib
from typing import Any

from django.db import migrations

from hospitium.core.localdate import sqlite_local_date
from hospitium.core.sql import Guard, vendor_sql

_previous: Any = importlib.import_module("hospitium.encounters.migrations.0002_icd10_codes")
OLD_GUARDS: list[Guard] = [*_previous.TREATMENT_GUARDS, _previous.VISIT_GUARD]

TREATMENT_GUARDS = [
    Guard(
        name=guard.name,
        rule=guard.rule,
        table=guard.table,
        event=guard.event,
        condition=(
            "NEW.voided_at IS NULL AND EXISTS (SELECT 1 FROM encounters_visit v "
            "WHERE v.id = NEW.visit_id AND NEW.performed_on < "
            + sqlite_local_date("v.started_at")
            + ")"
        ),
    )
    for guard in _previous.TREATMENT_GUARDS
]
VISIT_GUARD = Guard(
    name=_previous.VISIT_GUARD.name,
    rule=_previous.VISIT_GUARD.rule,
    table=_previous.VISIT_GUARD.table,
    event=_previous.VISIT_GUARD.event,
    condition=(
        "EXISTS (SELECT 1 FROM encounters_treatment t WHERE t.visit_id = NEW.id "
        "AND t.voided_at IS NULL AND t.performed_on < " + sqlite_local_date("NEW.started_at") + ")"
    ),
)
NEW_GUARDS = [*TREATMENT_GUARDS, VISIT_GUARD]


def _replace(old: list[Guard], new: list[Guard]) -> list[str]:
    return [f"DROP TRIGGER {guard.name}" for guard in old] + [guard.sqlite() for guard in new]


class Migration(migrations.Migration):
    dependencies = [
        ("encounters", "0002_icd10_codes"),
        ("patients", "0005_zone_spans"),
    ]

    operations = [
        vendor_sql(
            sqlite=_replace(OLD_GUARDS, NEW_GUARDS),
            postgresql=[],
            reverse_sqlite=_replace(NEW_GUARDS, OLD_GUARDS),
        )
    ]
