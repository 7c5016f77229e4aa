"""Every trigger the migrations create is in a migrated store, and nothing else is.

On SQLite a migration that rebuilds a table (most AlterField operations do) drops the table's
triggers without a word; a rule or the routing generation would then silently stop working.
This compares what the migrations' vendor_sql steps declare (replayed in the order the store
applied them) with the triggers each store has, on the hospital store and the platform store.
"""

from __future__ import annotations

import pytest
from django.apps import apps
from django.db import connections
from django.db.migrations.loader import MigrationLoader

from hospitium.core.constraints import NoOverlap
from hospitium.core.sql import declared_triggers
from hospitium.tenancy.context import hospital_context
from hospitium.tenancy.models import Hospital
from hospitium.tenancy.router import (
    PLATFORM_ALIAS,
    current_alias,
    hospital_app_labels,
    is_hospital_model,
)

pytestmark = pytest.mark.django_db


def _applied(cursor, *, hospital_store: bool) -> list[tuple[str, str]]:
    """The migrations the store recorded, oldest first, of the apps whose tables it holds (the
    platform store also records the hospital apps' migrations, which it skips)."""
    cursor.execute("SELECT app, name FROM django_migrations ORDER BY id")
    return [
        (app, name)
        for app, name in cursor.fetchall()
        if (app in hospital_app_labels()) == hospital_store
    ]


def _no_overlap_triggers(vendor: str, hospital_store: bool) -> set[str]:
    """On SQLite a NoOverlap constraint is two triggers, kept by the model's own constraint
    (re-created when SQLite's schema editor rebuilds the table); on PostgreSQL an exclusion."""
    if vendor != "sqlite":
        return set()
    return {
        f"{constraint.name}_{event}"
        for model in apps.get_models()
        if is_hospital_model(model) == hospital_store
        for constraint in model._meta.constraints
        if isinstance(constraint, NoOverlap)
        for event in ("insert", "update")
    }


def _triggers(cursor, vendor: str) -> set[str]:
    if vendor == "sqlite":
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
    else:
        cursor.execute(
            "SELECT t.tgname FROM pg_catalog.pg_trigger t "
            "JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid "
            "WHERE c.relnamespace = pg_catalog.current_schema()::pg_catalog.regnamespace "
            "AND NOT t.tgisinternal"
        )
    return {row[0] for row in cursor.fetchall()}


@pytest.fixture(scope="module", autouse=True)
def _migrations_loaded(django_db_setup, django_db_blocker) -> None:
    with django_db_blocker.unblock():
        MigrationLoader(None, ignore_no_migrations=True)  # imports every migration module


def test_a_hospital_store_has_exactly_the_triggers_its_migrations_declare(
    hospital_a: Hospital,
) -> None:
    with hospital_context(hospital_a):
        connection = connections[current_alias(write=False)]
        with connection.cursor() as cursor:
            applied = _applied(cursor, hospital_store=True)
            expected = declared_triggers(connection.vendor, applied)
            expected |= _no_overlap_triggers(connection.vendor, hospital_store=True)
            present = _triggers(cursor, connection.vendor)
    assert present - expected == set(), "triggers no migration declares"
    assert expected - present == set(), "declared triggers the store lost"
    assert len(expected) >= 25, "the rule triggers of the clinical apps are declared"


def test_the_platform_store_has_exactly_the_triggers_its_migrations_declare() -> None:
    connection = connections[PLATFORM_ALIAS]
    with connection.cursor() as cursor:
        applied = _applied(cursor, hospital_store=False)
        expected = declared_triggers(connection.vendor, applied)
        expected |= _no_overlap_triggers(connection.vendor, hospital_store=False)
        present = _triggers(cursor, connection.vendor)
    assert {"routing_generation_hospital_update"} <= expected
    assert present == expected


def test_a_trigger_dropped_by_a_table_rebuild_would_be_caught(hospital_a: Hospital) -> None:
    # What a rebuilding migration does to a trigger, done by hand: the comparison must see it.
    with hospital_context(hospital_a):
        connection = connections[current_alias(write=True)]
        with connection.cursor() as cursor:
            expected = declared_triggers(
                connection.vendor, _applied(cursor, hospital_store=True)
            ) | _no_overlap_triggers(connection.vendor, hospital_store=True)
            victim = sorted(expected)[0]
            if connection.vendor == "sqlite":
                cursor.execute(f'DROP TRIGGER "{victim}"')
            else:
                cursor.execute(
                    "SELECT c.relname FROM pg_catalog.pg_trigger t "
                    "JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid "
                    "WHERE t.tgname = %s "
                    "AND c.relnamespace = pg_catalog.current_schema()::pg_catalog.regnamespace",
                    [victim],
                )
                (table,) = cursor.fetchone()
                cursor.execute(f'DROP TRIGGER "{victim}" ON "{table}"')
            assert _triggers(cursor, connection.vendor) == expected - {victim}
