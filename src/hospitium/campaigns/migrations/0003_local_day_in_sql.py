"""SQLite: the triggers keeping a participation within its campaign's days compute the day a
patient joined in SQL, from the store's table of the reporting zone's offsets
(``core.localdate``), instead of calling the Python function ``hospitium_local_date`` for every
row (it remains the fallback for moments outside the table's window). Same rule, same names and
messages; PostgreSQL unchanged.
"""

import importlib
from collections.abc import Callable
from typing import Any

from django.db import migrations

from hospitium.core.localdate import sqlite_local_date
from hospitium.core.sql import Guard, vendor_sql

_previous: Any = importlib.import_module("hospitium.campaigns.migrations.0002_join_within_dates")


def _outside_in_sql(joined: str, starts: str, ends: str) -> str:
    # BETWEEN evaluates the day once; NOT (d BETWEEN s AND e) is (d < s OR d > e), NULL alike.
    return f"NOT ({sqlite_local_date(joined)} BETWEEN {starts} AND {ends})"


def _outside_by_function(joined: str, starts: str, ends: str) -> str:
    return str(_previous.OUTSIDE.format(joined=joined, starts=starts, ends=ends))


def _guards(outside: Callable[[str, str, str], str]) -> list[Guard]:
    return [
        *(
            Guard(
                name=f"participation_within_campaign_{suffix}",
                rule="participation_within_campaign",
                table="campaigns_participation",
                event=event,
                condition=(
                    "EXISTS (SELECT 1 FROM campaigns_campaign c WHERE c.id = NEW.campaign_id AND "
                    + outside("NEW.joined_at", "c.starts_on", "c.ends_on")
                    + ")"
                ),
            )
            for suffix, event in (
                ("insert", "INSERT"),
                ("update", "UPDATE OF joined_at, campaign_id"),
            )
        ),
        Guard(
            name="campaign_dates_keep_participants",
            rule="participation_within_campaign",
            table="campaigns_campaign",
            event="UPDATE OF starts_on, ends_on",
            condition=(
                "EXISTS (SELECT 1 FROM campaigns_participation p WHERE p.campaign_id = NEW.id AND "
                + outside("p.joined_at", "NEW.starts_on", "NEW.ends_on")
                + ")"
            ),
        ),
    ]


OLD_GUARDS = _guards(_outside_by_function)
NEW_GUARDS = _guards(_outside_in_sql)


def _replace(old: list[Guard], new: list[Guard]) -> list[str]:
    return [f"DROP TRIGGER {guard.name}" for guard in old] + [guard.sqlite() for guard in new]


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0002_join_within_dates"),
        ("patients", "0005_zone_spans"),
    ]

    operations = [
        vendor_sql(
            sqlite=_replace(OLD_GUARDS, NEW_GUARDS),
            postgresql=[],
            reverse_sqlite=_replace(NEW_GUARDS, OLD_GUARDS),
        )
    ]
